-- The headline CX KPIs over all data, re-aggregated from the marts' counts with the marts' own
-- formulas (macros/kpi_formulas.sql): the same numbers a BI tool shows for "all time", never an
-- average of daily percentages. scripts/headline.py prints it.
with

nps as (
    select {{ nps('sum(promoters)', 'sum(detractors)', 'sum(responses)') }} as nps, sum(responses) as answers
    from {{ ref('kpi_nps_daily') }}
),

csat as (
    select {{ csat_pct('sum(satisfied)', 'sum(ratings)') }} as csat_pct, sum(ratings) as ratings
    from {{ ref('kpi_csat_daily') }}
),

ces as (
    select {{ avg_effort('sum(effort_total)', 'sum(responses)') }} as avg_effort, sum(responses) as answers
    from {{ ref('kpi_ces_daily') }}
),

first_reply as (
    -- The median over all tickets: daily medians do not combine, so it is taken from the tickets.
    select percentile_cont(0.5) within group (order by first_reply_minutes) as minutes
    from {{ ref('int_support_tickets_enriched') }}
    where not is_deleted
),

stars as (
    select round(sum(stars_total)::numeric / nullif(sum(reviews), 0), 2) as avg_stars, sum(reviews) as reviews
    from {{ ref('kpi_reviews_daily') }}
),

risk as (
    select
        count(*) filter (where churn_risk = 'high')                                 as high_risk,
        coalesce(sum(arr_or_deal_value) filter (where churn_risk = 'high'), 0)     as value_at_high_risk,
        count(*)                                                                    as customers
    from {{ ref('customer_health') }}
),

alerts as (
    select count(*) filter (where is_open) as open_alerts from {{ ref('cx_alerts') }}
),

detractor_revenue as (
    select coalesce(sum(revenue_at_risk), 0) as at_risk
    from {{ ref('cx_revenue_monthly') }}
    where month = (select max(month) from {{ ref('cx_revenue_monthly') }})
)

select
    nps.nps, nps.answers as nps_answers, csat.csat_pct, csat.ratings, ces.avg_effort, ces.answers as ces_answers,
    first_reply.minutes as first_reply_minutes, stars.avg_stars, stars.reviews, risk.high_risk, risk.customers,
    risk.value_at_high_risk, detractor_revenue.at_risk as revenue_at_risk, alerts.open_alerts
from nps, csat, ces, first_reply, stars, risk, alerts, detractor_revenue
