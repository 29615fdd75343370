{%- set types = "'nps_survey'" -%}
{{ daily_kpi_config(types) }}

with

nps_answers as (

    select
        (touchpoints.occurred_at at time zone 'UTC')::date  as answer_date,
        touchpoints.channel,
        {{ nps_category('touchpoints.sentiment') }}         as nps_category
    from {{ ref('fct_touchpoints') }} as touchpoints
    {{ on_touched_days(types) }}
    where touchpoints.touchpoint_type = 'nps_survey'

),

counted as (

    select
        answer_date                                         as date,
        channel,
        count(*)                                            as responses,
        count(*) filter (where nps_category = 'promoter')   as promoters,
        count(*) filter (where nps_category = 'passive')    as passives,
        count(*) filter (where nps_category = 'detractor')  as detractors
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
    {{ nps('promoters', 'detractors', 'responses') }}::numeric(6, 2) as nps
from counted
