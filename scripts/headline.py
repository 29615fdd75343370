"""Headline CX KPIs over the whole warehouse, re-aggregated from the marts' counts.

The marts carry counts so that any period re-aggregates exactly: these sums are the same
numbers a BI tool would show for "all time", not averages of daily percentages.
"""

from __future__ import annotations

from decimal import Decimal

HEADLINE_SQL = """
with
nps as (
    select 100.0 * (sum(promoters) - sum(detractors)) / nullif(sum(responses), 0) as nps, sum(responses) as n
    from marts.kpi_nps_daily
),
csat as (
    select 100.0 * sum(satisfied) / nullif(sum(ratings), 0) as csat_pct, sum(ratings) as n
    from marts.kpi_csat_daily
),
ces as (
    select 1.0 * sum(effort_total) / nullif(sum(responses), 0) as avg_effort, sum(responses) as n
    from marts.kpi_ces_daily
),
first_reply as (
    -- The median over all tickets: daily medians do not combine, so it is taken from the facts.
    select percentile_cont(0.5) within group (order by first_reply_minutes) as minutes
    from intermediate.int_support_tickets_enriched
),
stars as (
    select 1.0 * sum(stars_total) / nullif(sum(reviews), 0) as avg_stars, sum(reviews) as n
    from marts.kpi_reviews_daily
),
risk as (
    select count(*) filter (where churn_risk = 'high') as high_risk,
           coalesce(sum(arr_or_deal_value) filter (where churn_risk = 'high'), 0) as value_at_high_risk,
           count(*) as customers
    from marts.customer_health
),
alerts as (
    select count(*) filter (where is_open) as open_alerts from marts.cx_alerts
),
detractor_revenue as (
    select coalesce(sum(revenue_at_risk), 0) as at_risk
    from marts.cx_revenue_monthly
    where month = (select max(month) from marts.cx_revenue_monthly)
)
select nps.nps, nps.n, csat.csat_pct, csat.n, ces.avg_effort, ces.n, first_reply.minutes,
       stars.avg_stars, stars.n, risk.high_risk, risk.customers, risk.value_at_high_risk, detractor_revenue.at_risk,
       alerts.open_alerts
from nps, csat, ces, first_reply, stars, risk, alerts, detractor_revenue
"""


def _fmt(value: Decimal | float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(float(value))


def headline_lines(conn) -> list[str]:
    """Readable lines of the headline KPIs; [] when the marts have not been built yet."""
    if not conn.execute("select to_regclass('marts.customer_health') is not null").fetchone()[0]:
        return []
    (nps, nps_n, csat, csat_n, effort, ces_n, first_reply, stars, reviews, high_risk, customers,
     high_risk_value, detractor_revenue, open_alerts) = conn.execute(HEADLINE_SQL).fetchone()
    return [
        f"NPS                      {_fmt(nps, '{:+.1f}'):>10}   ({nps_n or 0:,} answers)",
        f"CSAT                     {_fmt(csat, '{:.1f}%'):>10}   ({csat_n or 0:,} ratings, top two boxes / good)",
        f"CES (1-7, 7 = very easy) {_fmt(effort, '{:.2f}'):>10}   ({ces_n or 0:,} answers)",
        f"Median first reply       {_fmt(first_reply, '{:.0f} min'):>10}",
        f"Average stars            {_fmt(stars, '{:.2f}'):>10}   ({reviews or 0:,} reviews)",
        f"High churn risk          {high_risk:>10,}   of {customers:,} customers",
        f"Deal value at high risk  {_fmt(high_risk_value, '{:,.0f}'):>10}   (won deals of those customers)",
        f"Revenue at risk          {_fmt(detractor_revenue, '{:,.0f}'):>10}   (won revenue from current detractors)",
        f"Open CX alerts           {open_alerts:>10,}",
    ]
