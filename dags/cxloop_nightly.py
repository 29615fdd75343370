"""cxloop_nightly: land every configured source, gate each batch, build the warehouse.

Wiring only: the work lives in `ingest` (pull + land), `expectations` (quality gate) and
`dbt_project` (models). Nothing heavy happens at parse time; those imports sit inside tasks.
The sources and streams come from `ingest.catalogue`, which imports nothing.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task, task_group

from ingest.catalogue import SOURCE_STREAMS, pool

# The marts BI tools read: published as Assets so downstream DAGs run on fresh data, not a clock.
MARTS = ["dim_customer", "bridge_customer_source", "fct_touchpoints", "kpi_nps_daily", "kpi_csat_daily",
         "kpi_ces_daily", "kpi_support_daily", "kpi_reviews_daily", "customer_health", "cx_revenue_monthly",
         "cx_alerts", "identity_quality", "customer_id_history", "customer_wallet", "fct_verbatims",
         "fct_tickets", "kpi_topics_daily", "cx_topic_drivers", "kpi_closed_loop_daily"]
MART_ASSETS = [Asset(name=f"marts.{mart}", uri=f"cxloop://warehouse/marts/{mart}", group="cxloop_marts")
               for mart in MARTS]
SCHEDULE = os.environ.get("CXLOOP_SCHEDULE", "0 2 * * *")
# `airflow dags test` waits out retry delays for real: the demo and tests set these to 0.
TASK_RETRIES = int(os.environ.get("CXLOOP_TASK_RETRIES", "3"))
# Bounded waits: a task that hangs (an API that never answers, a lock never released) fails at
# its timeout and is retried; a run still going at the run timeout is failed and recorded.
TASK_TIMEOUT = timedelta(minutes=int(os.environ.get("CXLOOP_TASK_TIMEOUT_MINUTES", "180")))
RUN_TIMEOUT = timedelta(minutes=int(os.environ.get("CXLOOP_RUN_TIMEOUT_MINUTES", "720")))

DOC = """
### cxloop nightly

For each source with a configured connection, a task group: **extract_load** lands each stream
into `raw` (one mapped task per stream; one batch per stream; windows follow the run's data
interval and the stream's saved cursor; each source's API calls share the pool
`cxloop_<source>`), then **validate** runs the stream's Great Expectations suite on that batch
and quarantines it when a critical expectation fails.

