{%- set types = "'csat_survey', 'support_rating'" -%}
{{ daily_kpi_config(types) }}

with

ratings as (

    select
        (touchpoints.occurred_at at time zone 'UTC')::date  as rating_date,
        touchpoints.source,
        touchpoints.channel,
        -- Top two boxes of 1–5; for Zendesk's good/bad, good (score_scales seed).
        touchpoints.sentiment = 'positive'                  as is_satisfied
    from {{ ref('fct_touchpoints') }} as touchpoints
    {{ on_touched_days(types) }}
    where touchpoints.touchpoint_type in ('csat_survey', 'support_rating')

),

counted as (

    select
        rating_date                             as date,
        source,
        channel,
        count(*)                                as ratings,
        count(*) filter (where is_satisfied)    as satisfied
    from ratings
    group by 1, 2, 3

)

select
    date,
    source,
    channel,
    ratings::integer    as ratings,
    satisfied::integer  as satisfied,
    {{ csat_pct('satisfied', 'ratings') }}::numeric(5, 2) as csat_pct
from counted
