-- Every NPS touchpoint is counted in kpi_nps_daily exactly once, per day and channel.
with touchpoints as (
    select (occurred_at at time zone 'UTC')::date as date, channel, count(*) as answers
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'nps_survey'
    group by 1, 2
)
select *
from touchpoints
full outer join {{ ref('kpi_nps_daily') }} as kpi using (date, channel)
where touchpoints.answers is distinct from kpi.responses
   or kpi.promoters + kpi.passives + kpi.detractors <> kpi.responses