**dbt_build_intermediate** then runs `dbt build` (models and their tests) over the staging and
intermediate models, even when some sources failed (`all_done`): a failed or quarantined
source's staging keeps what it had (its raw rows are unchanged or excluded), so the other
sources' data still reaches the marts. **analyse_verbatims** gives every verbatim not analysed
yet its language, sentiment and topics (`enrichment/`), and **dbt_build** builds the rest of the
project, the marts, on top of both; it runs only when neither failed. Two builds rather than a
task per model: dbt's start-up (~4 s) is paid twice, not 30 times. Each runs the data tests of
what it builds, not dbt's unit tests (those check the SQL, which does not change overnight; `make
test` runs them), and keeps its dbt `run_results.json` as `run_results.<task>.json` in dbt's
target folder.
**discover_topics** clusters the last 30 days' verbatims per language
(`enrichment.discovered_topics`). **close_the_loop** creates a follow-up in the help desk for
each new alert (once, whatever reruns; `followups/`) and sends the night's critical alerts as one
message, both only when the help desk connection's extra asks for them.
**validate_marts** runs the mart suites; **data_docs** renders the gate's results as Data Docs;
**publish** emits the `marts.*` Assets so downstream DAGs start on fresh marts. **watcher**
fails the run when anything failed; every failed task is recorded in `audit.pipeline_failures`.

Every task has an `execution_timeout` (`CXLOOP_TASK_TIMEOUT_MINUTES`, default 180) and the
run a `dagrun_timeout` (`CXLOOP_RUN_TIMEOUT_MINUTES`, default 720): a run that outlives it is
failed by the scheduler, its unfinished tasks skipped, and the timeout recorded in
`audit.pipeline_failures` with task `(run)`.

The timetable is a `CronDataIntervalTimetable`: the run for logical date D covers the data
interval [D, D + 1 day) and starts when that interval has closed.
"""


def _record_failure(context: dict) -> None:
    """Task failure callback: write the failure to the warehouse, then notify if configured."""
    from ingest import failures

    ti = context["ti"]
    group = ti.task_id.split(".")[0]
    source = group if group in SOURCE_STREAMS else None
    stream = None
    if source and ti.task_id.endswith("extract_load") and ti.map_index >= 0:
        stream = SOURCE_STREAMS[source][ti.map_index]
    run = context.get("dag_run")
    failures.record(failures.TaskFailure(
        dag_id=ti.dag_id, task_id=ti.task_id, map_index=ti.map_index, run_id=ti.run_id,
        logical_date=getattr(run, "logical_date", None), try_number=getattr(ti, "try_number", None),
        source=source, stream=stream, error=failures.error_text(context.get("exception"))))
    failures.notify(context)


def _record_run_failure(context: dict) -> None:
    """Run failure callback: record a run that failed as a whole (timed out, deadlocked).

    A run that failed because a task did needs nothing more: that task recorded itself.
    """
    from ingest import failures

    reason = context.get("reason") or "unknown reason"
    if reason == "task_failure":
        return
    dag = context.get("dag")
    run = context.get("dag_run")
    failures.record(failures.TaskFailure(
        dag_id=getattr(dag, "dag_id", "cxloop_nightly"), task_id=failures.RUN_TASK_ID, run_id=context["run_id"],
        logical_date=getattr(run, "logical_date", None),
        error=f"the run failed as a whole: {reason} (run timeout {RUN_TIMEOUT})"))
    failures.notify(context)


def _window(context: dict) -> tuple[datetime, datetime, bool]:
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or start >= end:
        raise ValueError(f"cxloop_nightly needs a data interval, got [{start}, {end})")
    # The task SDK's DagRunType is a str enum whose str() is its member name: compare the value.
    run_type = context["dag_run"].run_type
    backfill = getattr(run_type, "value", run_type) == "backfill"
    logical = context.get("logical_date")
    if backfill and logical is not None and start != logical:
        # A manual run at logical date D covers [D - 1 day, D), a scheduled one [D, D + 1 day).
        # A backfill over D takes over an earlier manual run at D (cleared, same run_id) and
        # with it that run's interval: without this shift the day the backfill was asked for
        # would never be read, and the day before read twice.
        start, end = logical, logical + (end - start)
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


# What the enrichment step reads: the staging and intermediate models and everything they need
# (seeds, sources), with the tests of those alone; the second build is the rest of the project,
# with every test that reaches into it (a relationship from a staging model to a mart's
# parent, a reconciliation across both). Together they run every model and data test once.
# Unit tests check the SQL's logic on fixed inputs, not the night's data: the code is the same
# every night, so they run where the code changes (`make test`, `make dbt ARGS=build`), not here.
NIGHTLY = ["--exclude-resource-type", "unit_test"]
# The score_scales seed too: the enrichment step labels its training text with the scales' bands.
BUILD_BEFORE_ENRICHMENT = ["build", "--select", "+intermediate", "score_scales", "--indirect-selection", "cautious",
                           *NIGHTLY]
BUILD_AFTER_ENRICHMENT = ["build", "--exclude", "+intermediate", "score_scales", "--indirect-selection", "buildable",
                          *NIGHTLY]


# One build at a time across runs (pool cxloop_dbt has one slot): every build replaces the same
# tables, and a backfill runs several days at once. The enrichment step shares the slot: two runs
# analysing the same new texts at once would both write them.
@task(trigger_rule="all_done", pool="cxloop_dbt")
def dbt_build_intermediate() -> None:
    """`dbt build` (run + test) of the staging and intermediate models, against the resolved warehouse."""
    from ingest import runner

    runner.prepare_warehouse()
    runner.run_dbt_build(BUILD_BEFORE_ENRICHMENT, "dbt_build_intermediate")


@task(pool="cxloop_dbt")
def analyse_verbatims() -> dict:
    """Language, sentiment and topics of every verbatim not analysed yet by this analysis version."""
    from enrichment import analyse
    from ingest import warehouse

    with warehouse.connect() as conn:
        run = analyse.analyse_pending(conn)
    return {"version": run.version, "analysed": run.analysed, "model_version": run.model_version,
            "trained": run.trained}


@task(pool="cxloop_dbt")
def discover_topics() -> dict:
    """Term clusters over the last 30 days' verbatims per language, for analysts to promote into the taxonomy."""
    from enrichment import discover
    from ingest import warehouse

    _, end, _ = _window(get_current_context())
    with warehouse.connect() as conn:
        run = discover.discover_recent(conn, window_end=end)
    return {"window_start": run.window_start.isoformat(), "clusters": run.clusters, "skipped": list(run.skipped)}


@task(trigger_rule="none_failed", pool="cxloop_dbt")
def dbt_build() -> None:
    """`dbt build` (run + test) of the marts and the rest of the project, on the models and analyses before it."""
    from ingest import runner

    runner.prepare_warehouse()
    runner.run_dbt_build(BUILD_AFTER_ENRICHMENT, "dbt_build")


@task
def close_the_loop() -> dict:
    """Create the night's follow-ups in the help desk (once each) and tell the CX team about critical alerts."""
    from followups import run
    from ingest import warehouse

    context = get_current_context()
    start, end, backfill = _window(context)
    # Autocommit: each follow-up is its own transaction (followups/outbox.py), committed as it goes.
    with warehouse.connect(autocommit=True) as conn:
        return run.close_the_loop(conn, start, end, dict(context), backfill=backfill)


@task
def validate_marts() -> list[dict]:
    """The mart suites (KPIs in range, counts consistent); a critical failure fails the task."""
    from expectations import gate

    return [v.summary() for v in gate.validate_marts()]


@task(trigger_rule="all_done")
def data_docs() -> str:
    """Render the quality gate's recent results as Great Expectations Data Docs."""
    from expectations import data_docs as docs

    return str(docs.build())


@task(outlets=MART_ASSETS)
def publish() -> dict[str, int]:
    """Announce fresh marts: an Asset event per mart, carrying its row count, starts downstream DAGs."""
    from ingest import warehouse

    rows = warehouse.table_rows("marts", MARTS)
    events = get_current_context()["outlet_events"]
    for mart, asset in zip(MARTS, MART_ASSETS, strict=True):
        events[asset].extra = {"rows": rows[mart]}
    return rows


# Its own failure only repeats the failures already recorded by the tasks that failed.
@task(trigger_rule="one_failed", retries=0, on_failure_callback=[])
def watcher() -> None:
    """Fail the run when any task failed: dbt_build_intermediate runs `all_done`, so it alone would report success."""
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
    dagrun_timeout=RUN_TIMEOUT,
    on_failure_callback=_record_run_failure,
    default_args={
        "owner": "cxloop",
        "retries": TASK_RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": _record_failure,
        "execution_timeout": TASK_TIMEOUT,
    },
)
def cxloop_nightly() -> None:
    gates = []
    for source, streams in SOURCE_STREAMS.items():
        @task_group(group_id=source)
        def land_and_gate(streams: tuple[str, ...] = streams, source: str = source):
            # Mapped tasks do not take doc_md from the docstring as plain tasks do: pass it on.
            batches = (extract_load.override(pool=pool(source), doc_md=extract_load.function.__doc__)
                       .partial(source=source).expand(stream=list(streams)))
            return validate.override(doc_md=validate.function.__doc__).expand(batch=batches)

        gates.append(land_and_gate())
    upstream, analysed, build = dbt_build_intermediate(), analyse_verbatims(), dbt_build()
    discovered, checked, looped = discover_topics(), validate_marts(), close_the_loop()
    gates >> upstream >> analysed >> build >> checked >> publish()
    analysed >> discovered
    # Tickets created and messages sent cannot be taken back: only once the marts passed their checks.
    checked >> looped
    checked >> data_docs()
    [*gates, upstream, analysed, discovered, build, checked, looped] >> watcher()


cxloop_nightly()
