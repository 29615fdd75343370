"""Record failed pipeline tasks in the warehouse, and optionally tell someone.

`audit.pipeline_failures` is the history a data-health dashboard reads next to the quality
gate's tables: which task of which run failed, for which source and stream, with what error.
The error is stored, and shown to notifiers, with every known credential masked
(`ingest.masking`): never `repr(exception)`, whose arguments may hold a header value.
Notification is off by default; it is a hook around Airflow's own notifiers (see
docs/operations.md): `CXLOOP_NOTIFY_EMAIL` sends mail through Airflow's SMTP connection, and
`CXLOOP_FAILURE_NOTIFIER` names any notifier class (e.g. the Slack provider's) with its
arguments as JSON in `CXLOOP_FAILURE_NOTIFIER_ARGS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest import masking, notifiers, warehouse

log = logging.getLogger(__name__)

# A whole traceback belongs in the task log; the table keeps what a dashboard can show.
MAX_ERROR_CHARS = 2000
# The task_id of a failure of the run as a whole (its timeout), not of one of its tasks.
RUN_TASK_ID = "(run)"


@dataclass
class TaskFailure:
    """One failed task (or run: `task_id` is then `RUN_TASK_ID`); `error` is masked when recorded."""

    dag_id: str
    task_id: str
    run_id: str
    error: str
    map_index: int = -1
    logical_date: datetime | None = None
    try_number: int | None = None
    source: str | None = None
    stream: str | None = None


def error_text(exception: BaseException | str | None) -> str:
    """What the failure table and notifiers may show of `exception`: type and message, masked."""
    if exception is None:
        return "unknown error (the task failed without an exception)"
    if isinstance(exception, BaseException):
        return masking.describe(exception)
    return masking.redact(exception)


def record(failure: TaskFailure) -> None:
    with warehouse.connect() as conn, conn.transaction():
        conn.execute(
            """insert into audit.pipeline_failures (dag_id, task_id, map_index, run_id, logical_date, try_number,
                   source, stream, error)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (failure.dag_id, failure.task_id, failure.map_index, failure.run_id, failure.logical_date,
             failure.try_number, failure.source, failure.stream, masking.redact(failure.error)[:MAX_ERROR_CHARS]))
    log.info("recorded the failure of %s.%s[%s] (%s) in audit.pipeline_failures", failure.dag_id, failure.task_id,
             failure.map_index, failure.run_id)


def notify(context: Any) -> None:
    """Send the configured failure notifications; a notifier that fails is logged, never raised.

    Notifiers render `{{ exception }}` from the context: they get its masked text.
    """
    if context.get("exception") is not None:
        context = {**context, "exception": error_text(context["exception"])}
    notifiers.send("failure", subject="cxloop: {{ ti.dag_id }}.{{ ti.task_id }} failed ({{ run_id }})",
                   html_content="{{ ti.task_id }} of {{ run_id }} failed: {{ exception }}. "
                                "See audit.pipeline_failures and the task log.", context=context)
