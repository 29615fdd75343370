"""Validate one landed batch with its stream's suite; quarantine it when a critical check fails.

The batch is read in the warehouse through GX's SQL datasource (a query asset over the
stream's projection, `projections/<source>_<stream>.sql`), so rows are never pulled into
pandas. Every run is recorded in `audit.validation_runs` and every failed expectation in
`audit.validation_failures`, with its observed value and severity. A failed critical expectation
sets the batch's status to `quarantined`, which keeps its rows out of staging.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from expectations import data_docs
from expectations.definitions import MART_SUITES, MIN_ROWS, mart_table
from expectations.projections import batch_query
from expectations.validation import Failure, Validation, load_suite
from ingest import warehouse
from ingest.catalogue import raw_table

log = logging.getLogger(__name__)

_URL_VARIABLE = "CXLOOP_GX_WAREHOUSE_URL"
# Where a batch under validation is materialised (ingest/migrations/0004_gate_scratch.sql).
SCRATCH_SCHEMA = "gate_scratch"
__all__ = ["BatchQuarantined", "Failure", "MartCheckFailed", "Validation", "run_mart_suite", "run_suite",
           "validate_batch", "validate_marts"]


class BatchQuarantined(RuntimeError):
    """A critical expectation failed; the message lists each failure and its observed value."""


class MartCheckFailed(RuntimeError):
    """A critical expectation on a mart failed: a KPI a dashboard shows would be wrong."""


# The volume bound: with at least this many earlier batches, a batch under a tenth of their
# median size is suspicious (an export that silently returned nothing).
VOLUME_HISTORY, VOLUME_MIN_BATCHES, VOLUME_SHARE = 14, 3, 0.1


def min_expected_rows(conn, name: str, batch_id: str) -> int:
    """The fewest rows batch `batch_id` of stream `name` should hold, judged on what the source returned.

    The bound is a tenth of the median that the stream's recent batches fetched. It is compared
    with the batch's own fetched count, not its rows in raw: a rerun fetches records that raw
    already has unchanged, and those keep the batch that first landed them. When the source
    returned enough, the bound is 0; when it did not, the batch's rows (at most what it fetched)
    fall short of it and the warning shows them.
    """
    batches, median, fetched = conn.execute(
        """select count(*), percentile_disc(0.5) within group (order by fetched),
                  (select fetched from audit.load_batches where batch_id = %s)
           from (select fetched from audit.load_batches
                 where source || '_' || stream = %s and batch_id <> %s and status <> 'quarantined'
                 order by loaded_at desc limit %s) as recent""",
        (batch_id, name, batch_id, VOLUME_HISTORY)).fetchone()
    if batches < VOLUME_MIN_BATCHES or not median:
        return 0
    bound = math.ceil(median * VOLUME_SHARE)
    return bound if (fetched or 0) < bound else 0


def _sqlalchemy_url(wh: warehouse.Warehouse, schema: str) -> str:
    secret = f":{quote(wh.password, safe='')}" if wh.password else ""
    # The schema GX's table assets are found in: its Postgres datasource has none of its own,
    # and an asset's schema_name is deprecated.
    options = quote(f"-csearch_path={schema}", safe="")
    return (f"postgresql+psycopg://{quote(wh.user, safe='')}{secret}@{wh.host}:{wh.port}/{wh.dbname}"
            f"?options={options}")


def _failure(result: Any) -> Failure:
    config = result.expectation_config
    details = result.result or {}
    severity = getattr(config.severity, "value", config.severity) or "critical"
    return Failure(
        expectation=config.type if config.type != "unexpected_rows_expectation"
        else f"unexpected_rows_expectation ({config.description})",
        column=config.kwargs.get("column"),
        severity=str(severity),
        observed_value=details.get("observed_value"),
        unexpected_count=details.get("unexpected_count", details.get("observed_value")
                                     if config.type == "unexpected_rows_expectation" else None),
        sample=list(details.get("partial_unexpected_list") or [])[:20],
    )


def _context(wh: warehouse.Warehouse, schema: str):
    """An in-memory GX context with the warehouse's `schema` as its SQL datasource.

    Validations read tables, not queries: GX learns a query asset's columns by running the
    whole query and reading only its column names, which pulled every row of a batch (or a
    mart) into this process, hundreds of MB at a million customers; a table's it reads from
    the catalogue.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # GX logs every metric at INFO; its failures reach our log through the results instead.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX substitutes ${VAR} from the environment, so the password never sits in its config.
    os.environ[_URL_VARIABLE] = _sqlalchemy_url(wh, schema)
    context = gx.get_context(mode="ephemeral")
    # Progress bars are written to stderr per metric batch: noise in a task log.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_postgres(name="warehouse", connection_string="${" + _URL_VARIABLE + "}")
    return context, source


