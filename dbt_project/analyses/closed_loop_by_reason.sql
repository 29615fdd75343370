-- The closed loop over all data, per alert reason: alerts raised, follow-ups created, closed,
-- closed within their follow-up SLA (counts re-aggregated from kpi_closed_loop_daily), and the
-- median business minutes to close, taken from the alerts (daily medians do not combine).
with

counted as (
    select
        reason,
        sum(alerts_raised) as raised,
        sum(followups_created) as followed_up,
        sum(alerts_closed) as closed,
        sum(closed_within_sla) as within_sla
    from {{ ref('kpi_closed_loop_daily') }}
    group by reason
),

medians as (
    select
        reason,
        percentile_cont(0.5) within group (order by time_to_close_business_minutes) as median_business_minutes
    from {{ ref('cx_alerts') }}
    where not is_open
    group by reason
)

select
    counted.reason,
    counted.raised,
    counted.followed_up,
    counted.closed,
    counted.within_sla,
    medians.median_business_minutes
from counted
left join medians on medians.reason = counted.reason
order by counted.raised desc, counted.reason
