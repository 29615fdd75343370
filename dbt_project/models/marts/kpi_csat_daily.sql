with

ratings as (

    select
        (occurred_at at time zone 'UTC')::date  as rating_date,
        source,
        channel,
        -- Top two boxes of 1–5; for Zendesk's good/bad, good.
        sentiment = 'positive'                  as is_satisfied
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type in ('csat_survey', 'support_rating')

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
    round(100.0 * satisfied / ratings, 2)::numeric(5, 2) as csat_pct
from counted
