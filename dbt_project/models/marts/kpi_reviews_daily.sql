{%- set types = "'review'" -%}
{{ daily_kpi_config(types) }}

with

reviews as (

    select
        (touchpoints.occurred_at at time zone 'UTC')::date  as review_date,
        touchpoints.source                                  as platform,
        coalesce(touchpoints.language, 'und')               as language,
        touchpoints.score                                   as stars,
        -- 1–2 stars: the 1-5 scale's negative band (score_scales seed).
        touchpoints.sentiment = 'negative'                  as is_negative
    from {{ ref('fct_touchpoints') }} as touchpoints
    {{ on_touched_days(types) }}
    where touchpoints.touchpoint_type = 'review'

),

counted as (

    select
        review_date                             as date,
        platform,
        language,
        count(*)                                as reviews,
        sum(stars)                              as stars_total,
        count(*) filter (where is_negative)     as negative_reviews
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
