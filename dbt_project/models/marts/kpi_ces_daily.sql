with

answers as (

    select
        (occurred_at at time zone 'UTC')::date  as answer_date,
        channel,
        score
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'ces_survey'

),

counted as (

    select
        answer_date                             as date,
        channel,
        count(*)                                as responses,
        sum(score)                              as effort_total,
        -- 7 is "very easy": 5–7 is low effort.
        count(*) filter (where score >= 5)      as low_effort
    from answers
    group by 1, 2

)

select
    date,
    channel,
    responses::integer                                      as responses,
    effort_total::integer                                   as effort_total,
    low_effort::integer                                     as low_effort,
    round(effort_total / responses, 2)::numeric(4, 2)       as avg_effort,
    round(100.0 * low_effort / responses, 2)::numeric(5, 2) as low_effort_pct
from counted
