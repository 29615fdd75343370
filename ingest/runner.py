"""Run a source's streams over an interval: read, land, advance the cursor, in one transaction."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ingest import catalogue, loader, masking, schema, settings, state, warehouse
from ingest.connections import get_connection
from ingest.read_ahead import read_ahead
from ingest.streams import BatchResult, Source, Stream, Window, as_source

log = logging.getLogger(__name__)

# One module per source in ingest/, each exposing CONN_ID, STREAMS and from_connection(conn).
SOURCES: tuple[str, ...] = catalogue.SOURCES
LANDING_APPLICATION_NAME = "cxloop_landing"
# Where a named build's copy of dbt's run_results.json goes, in dbt's target folder.
BUILD_RESULTS = "run_results.{build}.json"


def source_module(name: str) -> ModuleType:
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    return importlib.import_module(f"ingest.{name}")


def _as_catalogued(name: str, streams: tuple[Stream, ...]) -> tuple[Stream, ...]:
    """`streams`, when they are the ones the catalogue lists for source `name`, in its order."""
    declared = tuple(stream.name for stream in streams)
    if declared != catalogue.SOURCE_STREAMS[name]:
        raise RuntimeError(f"ingest/{name}.py declares the streams {list(declared)} but ingest/catalogue.py "
                           f"lists {list(catalogue.SOURCE_STREAMS[name])}; the DAG maps tasks from the "
                           "catalogue: make them the same")
    return streams


def streams_of(name: str) -> tuple[Stream, ...]:
    return _as_catalogued(name, source_module(name).STREAMS)


def build_source(name: str) -> Source | None:
    """The configured connector, or None (logged) when its connection is not set."""
    module = source_module(name)
    conn = get_connection(module.CONN_ID)
    if conn is None:
        log.info("source %s skipped: no Airflow connection %r (set AIRFLOW_CONN_%s)",
                 name, module.CONN_ID, module.CONN_ID.upper())
        return None
    source = as_source(module.from_connection(conn))
    _as_catalogued(name, source.streams)
    return source


class SecretInErrorError(RuntimeError):
    """Stands in for a source's error whose message held a credential; the message is masked."""


def _masked_errors(pages: Iterator[list[Any]]) -> Iterator[list[Any]]:
    """The source's pages; an error whose message holds a credential is replaced by a masked one.

    The pages are read inside COPY, which sends the text of an error that aborts it to the
    PostgreSQL server (and its log): it must carry no secret, whatever raised it.
    """
    try:
        yield from pages
        return
    except Exception as exc:
        if not masking.holds_secret(str(exc)):
            raise
        masked = masking.describe(exc)
    # Outside the `except` block, so the replacement does not chain the original.
    raise SecretInErrorError(masked)


def run_stream(source: Source, stream: Stream, interval: Window, *, backfill: bool = False) -> BatchResult:
    """Land one stream for `interval`; see `state.plan_window` for what a run reads."""
    source = as_source(source)
    batch_id = str(uuid.uuid4())
    with warehouse.connect() as conn:
        conn.execute("set time zone 'UTC'")
        with conn.transaction():
            # dbt builds wait for open transactions of this name before they note their start
            # (dbt_project/macros/build_watermarks.sql): rows stamped earlier must be committed.
            conn.execute(f"set local application_name = '{LANDING_APPLICATION_NAME}'")
            # One run per stream at a time: a second run of the same stream waits here rather
            # than read the same cursor and land the same window twice.
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (stream.table,))
            watermark = state.read_watermark(conn, stream)
            window, may_advance = state.plan_window(
                watermark, interval, lookback=stream.lookback, backfill=backfill,
                history_start=source.history_start)
            log.info("%s.%s: reading %s .. %s (watermark %s, batch %s)", stream.source, stream.name,
                     window.start or "beginning", window.end, watermark, batch_id)
            source.before_read(conn, stream)
            pages = read_ahead(source.read(stream, window), name=f"read-ahead {stream.table}")
            result = loader.land(conn, stream, batch_id, window, _masked_errors(pages))
            # Sources with bookkeeping of their own (e.g. the file ledger) commit it with the batch.
            source.on_landed(conn, result)
            if may_advance:
                state.advance(conn, stream, interval.end)
    log.info("%s.%s: fetched %d, landed %d (%d new, %d updated), rejected %d%s", stream.source, stream.name,
             result.fetched, result.landed, result.inserted, result.updated, result.rejected,
             f" {result.rejected_reasons}" if result.rejected_reasons else "")
    return result


def prepare_warehouse(names: Sequence[str] = SOURCES) -> None:
    """Create what the models and dashboards read, empty, if it is missing.

    The raw tables of these sources' streams (a source that is not configured, or whose first
    extract failed, must leave empty tables behind rather than break the other sources' models),
    and, through the connection's migrations, the audit tables a data-health dashboard reads.
    """
    with warehouse.connect() as conn, conn.transaction():
        for name in names:
            for stream in streams_of(name):
                schema.ensure_raw_table(conn, stream.table)


def run_source(name: str, interval: Window, *, backfill: bool = False,
               streams: Sequence[str] | None = None) -> list[BatchResult]:
    """Land every (or the named) stream of source `name`; [] when it is not configured."""
    prepare_warehouse([name])
    source = build_source(name)
    if source is None:
        return []
    unknown = sorted(set(streams or ()) - {s.name for s in source.streams})
    if unknown:
        raise ValueError(f"source {name} has no stream {', '.join(unknown)}; "
                         f"streams: {', '.join(s.name for s in source.streams)}")
    wanted = [s for s in source.streams if streams is None or s.name in streams]
    return [run_stream(source, stream, interval, backfill=backfill) for stream in wanted]


def dbt_target_path() -> Path:
    """dbt's target folder as dbt resolves it: `DBT_TARGET_PATH`, else the project's `target/`."""
    return Path(os.environ.get("DBT_TARGET_PATH") or settings.DBT_PROJECT_DIR / "target")


def run_dbt_build(args: list[str], build: str) -> None:
    """Run dbt with `args`, then keep its run_results.json as `run_results.<build>.json`.

    A night runs two builds and dbt writes run_results.json afresh on each, so without a named
    copy the first build's timings are gone by the time anyone looks (the benchmark, an operator
    after a slow night). A failed build keeps its copy too: it says which node failed.
    """
    results, copy = dbt_target_path() / "run_results.json", dbt_target_path() / BUILD_RESULTS.format(build=build)
    copy.unlink(missing_ok=True)
    before = _modified(results)
    try:
        warehouse.run_dbt(args)
    finally:
        # A build that died before writing its results must not pass off an older build's as its own.
        if _modified(results) not in (None, before):
            shutil.copy2(results, copy)


def _modified(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None
