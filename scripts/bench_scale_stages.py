"""Where a benchmarked night spent its time, per stage, from what the run left behind.

The Airflow metadata DB gives each task's duration (a mapped extract task's map index names its
stream) and what the enrichment step returned (how many verbatims it analysed),
`audit.load_batches` the records each stream fetched, and the `run_results.json` of each of the
night's two dbt builds (kept per build as `run_results.<task>.json`) each model's and test's
time; dbt's `manifest.json` says which model a test belongs to.

`airflow dags test` stamps a task's start before its first call to the in-process execution
API, and the first such call of a run starts that API (15-25 s here). Left alone, that start-up
would count as work of whichever task ran first, a different stream each night. The run's log
says when the API acknowledged each task ("Task started ... ti_id=…"): the wait until then is
moved from the task to `airflow_overhead:api_startup`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Each source's task group maps these two over its streams: timed per stream, and summed.
GATE_TASK = "validate"
EXTRACT_TASK = "extract_load"
# Tasks that run once per night, timed on their own (`watcher` only runs when something failed).
SINGLE_TASKS = ("dbt_build_intermediate", "analyse_verbatims", "dbt_build", "validate_marts", "data_docs", "publish")
# The task whose returned `analysed` is the count of verbatims it read (enrichment/analyse.py).
ENRICHMENT_TASK = "analyse_verbatims"
TASK_STARTED = re.compile(r"^(\S+) .*\bTask started\b.*\bti_id=([0-9a-fA-F-]{32,36})")


@dataclass(frozen=True)
class TaskRun:
    task_id: str
    map_index: int
    state: str | None
    seconds: float | None
    id: str = ""  # the task instance's UUID, as 32 hex digits
    start: datetime | None = None


@dataclass(frozen=True)
class Batch:
    source: str
    stream: str
    fetched: int
    landed: int


@dataclass(frozen=True)
class Stage:
    name: str
    seconds: float | None
    records: int | None = None


def source_streams() -> dict[str, tuple[str, ...]]:
    """The catalogue's streams by source: the map index of `<source>.extract_load` is the position
    of its stream there, as the DAG maps them. `ingest.catalogue` imports nothing, so the bench
    does not load Airflow."""
    from ingest.catalogue import SOURCE_STREAMS

    return SOURCE_STREAMS


def _utc(text: str | None) -> datetime | None:
    """A timestamp as Airflow's SQLite DB or its log writes it (naive means UTC)."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def read_task_runs(airflow_db: Path, run_id: str) -> list[TaskRun]:
    """Every task instance of one DAG run, from the SQLite metadata DB of a local Airflow."""
    with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "select task_id, map_index, state, duration, start_date, end_date, id from task_instance "
            "where run_id = ?", (run_id,)).fetchall()
    return [TaskRun(task_id, map_index, state,
                    duration if duration is not None else _seconds(_utc(start), _utc(end)),
                    str(ti_id or "").replace("-", "").lower(), _utc(start))
            for task_id, map_index, state, duration, start, end, ti_id in rows]


def read_returned(airflow_db: Path, run_id: str, task_id: str) -> object:
    """What a task of one DAG run returned (its `return_value` XCom), None if it returned nothing."""
    with sqlite3.connect(f"file:{airflow_db}?mode=ro", uri=True) as conn:
        row = conn.execute("select value from xcom where run_id = ? and task_id = ? and map_index = -1 "
                           "and key = 'return_value'", (run_id, task_id)).fetchone()
    value = row[0] if row else None
    # The JSON column holds the task's value serialised to JSON once more: unwrap until it is not text.
    while isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def acknowledged(log_text: str) -> dict[str, datetime]:
    """When the execution API acknowledged each task instance's start, by UUID, from a run's log."""
    found = {}
    for line in log_text.splitlines():
        match = TASK_STARTED.match(line)
        if match:
            found.setdefault(match.group(2).replace("-", "").lower(), _utc(match.group(1)))
    return found


def _less_api_wait(runs: list[TaskRun], acks: dict[str, datetime]) -> tuple[list[TaskRun], float]:
    """Each task's time less its wait for the API to acknowledge it; and the total of those waits."""
    adjusted, waited = [], 0.0
    for run in runs:
        ack = acks.get(run.id)
        if run.seconds is None or run.start is None or ack is None:
            adjusted.append(run)
            continue
        wait = min(max(0.0, (ack - run.start).total_seconds()), run.seconds)
        adjusted.append(replace(run, seconds=run.seconds - wait))
        waited += wait
    return adjusted, waited


