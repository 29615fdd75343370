"""cxloop_nightly: land every configured source, gate each batch, build the warehouse.

Wiring only: the work lives in `ingest` (pull + land), `expectations` (quality gate) and
`dbt_project` (models). Nothing heavy happens at parse time; those imports sit inside tasks.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task, task_group

# Known at parse time without importing the connectors: ingest/runner.py lists the same sources.
SOURCE_STREAMS: dict[str, list[str]] = {
    "hubspot": ["contacts", "companies", "deals"],
    "zendesk": ["tickets", "users", "ticket_metrics", "satisfaction_ratings"],
    "trustpilot": ["reviews"],
    "typeform": ["responses"],
    "files": ["records"],
}
SCHEDULE = os.environ.get("CXLOOP_SCHEDULE", "0 2 * * *")
# `airflow dags test` waits out retry delays for real: the demo and tests set these to 0.
TASK_RETRIES = int(os.environ.get("CXLOOP_TASK_RETRIES", "3"))

DOC = """
### cxloop nightly

For each source with a configured connection: **extract_load** lands each stream into `raw`
(one batch per stream; windows follow the run's data interval and the stream's saved cursor),
then **validate** runs the stream's Great Expectations suite on that batch and quarantines it
when a critical expectation fails. **dbt_build** then builds staging and the marts.

The timetable is a `CronDataIntervalTimetable`: the run for logical date D covers the data
interval [D, D + 1 day) and starts when that interval has closed.
"""


def _window(context: dict) -> tuple[datetime, datetime, bool]:
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or start >= end:
        raise ValueError(f"cxloop_nightly needs a data interval, got [{start}, {end})")
    backfill = str(context["dag_run"].run_type) in ("backfill", "DagRunType.BACKFILL_JOB")
    return start, end, backfill


@task
def extract_load(source: str, stream: str) -> dict | None:
    """Land one stream for this run's interval; returns the batch's counts (None if unconfigured)."""
    from ingest import runner
    from ingest.streams import Window

    start, end, backfill = _window(get_current_context())
    results = runner.run_source(source, Window(start, end), backfill=backfill, streams=[stream])
    if not results:
        return None
    result = results[0]
    return {"source": result.source, "stream": result.stream, "batch_id": result.batch_id,
            "fetched": result.fetched, "landed": result.landed, "rejected": result.rejected}


@task
def validate(batch: dict | None) -> dict | None:
    """Run the stream's suite on the batch; a failed critical expectation quarantines it."""
    if batch is None:
        return None
    from expectations import gate

    return gate.validate_batch(batch["batch_id"]).summary()


@task(trigger_rule="all_done")
def dbt_build() -> None:
    """`dbt build` (run + test) over the whole project, against the resolved warehouse."""
    from ingest import warehouse

    warehouse.run_dbt(["build"])


@task(trigger_rule="one_failed", retries=0)
def watcher() -> None:
    """Fail the run when any task failed: dbt_build runs `all_done`, so it alone would report success."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException("a task of this run failed: see the failed task's log")


@dag(
    dag_id="cxloop_nightly",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC,
    tags=["cxloop"],
    default_args={
        "owner": "cxloop",
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def cxloop_nightly() -> None:
    gates = []
    for source, streams in SOURCE_STREAMS.items():
        @task_group(group_id=source)
        def land_and_gate(streams: list[str] = streams, source: str = source):
            batches = extract_load.partial(source=source).expand(stream=streams)
            return validate.expand(batch=batches)

        gates.append(land_and_gate())
    build = dbt_build()
    gates >> build
    [*gates, build] >> watcher()


cxloop_nightly()
