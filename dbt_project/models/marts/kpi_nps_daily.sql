with

nps_answers as (

    select
        (occurred_at at time zone 'UTC')::date  as answer_date,
        channel,
        score
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'nps_survey'

),

counted as (

    select
        answer_date                                     as date,
        channel,
        count(*)                                        as responses,
        count(*) filter (where score >= 9)              as promoters,
        count(*) filter (where score between 7 and 8)   as passives,
        count(*) filter (where score <= 6)              as detractors
    from nps_answers
    group by 1, 2

)

select
    date,
    channel,
    responses::integer  as responses,
    promoters::integer  as promoters,
    passives::integer   as passives,
    detractors::integer as detractors,
    round(100.0 * (promoters - detractors) / responses, 2)::numeric(6, 2) as nps
from counted
