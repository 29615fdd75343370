{#- The closed loop per day the feedback was given and reason: alerts raised, followed up,
    closed, closed within their follow-up SLA, and the median time to close, in business and
    calendar minutes, over the alerts closed so far.

    A table rebuilt each night from cx_alerts: an alert raised weeks ago closes today and moves
    its day's figures, so every day may change, and days × reasons stay a few thousand rows.
    Counts re-aggregate to any period; medians do not (compute them from cx_alerts). -#}
{{ config(materialized='table') }}

with

alerts as (
    select * from {{ ref('cx_alerts') }}
)

select
    (raised_at at time zone 'UTC')::date                                            as date,
    reason::text                                                                    as reason,
    count(*)::integer                                                               as alerts_raised,
    count(*) filter (where followup_state = 'created')::integer                     as followups_created,
    count(*) filter (where not is_open)::integer                                    as alerts_closed,
    count(*) filter (where is_closed_within_sla)::integer                           as closed_within_sla,
    (percentile_cont(0.5) within group (order by time_to_close_business_minutes))::numeric(10, 1)
                                                                                    as median_time_to_close_business_minutes,
    (percentile_cont(0.5) within group (order by time_to_close_minutes))::numeric(10, 1)
                                                                                    as median_time_to_close_minutes
from alerts
group by 1, 2