def _validation(name: str, batch_id: str | None, rows: int, result: Any) -> Validation:
    failures = [_failure(r) for r in result.results if not r.success]
    return Validation(str(uuid.uuid4()), batch_id, name, rows, len(result.results), failures,
                      result=result.to_json_dict())


def run_suite(name: str, batch_id: str, wh: warehouse.Warehouse | None = None) -> Validation:
    """Validate batch `batch_id` of stream table `name` (e.g. typeform_responses); no side effects.

    The batch's projection is materialised once in `gate_scratch` (migration 0004) and every
    expectation reads that table, rather than each re-parsing the batch's JSON; it is dropped
    afterwards, whatever happens.
    """
    wh = wh or warehouse.resolve()
    context, source = _context(wh, SCRATCH_SCHEMA)
    suite = context.suites.add(load_suite(name))
    query = batch_query(name, batch_id, (suite.meta or {}).get("known_fields"))
    table = f"{name}__{batch_id.replace('-', '')}"
    scratch = sql.Identifier(SCRATCH_SCHEMA, table)
    with warehouse.connect(wh, autocommit=True) as conn:
        parameters = {MIN_ROWS: min_expected_rows(conn, name, batch_id)}
        conn.execute(sql.SQL("drop table if exists {}").format(scratch))
        # The query is ours (a projection file and a batch id), composed as text.
        conn.execute(sql.SQL("create unlogged table {} as ").format(scratch) + sql.SQL(query))  # noqa: S608
        rows = conn.execute(sql.SQL("select count(*) from {}").format(scratch)).fetchone()[0]
        try:
            batch = source.add_table_asset(name=table, table_name=table).add_batch_definition_whole_table(
                "batch").get_batch()
            result = batch.validate(suite, expectation_parameters=parameters)
        finally:
            conn.execute(sql.SQL("drop table if exists {}").format(scratch))
    return _validation(name, batch_id, rows, result)


def run_mart_suite(suite_name: str, wh: warehouse.Warehouse | None = None) -> Validation | None:
    """Validate the mart a mart suite checks; None when the mart has not been built."""
    wh = wh or warehouse.resolve()
    table = mart_table(suite_name)
    with warehouse.connect(wh) as conn:
        if not conn.execute("select to_regclass(%s) is not null", (f"marts.{table}",)).fetchone()[0]:
            return None
        (rows,) = conn.execute(f'select count(*) from marts."{table}"').fetchone()
    context, source = _context(wh, "marts")
    suite = context.suites.add(load_suite(suite_name))
    asset = source.add_table_asset(name=table, table_name=table)
    result = asset.add_batch_definition_whole_table("mart").get_batch().validate(suite)
    return _validation(suite_name, None, rows, result)