def _per_stream(runs: Iterable[TaskRun], task: str, streams: dict[str, list[str]]) -> dict[str, float]:
    """Seconds per `source.stream` of a mapped task that runs once per stream in each source group."""
    seconds: dict[str, float] = {}
    for run in runs:
        source, _, name = run.task_id.partition(".")
        if name != task or source not in streams or run.seconds is None:
            continue
        if 0 <= run.map_index < len(streams[source]):
            seconds[f"{source}.{streams[source][run.map_index]}"] = run.seconds
    return seconds


def _rate_stages(prefix: str, seconds: dict[str, float], records: dict[str, int]) -> list[Stage]:
    stages = [Stage(prefix, sum(seconds.values()), sum(records.get(s, 0) for s in seconds))]
    stages += [Stage(f"{prefix}:{stream}", seconds[stream], records.get(stream)) for stream in sorted(seconds)]
    return stages


def airflow_stages(runs: list[TaskRun], batches: list[Batch], streams: dict[str, list[str]],
                   night_seconds: float, acks: dict[str, datetime] | None = None,
                   analysed: int | None = None) -> list[Stage]:
    """The night's stages from its task instances: each stream's extract-load (with records
    fetched) and gate (records landed), their sums, the single tasks, and what Airflow itself
    took beyond its tasks (start-up, parsing, scheduling) as `airflow_overhead`; with `acks`
    (see `acknowledged`), the API's start-up is moved out of the tasks into the overhead.
    `analysed` is the records of the enrichment step: the verbatims it analysed."""
    runs, api_wait = _less_api_wait(runs, acks or {})
    fetched: dict[str, int] = {}
    landed: dict[str, int] = {}
    for batch in batches:
        key = f"{batch.source}.{batch.stream}"
        fetched[key] = fetched.get(key, 0) + batch.fetched
        landed[key] = landed.get(key, 0) + batch.landed
    stages = [Stage("night", night_seconds)]
    stages += _rate_stages("extract_load", _per_stream(runs, EXTRACT_TASK, streams), fetched)
    stages += _rate_stages("gate", _per_stream(runs, GATE_TASK, streams), landed)
    by_task = {run.task_id: run.seconds for run in runs if run.map_index < 0}
    stages += [Stage(task, by_task[task], analysed if task == ENRICHMENT_TASK else None)
               for task in SINGLE_TASKS if by_task.get(task) is not None]
    in_tasks = sum(run.seconds for run in runs if run.seconds is not None)
    stages.append(Stage("airflow_overhead", max(0.0, night_seconds - in_tasks)))
    if acks:
        stages.append(Stage("airflow_overhead:api_startup", api_wait))
    return stages


def _model_of_test(test_id: str, manifest: dict) -> str:
    """The model a data or unit test checks: its attached node, else its one model dependency."""
    node = manifest.get("nodes", {}).get(test_id) or manifest.get("unit_tests", {}).get(test_id) or {}
    attached = node.get("attached_node") or node.get("model")
    if attached:
        return attached.rsplit(".", 1)[-1] if attached.startswith(("model.", "seed.", "snapshot.")) else attached
    models = [d for d in node.get("depends_on", {}).get("nodes", []) if d.startswith(("model.", "seed."))]
    return models[0].rsplit(".", 1)[-1] if len(models) == 1 else "(cross-model)"


def dbt_stages(builds: Iterable[dict], manifest: dict) -> list[Stage]:
    """`dbt:<node>` per model, seed and snapshot (records: rows affected when dbt reports them) and
    `dbt_tests:<model>` summing the tests of each model, over the `run_results.json` of each of
    the night's builds; singular tests over several models sum under `dbt_tests:(cross-model)`."""
    nodes: dict[str, Stage] = {}
    tests: dict[str, float] = {}
    for result in (result for run_results in builds for result in run_results.get("results", [])):
        unique_id, seconds = result["unique_id"], float(result.get("execution_time") or 0.0)
        kind, name = unique_id.split(".", 1)[0], unique_id.rsplit(".", 1)[-1]
        if kind in ("test", "unit_test"):
            model = _model_of_test(unique_id, manifest)
            tests[model] = tests.get(model, 0.0) + seconds
        elif kind in ("model", "seed", "snapshot"):
            rows = (result.get("adapter_response") or {}).get("rows_affected")
            nodes[name] = Stage(f"dbt:{name}", seconds, rows if isinstance(rows, int) and rows >= 0 else None)
    return [nodes[name] for name in sorted(nodes)] + [Stage(f"dbt_tests:{m}", tests[m]) for m in sorted(tests)]
