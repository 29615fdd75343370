"""cxloop_nightly end to end: `airflow dags test` against the simulators and the embedded warehouse.

A run costs about a minute whatever the data's size (Airflow, Great Expectations and dbt start-up),
so the two nightly runs that the rerun test and the backfill test both start from are run once per
module (`two_nights`) and the warehouse they leave is kept as a template database: each of those
tests starts from a copy of it and may change it freely. The runs that prove one property each
are kept to one: a single rerun, of the older night (behind the cursor); a backfill of two days,
one new run and one taking over a manual run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from ingest import embedded_postgres, warehouse
from scripts import airflow_cli
from simulators import launch
from simulators.company import NPS_FORM, Company

pytestmark = pytest.mark.integration

COMPANY = Company(seed=11, customers=150, end=datetime(2026, 3, 10, tzinfo=UTC), days=45)


def expected_nps_by_day(until: datetime) -> dict[date, tuple[int, int, int, int, Decimal]]:
    """NPS per day computed straight from the simulator's data, independently of the SQL."""
    scores: dict[date, list[int]] = defaultdict(list)
    for response in COMPANY.typeform_responses():
        submitted = datetime.fromisoformat(response["submitted_at"])
        if response["_form_id"] != NPS_FORM or submitted >= until:
            continue
        score = next(a["number"] for a in response["answers"] if a["field"]["ref"] == "nps")
        scores[submitted.date()].append(score)
    expected = {}
    for day, day_scores in scores.items():
        promoters = sum(s >= 9 for s in day_scores)
        passives = sum(7 <= s <= 8 for s in day_scores)
        detractors = sum(s <= 6 for s in day_scores)
        nps = (Decimal(100 * (promoters - detractors)) / Decimal(len(day_scores))).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)
        expected[day] = (len(day_scores), promoters, passives, detractors, nps)
    return expected


def mart(db) -> dict[date, tuple[int, int, int, int, Decimal]]:
    rows = db.execute("select date, responses, promoters, passives, detractors, nps "
                      "from marts.kpi_nps_daily where channel = 'survey'").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


MARTS = ["dim_customer", "bridge_customer_source", "fct_touchpoints", "kpi_nps_daily", "kpi_csat_daily",
         "kpi_ces_daily", "kpi_support_daily", "kpi_reviews_daily", "customer_health", "cx_revenue_monthly",
         "cx_alerts", "fct_verbatims"]


def row_counts(db) -> dict[str, int]:
    tables = ["raw.typeform_responses", "raw.zendesk_tickets", "raw.trustpilot_reviews", "raw.hubspot_contacts",
              *(f"marts.{mart}" for mart in MARTS)]
    return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


@pytest.fixture(scope="module")
def simulators():
    # Give up on a failing API after three quick tries: a test waits seconds, not minutes.
    with launch.start(COMPANY, retry={"max_attempts": 3, "backoff_initial": 0.01, "backoff_max": 0.05,
                                      "jitter": 0.0}) as sims:
        yield sims


