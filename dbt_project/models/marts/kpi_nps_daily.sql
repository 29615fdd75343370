with

nps_answers as (

    select
        (submitted_at at time zone 'UTC')::date as response_date,
        'survey'                                 as channel,
        nps_score
    from {{ ref('stg_typeform__responses') }}
    where nps_score is not null

),

counted as (

    select
        response_date                                   as date,
        channel,
        count(*)                                        as responses,
        count(*) filter (where nps_score >= 9)          as promoters,
        count(*) filter (where nps_score between 7 and 8) as passives,
        count(*) filter (where nps_score <= 6)          as detractors
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
