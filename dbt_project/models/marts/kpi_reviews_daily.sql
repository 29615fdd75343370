with

reviews as (

    select
        (occurred_at at time zone 'UTC')::date  as review_date,
        source                                  as platform,
        coalesce(language, 'und')               as language,
        score                                   as stars
    from {{ ref('fct_touchpoints') }}
    where touchpoint_type = 'review'

),

counted as (

    select
        review_date                             as date,
        platform,
        language,
        count(*)                                as reviews,
        sum(stars)                              as stars_total,
        count(*) filter (where stars <= 2)      as negative_reviews
    from reviews
    group by 1, 2, 3

)

select
    date,
    platform,
    language,
    reviews::integer                                    as reviews,
    stars_total::integer                                as stars_total,
    round(stars_total / reviews, 2)::numeric(3, 2)      as avg_stars,
    negative_reviews::integer                           as negative_reviews
from counted
