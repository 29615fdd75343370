"""Headline CX KPIs over the whole warehouse: the dbt analysis `headline_kpis`, printed.

The marts carry counts so that any period re-aggregates exactly: these sums are the same
numbers a BI tool would show for "all time", not averages of daily percentages. The formulas
live in the dbt project (macros/kpi_formulas.sql); this module only formats.
"""

from __future__ import annotations

from decimal import Decimal

from scripts import analyses


def _fmt(value: Decimal | float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(float(value))


def headline_lines(conn, sql: str | None = None) -> list[str]:
    """Readable lines of the headline KPIs; [] when the marts have not been built yet.

    `sql` is the compiled analysis, when the caller compiled it already.
    """
    if not conn.execute("select to_regclass('marts.customer_health') is not null").fetchone()[0]:
        return []
    sql = sql or analyses.compiled_sql("headline_kpis")["headline_kpis"]
    (nps, nps_n, csat, csat_n, effort, ces_n, first_reply, stars, reviews, high_risk, customers,
     high_risk_value, detractor_revenue, open_alerts) = conn.execute(sql).fetchone()
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
