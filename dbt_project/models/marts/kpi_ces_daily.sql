{%- set types = "'ces_survey'" -%}
{{ daily_kpi_config(types) }}

with

answers as (

    select
        (touchpoints.occurred_at at time zone 'UTC')::date  as answer_date,
        touchpoints.channel,
        touchpoints.score,
        -- 7 is "very easy": low effort is the scale's positive band (score_scales seed).
        touchpoints.sentiment = 'positive'                  as is_low_effort
    from {{ ref('fct_touchpoints') }} as touchpoints
    {{ on_touched_days(types) }}
    where touchpoints.touchpoint_type = 'ces_survey'

),

counted as (

    select
        answer_date                             as date,
        channel,
        count(*)                                as responses,
        sum(score)                              as effort_total,
        count(*) filter (where is_low_effort)   as low_effort
    from answers
    group by 1, 2

)

select
    date,
    channel,
    responses::integer                                      as responses,
    effort_total::integer                                   as effort_total,
    low_effort::integer                                     as low_effort,
    {{ avg_effort('effort_total', 'responses') }}::numeric(4, 2) as avg_effort,
    round(100.0 * low_effort / responses, 2)::numeric(5, 2) as low_effort_pct
from counted