@pytest.fixture(scope="module")
def airflow(warehouse_session, simulators, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    logs = tmp_path_factory.mktemp("logs")
    env = airflow_cli.airflow_env(home, simulators.env)
    airflow_cli.migrate(env, logs / "migrate.log")

    def run(logical_date: str, expect: str = "success", **extra_env: str) -> dict:
        log = logs / f"dags-test-{logical_date[:13]}-{len(extra_env)}-{expect}.log"
        run_env = {**env, **extra_env}
        airflow_cli.dags_test(logical_date, run_env, log)
        state = airflow_cli.latest_runs(run_env)[logical_date]
        assert state["state"] == expect, f"run {logical_date} ended {state['state']}; see {log}"
        return state

    run.env = env  # for a test that drives Airflow itself, on the same metadata DB
    return run


@dataclass(frozen=True)
class Night:
    """What the warehouse held right after one nightly run."""

    nps: dict[date, tuple[int, int, int, int, Decimal]]
    typeform_cursor: datetime
    counts: dict[str, int]


@dataclass(frozen=True)
class TwoNights:
    first: Night
    second: Night


TWO_NIGHTS_TEMPLATE = "cxloop_after_two_nights"


def _server(wh: warehouse.Warehouse) -> psycopg.Connection:
    """A connection to the warehouse's server, not to its database, which it may drop or copy."""
    return psycopg.connect(host=wh.host, port=wh.port, user=wh.user, password=wh.password or None,
                           dbname="postgres", autocommit=True)


def _recreate_warehouse(wh: warehouse.Warehouse, template: str = "template1") -> None:
    """Drop the warehouse's database and create it again as a copy of `template`."""
    with _server(wh) as admin:
        admin.execute(f'drop database if exists "{wh.dbname}" with (force)')
        admin.execute(f'create database "{wh.dbname}" template "{template}"')


def _observe(db) -> Night:
    (cursor,) = db.execute("select watermark from raw._state "
                           "where source = 'typeform' and stream = 'responses'").fetchone()
    return Night(mart(db), cursor, row_counts(db))


@pytest.fixture(scope="module")
def two_nights(warehouse_session, airflow):
    """Two manual runs on an empty warehouse, as `make demo` makes them: 03-09, then 03-10.

    The first reads everything before 03-09 02:00, the second [03-09 02:00, 03-10 02:00). The
    warehouse they leave is saved as a template database, restored by `after_two_nights`.
    """
    wh = warehouse_session
    _recreate_warehouse(wh)
    nights = []
    for logical_date in ("2026-03-09T02:00:00+00:00", "2026-03-10T02:00:00+00:00"):
        airflow(logical_date)
        with warehouse.connect(wh, autocommit=True) as db:
            nights.append(_observe(db))
    with _server(wh) as admin:
        # A template must have no other session: nothing of the runs above is still connected.
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", [wh.dbname])
        admin.execute(f'drop database if exists "{TWO_NIGHTS_TEMPLATE}"')
        admin.execute(f'create database "{TWO_NIGHTS_TEMPLATE}" template "{wh.dbname}"')
    yield TwoNights(*nights)
    with _server(wh) as admin:
        admin.execute(f'drop database if exists "{TWO_NIGHTS_TEMPLATE}"')


@pytest.fixture
def after_two_nights(two_nights, wh) -> TwoNights:
    """The warehouse as the two nightly runs left it (a fresh copy); request it before `db`."""
    _recreate_warehouse(wh, TWO_NIGHTS_TEMPLATE)
    return two_nights


def test_two_nightly_runs_build_the_exact_nps_then_a_rerun_behind_the_cursor_changes_nothing(
        after_two_nights, db, airflow):
    # A manual run covers the last complete interval before its logical date: the first night
    # (logical date 03-09) reads everything before 03-09 02:00, the second up to 03-10 02:00.
    first_cut = datetime(2026, 3, 9, 2, tzinfo=UTC)
    first, second = after_two_nights.first, after_two_nights.second
    assert first.nps == expected_nps_by_day(first_cut)
    assert first.typeform_cursor == first_cut
    assert all(first.counts.values()), first.counts  # every source landed, every mart has rows

    everything = expected_nps_by_day(datetime(2026, 3, 10, 2, tzinfo=UTC))
    assert second.nps == everything
    assert len(everything) > 30
    assert second.typeform_cursor == datetime(2026, 3, 10, 2, tzinfo=UTC)
    assert second.counts["raw.typeform_responses"] > first.counts["raw.typeform_responses"]
    # The night analysed every verbatim it built before its marts: none waits for the next night.
    assert db.execute("select count(*) from marts.fct_verbatims where sentiment_label is null").fetchone() == (0,)
    assert row_counts(db) == second.counts  # the warehouse as the second night left it
    cursors = db.execute("select source, stream, watermark from raw._state order by 1, 2").fetchall()

    # Rerunning the first night re-reads [03-08 02:00, 03-09 02:00), which both nights have landed.
    airflow("2026-03-09T02:00:00+00:00")
    assert row_counts(db) == second.counts
    assert mart(db) == everything
    assert db.execute("select source, stream, watermark from raw._state order by 1, 2").fetchall() == cursors
    assert db.execute("select count(*) from audit.pipeline_failures").fetchone() == (0,)


def test_a_source_answering_500_throughout_fails_the_run_but_not_the_other_sources_marts(
        wh, db, airflow, simulators):
    from simulators.server import Fault

    simulators.servers["trustpilot"].inject(Fault("status", status=500), times=10_000)
    try:
        airflow("2026-03-10T02:00:00+00:00", expect="failed")
    finally:
        simulators.servers["trustpilot"].clear_faults()
    assert mart(db) == expected_nps_by_day(datetime(2026, 3, 10, 2, tzinfo=UTC))
    counts = row_counts(db)
    assert counts["raw.trustpilot_reviews"] == counts["marts.kpi_reviews_daily"] == 0
    assert all(rows for table, rows in counts.items() if "trustpilot" not in table and "reviews" not in table)
    failures = db.execute("select dag_id, task_id, map_index, source, stream, error like '%500%' "
                          "from audit.pipeline_failures").fetchall()
    assert failures == [("cxloop_nightly", "trustpilot.extract_load", 0, "trustpilot", "reviews", True)]
    assert db.execute("select count(*) from audit.validation_runs where suite like 'mart_%' "
                      "and outcome in ('passed', 'warned')").fetchone()[0] >= 5


def test_the_warehouse_connection_sends_the_whole_run_to_another_postgres(wh, db, airflow):
    from ingest import warehouse

    # Not under pytest's tmp_path: another pytest session starting meanwhile re-locks that tree
    # to its owner (0700), and the server runs as an unprivileged user.
    home = Path(tempfile.mkdtemp(prefix="cxloop-other-pg-"))
    other = embedded_postgres.ensure_running(home, 0)
    try:
        airflow("2026-03-10T02:00:00+00:00", AIRFLOW_CONN_CXLOOP_WAREHOUSE=other.uri)
        other_wh = warehouse.Warehouse("127.0.0.1", other.port, "postgres", "", "cxloop", embedded=False)
        with warehouse.connect(other_wh) as other_db:
            assert mart(other_db) == expected_nps_by_day(datetime(2026, 3, 10, 2, tzinfo=UTC))
        # The default warehouse has its (migrated, empty) tables and nothing in them.
        assert db.execute("select (select count(*) from raw.typeform_responses), "
                          "(select count(*) from audit.load_batches)").fetchone() == (0, 0)
    finally:
        embedded_postgres.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def test_an_airflow_backfill_behind_the_cursor_runs_under_the_scheduler_and_changes_nothing(
        after_two_nights, db, airflow, simulators):
    import os
    import subprocess
    import sys

    # The two nightly runs (03-09, 03-10) have read everything up to 03-10 02:00.
    cursors = db.execute("select source, stream, watermark from raw._state order by 1, 2").fetchall()
    before = row_counts(db)
    (nightly_batches, nightly_done) = db.execute("select count(*), max(loaded_at) from audit.load_batches").fetchone()

    # `make backfill` for two days already read: a real scheduler runs them. 03-09 has the
    # manual run of the second night, which the backfill takes over (cleared, same run_id).
    env = {**os.environ, **airflow.env, "CXLOOP_TASK_RETRIES": "0"}
    proc = subprocess.run([sys.executable, str(airflow_cli.REPO_ROOT / "scripts" / "backfill.py"),
                           "2026-03-08", "2026-03-09", "--port", str(embedded_postgres.free_port()),
                           "--timeout-minutes", "10"],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "backfill 2026-03-08..2026-03-09: 2/2 runs done" in proc.stdout

    runs = airflow_cli.latest_runs(airflow.env)
    backfilled = {d[:10]: (r["run_id"].split("__")[0], r["state"])
                  for d, r in runs.items() if d[:10] in ("2026-03-08", "2026-03-09")}
    assert backfilled == {"2026-03-08": ("backfill", "success"), "2026-03-09": ("manual", "success")}
    # Each backfill run read exactly the day it stands for, and no cursor went back.
    windows = db.execute("""select window_start, window_end from audit.load_batches
                            where source = 'typeform' and loaded_at > %s""", [nightly_done]).fetchall()
    assert sorted(windows) == [(datetime(2026, 3, 8, 2, tzinfo=UTC), datetime(2026, 3, 9, 2, tzinfo=UTC)),
                               (datetime(2026, 3, 9, 2, tzinfo=UTC), datetime(2026, 3, 10, 2, tzinfo=UTC))]
    # One batch per configured stream per run, like the nightly runs'.
    assert db.execute("select count(*) from audit.load_batches").fetchone() == (2 * nightly_batches,)
    assert db.execute("select source, stream, watermark from raw._state order by 1, 2").fetchall() == cursors
    assert row_counts(db) == before
    assert mart(db) == expected_nps_by_day(datetime(2026, 3, 10, 2, tzinfo=UTC))
