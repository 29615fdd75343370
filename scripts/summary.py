"""A short, readable account of what the warehouse holds: rows per table, NPS per day, BI URI."""

from __future__ import annotations

import dataclasses

from expectations import data_docs
from ingest import warehouse
from scripts import analyses
from scripts.headline import headline_lines


def _table_counts(conn) -> list[tuple[str, int]]:
    tables = conn.execute(
        """select table_schema, table_name from information_schema.tables
           where table_schema = any(%s) and table_type in ('BASE TABLE', 'VIEW')
           order by 1, 2""",
        (list(warehouse.SCHEMAS),),
    ).fetchall()
    counts = []
    for schema, table in tables:
        (rows,) = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
        counts.append((f"{schema}.{table}", rows))
    return counts


def print_summary(wh: warehouse.Warehouse) -> None:
    with warehouse.connect(wh) as conn:
        print("\nRows per table")
        for name, rows in _table_counts(conn):
            print(f"  {name:<40} {rows:>9,}")
        batches = conn.execute(
            """select source, stream, sum(fetched), sum(landed), sum(rejected), sum(deleted)
               from audit.load_batches group by 1, 2 order by 1, 2"""
        ).fetchall()
        if batches:
            print("\nLanded per stream (all runs)          fetched    landed  rejected   deleted")
            for source, stream, fetched, landed, rejected, deleted in batches:
                print(f"  {source + '.' + stream:<34} {fetched:>9,} {landed:>9,} {rejected:>9,} {deleted:>9,}")
        if _exists(conn, "audit", "validation_runs"):
            gate = conn.execute(
                """select count(distinct suite), count(*), count(*) filter (where outcome = 'passed'),
                          count(*) filter (where outcome = 'warned'),
                          count(*) filter (where outcome = 'quarantined'),
                          count(*) filter (where outcome = 'released')
                   from audit.validation_runs where batch_id is not null"""
            ).fetchone()
            print("\nQuality gate (all runs): {} suites, {} batches validated: {} passed, {} with warnings, "
                  "{} quarantined, {} released".format(*gate))
            marts = conn.execute(
                """select count(*), count(*) filter (where success)
                   from (select distinct on (suite) suite, success from audit.validation_runs
                         where batch_id is null order by suite, evaluated_at desc) as latest"""
            ).fetchone()
            if marts[0]:
                print(f"  mart suites, last run: {marts[1]}/{marts[0]} passed")
            failing = conn.execute(
                """select suite, expectation, coalesce(column_name, ''), severity, count(*)
                   from audit.validation_failures group by 1, 2, 3, 4 order by 1, 2"""
            ).fetchall()
            for suite, expectation, column, severity, times in failing:
                print(f"  [{severity}] {suite}: {expectation} {column} ({times}x)")
            site = data_docs.site_dir() / "index.html"
            print(f"  Data Docs: {site}" if site.exists()
                  else "  Data Docs: not built yet (.venv/bin/python -m expectations docs)")
        built = _exists(conn, "marts", "customer_health")
        sql = analyses.compiled_sql("nps_recent_days", "headline_kpis", "negative_topics_by_language",
                                    "closed_loop_by_reason", "support_by_priority", wh=wh) if built else {}
        nps = conn.execute(sql["nps_recent_days"]).fetchall() if built else []
        if nps:
            print("\nNPS, last 7 days with answers      responses  promoters  passives  detractors     NPS")
            for day, responses, promoters, passives, detractors, score in reversed(nps):
                print(f"  {day!s:<32} {responses:>10} {promoters:>10} {passives:>9} {detractors:>11} {score:>7.1f}")
        headline = headline_lines(conn, sql.get("headline_kpis"))
        if headline:
            print("\nHeadline KPIs (all data, from the marts)")
            for line in headline:
                print(f"  {line}")
        topics = (conn.execute(sql["negative_topics_by_language"]).fetchall()
                  if built and _exists(conn, "marts", "fct_verbatims") else [])
        if topics:
            print("\nWhat customers complain about (fct_verbatims: negative verbatims, top 3 topics per language)")
            by_language: dict[str, list[str]] = {}
            for lang, topic, mentions in topics:
                by_language.setdefault(lang, []).append(f"{topic} {mentions}")
            for lang, found in by_language.items():
                print(f"  {lang}: {', '.join(found)}")
        loop = (conn.execute(sql["closed_loop_by_reason"]).fetchall()
                if built and _exists(conn, "marts", "kpi_closed_loop_daily") else [])
        if loop:
            print("\nClosed loop (kpi_closed_loop_daily)  raised  followed up  closed  within SLA  median to close")
            for reason, raised, followed_up, closed, within_sla, median in loop:
                to_close = f"{median:,.0f} business min" if median is not None else "-"
                print(f"  {reason:<32} {raised:>7,} {followed_up:>12,} {closed:>7,} {within_sla:>11,}  {to_close}")
        support = (conn.execute(sql["support_by_priority"]).fetchall()
                   if built and _exists(conn, "marts", "fct_tickets") else [])
        if support:
            print("\nSupport by priority (fct_tickets)   tickets  first reply: median min (business)  "
                  "SLA missed: reply  resolution  CSAT good")
            for priority, tickets, reply, reply_business, reply_missed, resolution_missed, good in support:
                print(f"  {priority:<32} {tickets:>8,}  {_number(reply):>18} ({_number(reply_business)})"
                      f"  {_pct(reply_missed):>16} {_pct(resolution_missed):>11} {_pct(good):>10}")
        if _exists(conn, "marts", "identity_quality"):
            print("\nIdentity (marts.identity_quality)")
            for line in identity_lines(conn):
                print(f"  {line}")
    # BI tools read the marts as the read-only role the dbt project grants them to.
    bi = dataclasses.replace(wh, user="cxloop_bi", password="")
    print(f"\nBI tools connect to: {bi.uri()}  (role cxloop_bi reads schema marts only)"
          + ("\n  embedded warehouse: stays up until `make stop`" if wh.embedded else ""))


def _number(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1f}%"


def identity_lines(conn) -> list[str]:
    """How the records became customers, as the identity quality mart counts it."""
    report: dict[tuple[str, str], int] = {
        (metric, detail): value for metric, detail, value in
        conn.execute("select metric, detail, value from marts.identity_quality").fetchall()}

    def part(metric: str, details: list[str]) -> str:
        return ", ".join(f"{detail} {report.get((metric, detail), 0):,}" for detail in details)

    return [
        f"{report.get(('customers', 'all'), 0):,} customers from {report.get(('records', 'all'), 0):,} records; "
        f"matched on {part('records_matched_on', ['email', 'crm_link', 'phone', 'manual', 'unmatched'])}",
        f"held apart (a shared phone, different emails): {report.get(('held_apart_customers', 'all'), 0):,} "
        f"customers, {report.get(('held_apart_records', 'all'), 0):,} records",
        f"keys shared past the cap: {part('shared_keys_over_cap', ['phone', 'email', 'crm_link'])} "
        f"({sum(v for (m, _), v in report.items() if m == 'records_with_shared_keys'):,} records)",
        f"overrides applied: {part('overrides_applied', ['merge', 'split'])}; "
        f"naming no record: {sum(v for (m, _), v in report.items() if m == 'overrides_unmatched'):,}",
    ]


def _exists(conn, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',)).fetchone()[0]