def _record(conn, validation: Validation, outcome: str) -> None:
    conn.execute(
        """insert into audit.validation_runs (validation_id, batch_id, suite, success, evaluated,
               failed_critical, failed_warning, rows_validated, outcome)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (validation.validation_id, validation.batch_id, validation.suite, not validation.critical,
         validation.evaluated, len(validation.critical), len(validation.warnings), validation.rows, outcome),
    )
    for failure in validation.failures:
        conn.execute(
            """insert into audit.validation_failures (validation_id, batch_id, suite, expectation, column_name,
                   severity, observed_value, unexpected_count, sample)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (validation.validation_id, validation.batch_id, validation.suite, failure.expectation, failure.column,
             failure.severity, None if failure.observed_value is None else str(failure.observed_value),
             failure.unexpected_count, json.dumps(failure.sample, default=str)),
        )


def _restamp(conn: psycopg.Connection, table: str, batch_id: str) -> None:
    """Stamp a released batch's rows as landed now: dbt's incremental models read rows by their
    landing stamp (dbt_project/macros/build_watermarks.sql), and these were held back until now."""
    from ingest.runner import LANDING_APPLICATION_NAME

    conn.execute(f"set local application_name = '{LANDING_APPLICATION_NAME}'")
    conn.execute(sql.SQL("update raw.{} set _loaded_at = now() where _batch_id = %s").format(sql.Identifier(table)),
                 (batch_id,))


def validate_batch(batch_id: str, *, release: bool = False) -> Validation:
    """Gate batch `batch_id`: record the validation and set the batch's status.

    With `release=True` (re-validation after a fix) a passing batch is marked `released`.
    Raises BatchQuarantined when a critical expectation fails.
    """
    wh = warehouse.resolve()
    with warehouse.connect(wh) as conn:
        row = conn.execute("select source, stream, status from audit.load_batches where batch_id = %s",
                           (batch_id,)).fetchone()
    if row is None:
        raise LookupError(f"no landed batch {batch_id} in audit.load_batches")
    source, stream, previous = row
    name = raw_table(source, stream)
    validation = run_suite(name, batch_id, wh)
    outcome = validation.outcome
    if release and outcome != "quarantined":
        outcome = "released"
    with warehouse.connect(wh) as conn, conn.transaction():
        _record(conn, validation, outcome)
        conn.execute("update audit.load_batches set status = %s where batch_id = %s", (outcome, batch_id))
        if outcome == "released":
            _restamp(conn, name, batch_id)
    data_docs.keep(validation)
    log.info("%s batch %s: %s (%d rows, %d expectations, %d critical failures, %d warnings)", name, batch_id,
             outcome, validation.rows, validation.evaluated, len(validation.critical), len(validation.warnings))
    for failure in validation.failures:
        log.warning("%s batch %s: %s", name, batch_id, failure.describe())
    if validation.critical:
        raise BatchQuarantined(
            f"{name} batch {batch_id} quarantined (was {previous}): "
            + "; ".join(f.describe() for f in validation.critical))
    return validation


def validate_marts(wh: warehouse.Warehouse | None = None) -> list[Validation]:
    """Run every mart suite on the built marts; record each run; raise if a critical check failed.

    A mart that has not been built yet (its source never configured) is skipped with a log line.
    """
    wh = wh or warehouse.resolve()
    validations = []
    for suite_name in MART_SUITES:
        validation = run_mart_suite(suite_name, wh)
        if validation is None:
            log.info("%s skipped: marts.%s has not been built", suite_name, mart_table(suite_name))
            continue
        outcome = "failed" if validation.critical else validation.outcome
        with warehouse.connect(wh) as conn, conn.transaction():
            _record(conn, validation, outcome)
        data_docs.keep(validation)
        log.info("%s: %s (%d rows, %d expectations)", suite_name, outcome, validation.rows, validation.evaluated)
        for failure in validation.failures:
            log.warning("%s: %s", suite_name, failure.describe())
        validations.append(validation)
    failed = [v for v in validations if v.critical]
    if failed:
        raise MartCheckFailed("; ".join(
            f"{v.suite}: " + ", ".join(f.describe() for f in v.critical) for v in failed))
    return validations
