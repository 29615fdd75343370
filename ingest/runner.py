"""Run a source's streams over an interval: read, land, advance the cursor, in one transaction."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from types import ModuleType

from ingest import failures, loader, state, warehouse
from ingest.connections import get_connection
from ingest.streams import BatchResult, Source, Stream, Window

log = logging.getLogger(__name__)

# One module per source in ingest/, each exposing CONN_ID, STREAMS and from_connection(conn).
SOURCES: tuple[str, ...] = ("hubspot", "zendesk", "trustpilot", "typeform", "files")
LANDING_APPLICATION_NAME = "cxloop_landing"


def source_module(name: str) -> ModuleType:
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    return importlib.import_module(f"ingest.{name}")


def streams_of(name: str) -> tuple[Stream, ...]:
    return source_module(name).STREAMS


def build_source(name: str) -> Source | None:
    """The configured connector, or None (logged) when its connection is not set."""
    module = source_module(name)
    conn = get_connection(module.CONN_ID)
    if conn is None:
        log.info("source %s skipped: no Airflow connection %r (set AIRFLOW_CONN_%s)",
                 name, module.CONN_ID, module.CONN_ID.upper())
        return None
    return module.from_connection(conn)


def _history_start(source: Source) -> datetime | None:
    return getattr(source, "history_start", None)


def run_stream(source: Source, stream: Stream, interval: Window, *, backfill: bool = False) -> BatchResult:
    """Land one stream for `interval`; see `state.plan_window` for what a run reads."""
    batch_id = str(uuid.uuid4())
    with warehouse.connect() as conn:
        conn.execute("set time zone 'UTC'")
        with conn.transaction():
            # dbt builds wait for open transactions of this name before they note their start
            # (dbt_project/macros/build_watermarks.sql): rows stamped earlier must be committed.
            conn.execute(f"set local application_name = '{LANDING_APPLICATION_NAME}'")
            state.ensure_table(conn)
            # One run per stream at a time: a second run of the same stream waits here rather
            # than read the same cursor and land the same window twice.
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (stream.table,))
            watermark = state.read_watermark(conn, stream)
            window, may_advance = state.plan_window(
                watermark, interval, lookback=stream.lookback, backfill=backfill,
                history_start=_history_start(source))
            log.info("%s.%s: reading %s .. %s (watermark %s, batch %s)", stream.source, stream.name,
                     window.start or "beginning", window.end, watermark, batch_id)
            result = loader.land(conn, stream, batch_id, window, source.read(stream, window))
            # Sources with bookkeeping of their own (e.g. the file ledger) commit it with the batch.
            on_landed = getattr(source, "on_landed", None)
            if on_landed is not None:
                on_landed(conn, result)
            if may_advance:
                state.advance(conn, stream, interval.end)
    log.info("%s.%s: fetched %d, landed %d (%d new, %d updated), rejected %d%s", stream.source, stream.name,
             result.fetched, result.landed, result.inserted, result.updated, result.rejected,
             f" {result.rejected_reasons}" if result.rejected_reasons else "")
    return result


def prepare_warehouse(names: Sequence[str] = SOURCES) -> None:
    """Create what the models and dashboards read, empty, if it is missing.

    The raw tables of these sources' streams: a source that is not configured, or whose first
    extract failed, must leave empty tables behind rather than break the other sources' models.
    And the audit tables, so a data-health dashboard finds them before anything has failed.
    """
    with warehouse.connect() as conn:
        conn.execute(failures.DDL)
        for name in names:
            for stream in streams_of(name):
                loader.ensure_tables(conn, stream)


def run_source(name: str, interval: Window, *, backfill: bool = False,
               streams: Sequence[str] | None = None) -> list[BatchResult]:
    """Land every (or the named) stream of source `name`; [] when it is not configured."""
    prepare_warehouse([name])
    source = build_source(name)
    if source is None:
        return []
    wanted = [s for s in source.streams if streams is None or s.name in streams]
    return [run_stream(source, stream, interval, backfill=backfill) for stream in wanted]
