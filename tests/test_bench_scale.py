"""`make bench-scale`'s pieces that need no pipeline run: dates, stage extraction, memory, report."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime

import pytest

from scripts import bench_scale_report as report
from scripts import bench_scale_stages as stages
from scripts.bench_scale import SimulatorsProcess, last_boundary, night_dates
from scripts.bench_scale_memory import MemorySampler, descendants, kind_under

STREAMS = {"hubspot": ["contacts", "companies"], "typeform": ["responses"]}


# -- the two nights ------------------------------------------------------------------------------

def test_the_newest_closed_interval_ends_at_todays_0200_once_it_has_passed():
    assert last_boundary(datetime(2026, 3, 10, 2, 0, tzinfo=UTC)) == datetime(2026, 3, 10, 2, tzinfo=UTC)
    assert last_boundary(datetime(2026, 3, 10, 17, 5, tzinfo=UTC)) == datetime(2026, 3, 10, 2, tzinfo=UTC)
    assert last_boundary(datetime(2026, 3, 10, 1, 59, tzinfo=UTC)) == datetime(2026, 3, 9, 2, tzinfo=UTC)


def test_night_2_runs_at_the_history_end_and_night_1_a_day_before():
    # A manual run at D covers [D - 1 day, D): night 2's interval is the history's last day.
    assert night_dates(datetime(2026, 3, 10, 2, tzinfo=UTC)) == [
        "2026-03-09T02:00:00+00:00", "2026-03-10T02:00:00+00:00"]


def test_the_simulators_run_as_their_own_process_and_hand_over_their_connections(tmp_path):
    end = datetime(2026, 3, 10, 2, tzinfo=UTC)
    simulators = SimulatorsProcess(50, end, tmp_path / "drops", tmp_path / "simulators.log")
    try:
        env = simulators.wait_ready(timeout=120)
        hubspot = json.loads(env["AIRFLOW_CONN_CXLOOP_HUBSPOT"])
        request = urllib.request.Request(f"{hubspot['host']}/crm/v3/objects/contacts?limit=1",
                                         headers={"Authorization": f"Bearer {hubspot['password']}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert len(json.load(answer)["results"]) == 1
    finally:
        peak_mb = simulators.stop()
    assert sorted(env) == [f"AIRFLOW_CONN_CXLOOP_{name}"
                           for name in ("FILES", "HUBSPOT", "TRUSTPILOT", "TYPEFORM", "ZENDESK")]
    assert json.loads(env["AIRFLOW_CONN_CXLOOP_FILES"])["extra"]["path"] == str(tmp_path / "drops")
    assert simulators.proc.returncode == 0
    assert peak_mb > 0


# -- stages from the run's leftovers -------------------------------------------------------------

def test_each_mapped_task_is_named_by_its_stream_and_rated_by_its_records():
    runs = [stages.TaskRun("hubspot.extract_load", 0, "success", 4.0),
            stages.TaskRun("hubspot.extract_load", 1, "success", 2.0),
            stages.TaskRun("typeform.extract_load", 0, "success", 10.0),
            stages.TaskRun("hubspot.validate", 1, "success", 1.5),
            stages.TaskRun("dbt_build", -1, "success", 30.0),
            stages.TaskRun("watcher", -1, "skipped", None)]
    batches = [stages.Batch("hubspot", "contacts", fetched=800, landed=790),
               stages.Batch("hubspot", "companies", fetched=100, landed=100),
               stages.Batch("typeform", "responses", fetched=5000, landed=4990)]

    found = {s.name: s for s in stages.airflow_stages(runs, batches, STREAMS, night_seconds=60.0)}

    assert found["extract_load:hubspot.contacts"] == stages.Stage("extract_load:hubspot.contacts", 4.0, 800)
    assert found["extract_load:hubspot.companies"] == stages.Stage("extract_load:hubspot.companies", 2.0, 100)
    assert found["extract_load"] == stages.Stage("extract_load", 16.0, 5900)
    assert found["gate"] == stages.Stage("gate", 1.5, 100)
    assert found["dbt_build"] == stages.Stage("dbt_build", 30.0)
    assert found["night"] == stages.Stage("night", 60.0)
    # 60 s of night, 47.5 s of it in tasks.
    assert found["airflow_overhead"] == stages.Stage("airflow_overhead", 12.5)
    assert "validate_marts" not in found and "watcher" not in found


def test_a_task_with_a_map_index_the_dag_does_not_list_is_left_out():
    runs = [stages.TaskRun("hubspot.extract_load", 7, "success", 4.0)]
    found = stages.airflow_stages(runs, [], STREAMS, night_seconds=5.0)
    assert [s.name for s in found if s.name.startswith("extract_load")] == ["extract_load"]


def test_the_execution_apis_start_up_moves_from_the_first_task_to_airflows_overhead():
    log = "\n".join([
        "2026-03-10T02:00:30.000000Z [info     ] [DAG TEST] running task <TaskInstance: x> [airflow.sdk]",
        "2026-03-10T02:00:51.000000Z [info     ] Task started                   [airflow.api_fastapi] "
        "correlation_id=01a2-aa hostname=vm loc=task_instances.py:226 previous_state=queued "
        "ti_id=01a237f7-733b-7239-9298-b12c98e57b43",
        "2026-03-10T02:00:52.100000Z [info     ] Task started                   [airflow.api_fastapi] "
        "loc=task_instances.py:226 ti_id=01a237f7-7336-7084-b50f-aeb4cfc8bf09",
    ])
    runs = [stages.TaskRun("zendesk.extract_load", 0, "success", 22.5, "01a237f7733b72399298b12c98e57b43",
                           datetime(2026, 3, 10, 2, 0, 30, tzinfo=UTC)),
            stages.TaskRun("hubspot.extract_load", 0, "success", 1.0, "01a237f773367084b50faeb4cfc8bf09",
                           datetime(2026, 3, 10, 2, 0, 52, tzinfo=UTC)),
            stages.TaskRun("dbt_build", -1, "success", 10.0, "01a237f8000000000000000000000000",
                           datetime(2026, 3, 10, 2, 0, 53, tzinfo=UTC))]

    acks = stages.acknowledged(log)
    found = {s.name: s.seconds for s in stages.airflow_stages(runs, [], {"zendesk": ["users"], "hubspot": ["contacts"]},
                                                              night_seconds=40.0, acks=acks)}

    assert acks["01a237f7733b72399298b12c98e57b43"] == datetime(2026, 3, 10, 2, 0, 51, tzinfo=UTC)
    assert found["extract_load:zendesk.users"] == pytest.approx(1.5)
    assert found["extract_load:hubspot.contacts"] == pytest.approx(0.9)
    assert found["dbt_build"] == 10.0  # no acknowledgement in the log: as the DB has it
    assert found["airflow_overhead:api_startup"] == pytest.approx(21.1)
    assert found["airflow_overhead"] == pytest.approx(40.0 - 1.5 - 0.9 - 10.0)


def test_dbt_stages_time_each_model_and_sum_the_tests_of_each():
    run_results = {"results": [
        {"unique_id": "model.cxloop.dim_customer", "execution_time": 12.5,
         "adapter_response": {"rows_affected": 1000}},
        {"unique_id": "model.cxloop.stg_zendesk__tickets", "execution_time": 0.2,
         "adapter_response": {"rows_affected": -1}},
        {"unique_id": "test.cxloop.unique_dim_customer_customer_id.abc", "execution_time": 1.0},
        {"unique_id": "test.cxloop.not_null_dim_customer_customer_id.def", "execution_time": 0.5},
        {"unique_id": "unit_test.cxloop.dim_customer.merges_two_emails", "execution_time": 0.25},
        {"unique_id": "test.cxloop.assert_touchpoints_reconcile", "execution_time": 3.0},
    ]}
    manifest = {
        "nodes": {
            "test.cxloop.unique_dim_customer_customer_id.abc": {"attached_node": "model.cxloop.dim_customer"},
            "test.cxloop.not_null_dim_customer_customer_id.def": {"attached_node": "model.cxloop.dim_customer"},
            "test.cxloop.assert_touchpoints_reconcile": {
                "attached_node": None,
                "depends_on": {"nodes": ["model.cxloop.fct_touchpoints", "model.cxloop.dim_customer"]}},
        },
        "unit_tests": {"unit_test.cxloop.dim_customer.merges_two_emails": {"model": "dim_customer"}},
    }

    assert stages.dbt_stages([run_results], manifest) == [
        stages.Stage("dbt:dim_customer", 12.5, 1000),
        stages.Stage("dbt:stg_zendesk__tickets", 0.2, None),
        stages.Stage("dbt_tests:(cross-model)", 3.0),
        stages.Stage("dbt_tests:dim_customer", 1.75),
    ]


def test_dbt_stages_report_the_models_and_tests_of_both_builds_of_a_night():
    before_enrichment = {"results": [
        {"unique_id": "model.cxloop.int_customers_resolved", "execution_time": 9.5,
         "adapter_response": {"rows_affected": 7515}},
        {"unique_id": "test.cxloop.unique_int_customers_resolved_record_key.a1", "execution_time": 2.0},
    ]}
    after_enrichment = {"results": [
        {"unique_id": "model.cxloop.fct_verbatims", "execution_time": 1.5, "adapter_response": {"rows_affected": 40}},
        {"unique_id": "test.cxloop.relationships_fct_verbatims_customer_id.b2", "execution_time": 0.5},
    ]}
    manifest = {"nodes": {
        "test.cxloop.unique_int_customers_resolved_record_key.a1": {
            "attached_node": "model.cxloop.int_customers_resolved"},
        "test.cxloop.relationships_fct_verbatims_customer_id.b2": {"attached_node": "model.cxloop.fct_verbatims"},
    }}

    assert stages.dbt_stages([before_enrichment, after_enrichment], manifest) == [
        stages.Stage("dbt:fct_verbatims", 1.5, 40),
        stages.Stage("dbt:int_customers_resolved", 9.5, 7515),
        stages.Stage("dbt_tests:fct_verbatims", 0.5),
        stages.Stage("dbt_tests:int_customers_resolved", 2.0),
    ]


def _results_file(target, marker: str) -> None:
    (target / "run_results.json").write_text(json.dumps({"results": [], "marker": marker}))


def test_each_dbt_build_of_the_dag_keeps_its_own_run_results(tmp_path, monkeypatch):
    from ingest import runner, warehouse

    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    monkeypatch.setattr(warehouse, "run_dbt", lambda args: _results_file(tmp_path, args[0]))

    runner.run_dbt_build(["first"], "dbt_build_intermediate")
    runner.run_dbt_build(["second"], "dbt_build")

    kept = {path.name: json.loads(path.read_text())["marker"] for path in tmp_path.glob("run_results.*.json")}
    assert kept == {"run_results.dbt_build_intermediate.json": "first", "run_results.dbt_build.json": "second"}


def test_a_build_that_fails_before_writing_results_keeps_no_copy_of_an_older_builds(tmp_path, monkeypatch):
    from ingest import runner, warehouse

    def fails(args):
        raise RuntimeError("dbt could not connect")

    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path))
    _results_file(tmp_path, "the night before")
    (tmp_path / "run_results.dbt_build.json").write_text("{}")
    monkeypatch.setattr(warehouse, "run_dbt", fails)

    with pytest.raises(RuntimeError, match="could not connect"):
        runner.run_dbt_build(["build"], "dbt_build")

    assert sorted(path.name for path in tmp_path.iterdir()) == ["run_results.json"]


def test_the_enrichment_steps_records_are_the_verbatims_it_analysed():
    runs = [stages.TaskRun("analyse_verbatims", -1, "success", 2.5), stages.TaskRun("dbt_build", -1, "success", 9.0)]

    found = {s.name: s for s in stages.airflow_stages(runs, [], STREAMS, night_seconds=15.0, analysed=1234)}

    assert found["analyse_verbatims"] == stages.Stage("analyse_verbatims", 2.5, 1234)
    assert found["dbt_build"] == stages.Stage("dbt_build", 9.0, None)


def test_what_a_task_returned_is_read_from_the_airflow_metadata_db(tmp_path):
    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table xcom (run_id text, task_id text, map_index int, key text, value text)")
        conn.executemany("insert into xcom values (?, ?, ?, ?, ?)", [
            ("manual__night2", "analyse_verbatims", -1, "return_value",
             json.dumps(json.dumps({"version": "v3", "analysed": 812}))),
            ("manual__night1", "analyse_verbatims", -1, "return_value", json.dumps({"version": "v3", "analysed": 1})),
        ])

    assert stages.read_returned(db, "manual__night2", "analyse_verbatims") == {"version": "v3", "analysed": 812}
    assert stages.read_returned(db, "manual__night2", "dbt_build") is None


def test_task_runs_are_read_for_one_dag_run_from_the_airflow_metadata_db(tmp_path):
    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table task_instance (id text, task_id text, map_index int, run_id text, state text, "
                     "duration float, start_date text, end_date text)")
        conn.executemany("insert into task_instance values (?, ?, ?, ?, ?, ?, ?, ?)", [
            ("01a237f7733b72399298b12c98e57b43", "dbt_build", -1, "manual__night2", "success", 30.5, None, None),
            ("01a237f7733670844b50faeb4cfc8bf0", "publish", -1, "manual__night2", "success", None,
             "2026-03-10 02:00:01.000000", "2026-03-10 02:00:03.500000"),
            ("01a237f7733670844b50faeb4cfc8bf1", "dbt_build", -1, "manual__night1", "success", 99.0, None, None),
        ])

    runs = stages.read_task_runs(db, "manual__night2")

    assert sorted((r.task_id, r.seconds, r.id, r.start) for r in runs) == [
        ("dbt_build", 30.5, "01a237f7733b72399298b12c98e57b43", None),
        ("publish", 2.5, "01a237f7733670844b50faeb4cfc8bf0", datetime(2026, 3, 10, 2, 0, 1, tzinfo=UTC))]


def test_the_stream_of_each_map_index_is_read_from_the_dag_file_as_airflow_sees_it():
    from dags.cxloop_nightly import SOURCE_STREAMS

    assert stages.source_streams() == SOURCE_STREAMS


# -- memory ---------------------------------------------------------------------------------------

def test_each_root_claims_its_whole_process_tree():
    parents = {10: 1, 11: 10, 12: 11, 20: 1, 21: 20, 30: 1}
    assert descendants({10: "airflow", 20: "postgres"}, parents) == {
        10: "airflow", 11: "airflow", 12: "airflow", 20: "postgres", 21: "postgres"}


def test_dbt_under_airflow_counts_apart_and_everything_else_there_as_airflow():
    assert kind_under("airflow", ["/repo/.venv/bin/dbt", "build"]) == "dbt"
    assert kind_under("airflow", ["/repo/.venv/bin/python3", "/repo/.venv/bin/dbt", "build"]) == "dbt"
    assert kind_under("airflow", ["/repo/.venv/bin/python", "/repo/.venv/bin/airflow", "dags", "test"]) == "airflow"
    assert kind_under("postgres", ["postgres: cxloop cxloop 127.0.0.1 idle"]) == "postgres"


def test_the_sampler_keeps_the_peak_of_a_watched_process():
    # The child holds 64 MB until told to go: one sample is sure to see it.
    child = subprocess.Popen([sys.executable, "-c", "import sys; block = bytearray(64 * 2**20); "
                              "block[::4096] = b'x' * len(block[::4096]); print('ready', flush=True); "
                              "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        sampler = MemorySampler()
        sampler.watch(child.pid, "simulators")
        sampler.sample()
    finally:
        child.communicate("")
    peaks = sampler.peaks.by_kind()
    assert peaks["simulators"] >= 64
    assert peaks["airflow"] == peaks["dbt"] == 0


# -- the report -----------------------------------------------------------------------------------

def measurements(size: int, night: int, night_s: float, dbt_s: float, **extra: float) -> list[report.Measurement]:
    rows = [report.Measurement("r1", size, night, "night", seconds=night_s),
            report.Measurement("r1", size, night, "dbt_build", seconds=dbt_s),
            report.Measurement("r1", size, night, "extract_load:typeform.responses", seconds=4.0, records=size * 2),
            report.Measurement("r1", size, night, "rss:airflow", peak_rss_mb=extra.get("airflow_mb", 300.0))]
    if "model_s" in extra:
        rows.append(report.Measurement("r1", size, night, "dbt:dim_customer", seconds=extra["model_s"]))
    return rows


def test_measurements_survive_a_round_trip_through_the_csv(tmp_path):
    rows = measurements(10_000, 1, 120.0, 40.0) + measurements(10_000, 2, 12.0, 6.0)
    path = tmp_path / "run.csv"

    report.write_csv(path, rows)

    assert report.read_csv(path) == rows
    header, first = path.read_text().splitlines()[:2]
    assert header == "run_id,size,night,stage,seconds,records,records_per_s,peak_rss_mb"
    assert first == "r1,10000,1,night,120.000,,,"
    assert "r1,10000,1,extract_load:typeform.responses,4.000,20000,5000.0," in path.read_text()


def test_the_size_table_puts_both_nights_side_by_side_with_their_ratio():
    figures = report.Figures(measurements(10_000, 1, 120.0, 40.0) + measurements(10_000, 2, 12.0, 6.0))

    headers, body = report.size_table(figures, 10_000)

    assert headers[0] == "stage" and headers[-1] == "n2 ÷ n1"
    assert body[0] == ["night", "120.0", "—", "—", "12.0", "—", "—", "0.10"]
    assert body[1] == ["extract_load:typeform.responses", "4.0", "20,000", "5,000", "4.0", "20,000", "5,000",
                       "1.00"]
    assert body[2] == ["dbt_build", "40.0", "—", "—", "6.0", "—", "—", "0.15"]
    assert report.memory_table(figures, 10_000)[1] == [
        ["Airflow (`dags test` and its task processes)", "300", "300"]]


def test_growth_faster_than_the_customers_is_flagged_and_start_up_noise_is_not():
    rows = (measurements(100_000, 1, 600.0, 200.0, model_s=20.0)
            + measurements(1_000_000, 1, 5000.0, 2000.0, model_s=300.0))
    rows.append(report.Measurement("r1", 100_000, 1, "dbt:tiny", seconds=0.05))
    rows.append(report.Measurement("r1", 1_000_000, 1, "dbt:tiny", seconds=0.9))

    _, body = report.growth_table(report.Figures(rows))

    by_stage = {cells[0]: cells for cells in body}
    assert by_stage["dbt:dim_customer"][3:] == ["15.0", "10", "NO"]
    assert by_stage["dbt_build"][3:] == ["10.0", "10", "yes"]
    assert by_stage["dbt:tiny"][5] == "(under 1 s)"
    assert body[0][0] == "dbt:tiny"  # worst growth first


def test_the_issue_targets_are_judged_from_the_figures_of_the_sizes_run():
    rows = (measurements(100_000, 1, 1000.0, 400.0, model_s=20.0) + measurements(100_000, 2, 170.0, 70.0)
            + measurements(1_000_000, 1, 1700.0, 900.0, model_s=200.0)
            + measurements(1_000_000, 2, 290.0, 100.0, airflow_mb=620.0))
    # 18x, but under a second at 1M: start-up noise, not the worst model.
    rows += [report.Measurement("r1", 100_000, 1, "dbt:tiny", seconds=0.05),
             report.Measurement("r1", 1_000_000, 1, "dbt:tiny", seconds=0.9)]

    found = {c.criterion: c for c in report.checks(report.Figures(rows))}

    assert found["100k: night 2 ≤ 0.15 × night 1"] == report.Check("100k: night 2 ≤ 0.15 × night 1", "0.17", False)
    assert found["100k: night 2 ≤ 3 min including Airflow"].passed is True
    assert found["100k: dbt part of night 2 ≤ 60 s"] == report.Check("100k: dbt part of night 2 ≤ 60 s", "70 s", False)
    assert found["1M: night 1 ≤ 30 min"].passed is True
    assert found["1M: night 2 ≤ 5 min"].passed is True
    assert found["100k → 1M: each model's night-1 time ≤ 12× (worst: dbt:dim_customer)"].figure == "10.00"
    airflow = found["1M: peak RSS of Airflow (`dags test` and its task processes) ≤ 500 MB"]
    assert (airflow.figure, airflow.passed) == ("620 MB", False)
    assert found["1M: peak RSS of dbt ≤ 500 MB"].passed is None


def test_night_2s_new_text_is_judged_on_the_enrichment_step_and_the_verbatims_mart_together():
    rows = measurements(100_000, 1, 300.0, 100.0) + measurements(100_000, 2, 40.0, 20.0)
    rows += [report.Measurement("r1", 100_000, 2, "analyse_verbatims", seconds=3.5, records=1_640),
             report.Measurement("r1", 100_000, 2, "dbt:fct_verbatims", seconds=7.0, records=1_700)]

    found = {c.criterion: c for c in report.checks(report.Figures(rows))}

    criterion = "100k: night 2's new text adds ≤ 10 s (analyse_verbatims + dbt:fct_verbatims)"
    assert found[criterion] == report.Check(criterion, "10.5 s (1,640 verbatims analysed)", False)


def test_the_new_text_figure_is_not_judged_without_the_enrichment_step():
    found = {c.criterion: c for c in report.checks(report.Figures(
        measurements(100_000, 1, 300.0, 100.0) + measurements(100_000, 2, 40.0, 20.0)))}

    assert found["100k: night 2's new text adds ≤ 10 s (analyse_verbatims + dbt:fct_verbatims)"].passed is None


def test_a_night_without_new_text_does_not_judge_the_new_text_figure():
    rows = measurements(100_000, 1, 300.0, 100.0) + measurements(100_000, 2, 40.0, 20.0)
    rows += [report.Measurement("r1", 100_000, 2, "analyse_verbatims", seconds=2.2, records=0),
             report.Measurement("r1", 100_000, 2, "dbt:fct_verbatims", seconds=1.0, records=0)]

    criterion = "100k: night 2's new text adds ≤ 10 s (analyse_verbatims + dbt:fct_verbatims)"
    assert {c.criterion: c for c in report.checks(report.Figures(rows))}[criterion] == report.Check(
        criterion, "not measured here: night 2 had no new text (make bench-verbatims)", None)


def test_only_the_targets_of_measured_sizes_are_judged():
    assert report.checks(report.Figures(measurements(10_000, 1, 120.0, 40.0))) == []


def test_the_page_and_chart_are_rendered_from_a_csv_alone(tmp_path):
    csv_path = tmp_path / "bench-scale-r1.csv"
    report.write_csv(csv_path, measurements(10_000, 1, 120.0, 40.0) + measurements(10_000, 2, 12.0, 6.0)
                     + measurements(100_000, 1, 900.0, 300.0) + measurements(100_000, 2, 60.0, 20.0))
    report.meta_path(csv_path).write_text('{"cpus": 2, "memory_gb": 24.0, "python": "3.11.7"}')

    page = report.render(csv_path, tmp_path / "docs", console=False)

    text = page.read_text()
    assert "Machine: 2 CPUs, 24.0 GB memory; Python 3.11.7." in text
    assert "## 10,000 customers" in text and "## 100,000 customers" in text
    assert "| night | 900.0 | — | — | 60.0 | — | — | 0.07 |" in text
    assert "| 100k: night 2 ≤ 0.15 × night 1 | 0.07 | yes |" in text
    assert "| dbt_build | 10,000 → 100,000 | 40.0 → 300.0 | 7.5 | 10 | yes |" in text
    assert "![time per stage against customers](performance.png)" in text
    assert (tmp_path / "docs" / "performance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_is_compared_stage_by_stage_with_an_earlier_one(tmp_path):
    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    report.write_csv(before, measurements(10_000, 1, 120.0, 40.0, airflow_mb=400.0))
    report.write_csv(after, [report.Measurement("r2", m.size, m.night, m.stage, m.seconds, m.records, m.peak_rss_mb)
                             for m in measurements(10_000, 1, 90.0, 40.0, airflow_mb=300.0)])

    _, body = report.comparison_table(report.Figures(report.read_csv(after)), report.Figures(report.read_csv(before)))
    page = report.render(after, tmp_path / "docs", baseline_csv=before, console=False).read_text()

    assert body == [["10,000", "1", "night", "120.0 s", "90.0 s", "0.75"],
                    ["10,000", "1", "dbt_build", "40.0 s", "40.0 s", "1.00"],
                    ["10,000", "1", "rss:airflow", "400.0 MB", "300.0 MB", "0.75"]]
    assert "## Compared with run r1" in page
    assert "| 10,000 | 1 | night | 120.0 s | 90.0 s | 0.75 |" in page


@pytest.mark.parametrize("failed_night", [1, 2])
def test_a_failed_night_is_said_on_the_page(tmp_path, failed_night):
    rows = measurements(10_000, 1, 120.0, 40.0) + [report.Measurement("r1", 10_000, failed_night, "failed",
                                                                      seconds=5.0)]
    text = report.render_markdown(report.Figures(rows), {}, chart=None)
    assert f"**Night {failed_night} failed**" in text



# -- make bench: the enrichment step ---------------------------------------------------------------

def test_the_enrichment_batch_is_reproducible_and_in_every_language_of_the_held_out_set():
    from enrichment import analyse, read_heldout, topics
    from scripts import bench

    texts = bench.verbatims(400)

    assert len(texts) == 400 and texts == bench.verbatims(400)
    detected = {found[0] for found in analyse.analyse(texts, topics.load_taxonomy())}
    assert {verbatim.language for verbatim in read_heldout()} <= detected


def test_the_enrichment_throughput_is_verbatims_per_cpu_second_with_start_up_apart():
    from scripts import bench

    measured = bench.enrichment_throughput(200)

    assert measured["texts"] == 200
    assert measured["per_cpu_second"] == pytest.approx(200 / measured["cpu_seconds"])
    assert measured["startup_cpu_seconds"] >= 0
    cells = bench.enrichment_line(measured).split()
    assert cells[0] == "200" and cells[3] == f"{measured['per_cpu_second']:,.0f}"
