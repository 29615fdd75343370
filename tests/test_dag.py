"""cxloop_nightly's shape: it imports cleanly, parses fast, and wires the rooms in order."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from scripts.airflow_cli import REPO_ROOT

PARSE_BUDGET_SECONDS = 2.0


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["cxloop_nightly"]


def test_the_dag_file_parses_within_budget_importing_only_the_catalogue_of_the_pipeline():
    # A fresh interpreter, so nothing is cached: what a DAG processor pays on every parse.
    code = (
        "import time, sys, runpy; import airflow.sdk; t = time.perf_counter(); "
        f"runpy.run_path({str(REPO_ROOT / 'dags' / 'cxloop_nightly.py')!r}); "
        "print(time.perf_counter() - t); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('ingest', 'expectations', 'great_expectations', 'dbt', 'pandas', 'psycopg', 'requests')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    seconds, imported = out.stdout.strip().splitlines()[-2:]
    assert float(seconds) < PARSE_BUDGET_SECONDS
    assert imported == "['ingest', 'ingest.catalogue']"


def test_the_dag_and_the_runner_read_the_same_catalogue_and_every_connector_declares_its_streams():
    from dags.cxloop_nightly import SOURCE_STREAMS
    from ingest import catalogue, runner

    assert SOURCE_STREAMS is catalogue.SOURCE_STREAMS
    assert tuple(catalogue.SOURCE_STREAMS) == runner.SOURCES
    assert {source: tuple(s.name for s in runner.streams_of(source)) for source in runner.SOURCES} == SOURCE_STREAMS


def test_each_source_maps_one_extract_task_per_catalogued_stream_in_catalogue_order(dag):
    from ingest import catalogue

    for source, streams in catalogue.SOURCE_STREAMS.items():
        assert dag.get_task(f"{source}.extract_load").op_kwargs_expand_input.value["stream"] == list(streams)


def test_every_task_has_an_execution_timeout_within_the_runs_timeout(dag):
    from dags.cxloop_nightly import RUN_TIMEOUT, TASK_TIMEOUT

    assert timedelta(0) < TASK_TIMEOUT < RUN_TIMEOUT
    for task in dag.tasks:
        assert task.execution_timeout == TASK_TIMEOUT, task.task_id


def test_the_run_has_a_timeout_whose_failure_is_recorded(dag):
    from dags.cxloop_nightly import RUN_TIMEOUT

    assert dag.dagrun_timeout == RUN_TIMEOUT
    callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    assert [c.__name__ for c in callbacks] == ["_record_run_failure"]


def test_timeouts_come_from_the_environment_in_minutes(monkeypatch):
    import runpy

    monkeypatch.setenv("CXLOOP_TASK_TIMEOUT_MINUTES", "7")
    monkeypatch.setenv("CXLOOP_RUN_TIMEOUT_MINUTES", "45")
    module = runpy.run_path(str(REPO_ROOT / "dags" / "cxloop_nightly.py"))
    assert (module["TASK_TIMEOUT"], module["RUN_TIMEOUT"]) == (timedelta(minutes=7), timedelta(minutes=45))


def test_a_timed_out_run_is_recorded_as_a_failure_of_the_run(db):
    from types import SimpleNamespace

    from pendulum import datetime as pdt

    from dags.cxloop_nightly import _record_run_failure

    run = SimpleNamespace(logical_date=pdt(2026, 3, 8, 2, tz="UTC"))
    _record_run_failure({"dag": SimpleNamespace(dag_id="cxloop_nightly"), "run_id": "scheduled__2026-03-08",
                         "dag_run": run, "reason": "timed_out"})
    rows = db.execute("select dag_id, task_id, run_id, source, error from audit.pipeline_failures").fetchall()
    assert len(rows) == 1
    dag_id, task_id, run_id, source, error = rows[0]
    assert (dag_id, task_id, run_id, source) == ("cxloop_nightly", "(run)", "scheduled__2026-03-08", None)
    assert error.startswith("the run failed as a whole: timed_out")


def test_a_run_failed_by_a_task_adds_no_record_to_the_tasks_own(db):
    from types import SimpleNamespace

    from dags.cxloop_nightly import _record_run_failure

    _record_run_failure({"dag": SimpleNamespace(dag_id="cxloop_nightly"), "run_id": "manual__1",
                         "reason": "task_failure"})
    assert db.execute("select count(*) from audit.pipeline_failures").fetchone() == (0,)


def test_each_source_lands_then_validates_and_dbt_builds_after_every_gate_with_the_verbatims_analysed_midway(dag):
    from dags.cxloop_nightly import SOURCE_STREAMS

    gates = {f"{source}.validate" for source in SOURCE_STREAMS}
    builds = {"dbt_build_intermediate", "analyse_verbatims", "dbt_build"}
    after = {"discover_topics", "close_the_loop"}
    assert set(dag.task_ids) == ({f"{source}.extract_load" for source in SOURCE_STREAMS} | gates | builds | after
                                 | {"validate_marts", "publish", "data_docs", "watcher"})
    for source in SOURCE_STREAMS:
        assert dag.get_task(f"{source}.validate").upstream_task_ids == {f"{source}.extract_load"}
    assert dag.get_task("dbt_build_intermediate").upstream_task_ids == gates
    assert dag.get_task("analyse_verbatims").upstream_task_ids == {"dbt_build_intermediate"}
    assert dag.get_task("dbt_build").upstream_task_ids == {"analyse_verbatims"}
    assert dag.get_task("validate_marts").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("publish").upstream_task_ids == {"validate_marts"}
    assert dag.get_task("data_docs").upstream_task_ids == {"validate_marts"}
    # Topics are discovered once the night's verbatims are analysed; follow-ups once the marts passed their checks.
    assert dag.get_task("discover_topics").upstream_task_ids == {"analyse_verbatims"}
    assert dag.get_task("close_the_loop").upstream_task_ids == {"validate_marts"}
    # A failed extract_load leaves its validate upstream_failed, which one_failed counts too.
    assert dag.get_task("watcher").upstream_task_ids == gates | builds | after | {"validate_marts"}


def test_each_sources_extract_tasks_share_that_sources_pool_which_the_setup_creates(dag):
    import json

    from dags.cxloop_nightly import SOURCE_STREAMS

    pools = json.loads((REPO_ROOT / "dags" / "pools.json").read_text())
    for source in SOURCE_STREAMS:
        assert dag.get_task(f"{source}.extract_load").pool == f"cxloop_{source}"
        assert pools[f"cxloop_{source}"]["slots"] >= 1


def test_dbt_builds_and_the_analysis_between_them_run_one_at_a_time_across_concurrent_runs(dag):
    import json

    pools = json.loads((REPO_ROOT / "dags" / "pools.json").read_text())
    for task_id in ("dbt_build_intermediate", "analyse_verbatims", "dbt_build"):
        assert dag.get_task(task_id).pool == "cxloop_dbt"
    assert pools["cxloop_dbt"]["slots"] == 1


def test_publish_emits_an_asset_for_every_mart_dbt_builds(dag):
    marts = sorted(p.stem for p in (REPO_ROOT / "dbt_project" / "models" / "marts").glob("*.sql"))
    assert sorted(asset.name for asset in dag.get_task("publish").outlets) == [f"marts.{m}" for m in marts]


def test_every_task_says_what_it_does_and_records_its_failures(dag):
    for task in dag.tasks:
        assert (task.doc_md or "").strip(), task.task_id
        callbacks = task.on_failure_callback or []
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        # The watcher fails because another task failed, which that task has recorded.
        expected = [] if task.task_id == "watcher" else ["_record_failure"]
        assert [c.__name__ for c in callbacks] == expected, task.task_id


def test_a_failed_source_does_not_stop_dbt_but_fails_the_run(dag):
    assert dag.get_task("dbt_build_intermediate").trigger_rule == "all_done"
    # The marts are built on what came before them only when none of it failed.
    assert dag.get_task("dbt_build").trigger_rule == "none_failed"
    assert dag.get_task("watcher").trigger_rule == "one_failed"


def test_the_schedule_gives_each_run_a_one_day_data_interval(dag):
    from airflow.serialization.encoders import coerce_to_core_timetable
    from pendulum import datetime as pdt

    core = coerce_to_core_timetable(dag.timetable)
    interval = core.infer_manual_data_interval(run_after=pdt(2026, 3, 9, 2, tz="UTC"))
    assert (interval.start, interval.end) == (pdt(2026, 3, 8, 2, tz="UTC"), pdt(2026, 3, 9, 2, tz="UTC"))
    assert interval.end - interval.start == timedelta(days=1)
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_policy_owner_tags_and_docs_are_set(dag):
    assert "cxloop" in dag.tags
    assert dag.doc_md
    for task in dag.tasks:
        assert task.owner == "cxloop"


def test_a_scheduled_run_for_logical_date_d_covers_d_to_d_plus_one_day_and_runs_after_it(dag):
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction
    from pendulum import datetime as pdt

    core = coerce_to_core_timetable(dag.timetable)
    info = core.next_dagrun_info(
        last_automated_data_interval=DataInterval(pdt(2026, 3, 7, 2, tz="UTC"), pdt(2026, 3, 8, 2, tz="UTC")),
        # catchup=True keeps this deterministic; with False the scheduler skips to "now".
        restriction=TimeRestriction(earliest=pdt(2026, 1, 1, tz="UTC"), latest=None, catchup=True),
    )
    assert info.data_interval == DataInterval(pdt(2026, 3, 8, 2, tz="UTC"), pdt(2026, 3, 9, 2, tz="UTC"))
    assert info.logical_date == pdt(2026, 3, 8, 2, tz="UTC")
    assert info.run_after == pdt(2026, 3, 9, 2, tz="UTC")


# A scheduled or backfill run's logical date opens its interval; a manual run's closes it.
@pytest.mark.parametrize(("run_type", "logical_day", "backfill"),
                         [("BACKFILL", 8, True), ("SCHEDULED", 8, False), ("MANUAL", 9, False)])
def test_a_tasks_window_is_its_runs_data_interval_and_a_backfill_run_says_so(run_type, logical_day, backfill):
    from types import SimpleNamespace

    from airflow.sdk.api.datamodels._generated import DagRunType
    from pendulum import datetime as pdt

    from dags.cxloop_nightly import _window

    start, end = pdt(2026, 3, 8, 2, tz="UTC"), pdt(2026, 3, 9, 2, tz="UTC")
    context = {"data_interval_start": start, "data_interval_end": end,
               "logical_date": pdt(2026, 3, logical_day, 2, tz="UTC"),
               "dag_run": SimpleNamespace(run_type=DagRunType[run_type])}
    assert _window(context) == (start, end, backfill)


def test_a_manual_run_taken_over_by_a_backfill_reads_the_day_the_backfill_asked_for():
    from types import SimpleNamespace

    from airflow.sdk.api.datamodels._generated import DagRunType
    from pendulum import datetime as pdt

    from dags.cxloop_nightly import _window

    # `dags test` at 03-09 02:00 made a manual run over [03-08, 03-09); `backfill create` over
    # 03-09 clears that run and makes it a backfill run, keeping its stored interval.
    context = {"data_interval_start": pdt(2026, 3, 8, 2, tz="UTC"), "data_interval_end": pdt(2026, 3, 9, 2, tz="UTC"),
               "logical_date": pdt(2026, 3, 9, 2, tz="UTC"),
               "dag_run": SimpleNamespace(run_type=DagRunType.BACKFILL)}
    assert _window(context) == (pdt(2026, 3, 9, 2, tz="UTC"), pdt(2026, 3, 10, 2, tz="UTC"), True)


def test_a_run_without_a_data_interval_is_refused():
    from types import SimpleNamespace

    from pendulum import datetime as pdt

    from dags.cxloop_nightly import _window

    at = pdt(2026, 3, 9, 2, tz="UTC")
    with pytest.raises(ValueError, match="needs a data interval"):
        _window({"data_interval_start": at, "data_interval_end": at, "dag_run": SimpleNamespace(run_type="manual")})
