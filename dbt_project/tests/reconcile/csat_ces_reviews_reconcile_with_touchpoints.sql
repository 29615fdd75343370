-- The rating, effort and review KPIs sum back to the touchpoints they count.
with totals as (
    select 'csat' as kpi,
           (select coalesce(sum(ratings), 0) from {{ ref('kpi_csat_daily') }}) as counted,
           (select count(*) from {{ ref('fct_touchpoints') }}
            where touchpoint_type in ('csat_survey', 'support_rating')) as touchpoints
    union all
    select 'ces',
           (select coalesce(sum(responses), 0) from {{ ref('kpi_ces_daily') }}),
           (select count(*) from {{ ref('fct_touchpoints') }} where touchpoint_type = 'ces_survey')
    union all
    select 'reviews',
           (select coalesce(sum(reviews), 0) from {{ ref('kpi_reviews_daily') }}),
           (select count(*) from {{ ref('fct_touchpoints') }} where touchpoint_type = 'review')
)

select * from totals where counted <> touchpoints
