"""Connection lookup through Airflow's own resolution, and what every connector reads from one.

`airflow.sdk.Connection.get` reads `AIRFLOW_CONN_<ID>` (URI or JSON form) and, inside a task,
the metadata DB and any secrets backend, so the CLI, the tests and the DAG all configure
sources the same way.

`source_connection` is the preamble every connector's `from_connection` shares: the base URL,
the credentials checked (a token pasted with its trailing newline is refused here, by name and
never by value, rather than failing later inside requests with the value in the message),
`extra.start_date` and `extra.retry`. It registers the password with `ingest.masking` (and so
with Airflow's log masker).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest import masking
from ingest.http import RetryPolicy
from ingest.streams import RecordError, parse_timestamp

log = logging.getLogger(__name__)


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection `conn_id`, or None when it is not configured anywhere."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


@dataclass(frozen=True)
class SourceConnection:
    """A source's connection, checked: credentials clean, start date and retry policy parsed."""

    conn_id: str
    host: str | None
    login: str | None
    password: str | None = field(repr=False)
    extra: dict[str, Any]
    history_start: datetime | None
    retry: RetryPolicy

    def base_url(self, default: str) -> str:
        return self.host or default


def source_connection(conn: Any, conn_id: str, *, password: str | None = None,
                      login: str | None = None) -> SourceConnection:
    """Read `conn` for source connection `conn_id`.

    `password` and `login` say what those fields hold (e.g. "the private-app token") when the
    source requires them; a missing one is refused with that description.
    """
    for value, what, required in ((conn.login, f"{login or 'the login'} (connection login)", login),
                                  (conn.password, f"{password or 'the password'} (connection password)", password)):
        if required and not value:
            raise ValueError(f"connection {conn_id}: {what} is not set")
        check_credential(value, conn_id, what)
    masking.register(conn.password)
    extra = dict(conn.extra_dejson or {})
    return SourceConnection(conn_id=conn_id, host=conn.host or None, login=conn.login or None,
                            password=conn.password or None, extra=extra,
                            history_start=_start_date(extra, conn_id), retry=_retry(extra, conn_id))


def check_credential(value: str | None, conn_id: str, what: str) -> None:
    """Refuse a credential holding whitespace or a control character, naming where, never the value."""
    if not value:
        return
    bad = [i for i, char in enumerate(value) if char.isspace() or unicodedata.category(char).startswith("C")]
    if not bad:
        return
    if bad[-1] == len(value) - 1:
        where = "ends with a line break, space or control character (pasted from a file or a secrets manager?)"
    elif bad[0] == 0:
        where = "starts with a space, line break or control character"
    else:
        where = f"contains a space, line break or control character (character {bad[0] + 1})"
    raise ValueError(f"connection {conn_id}: {what} {where}; set it again without it. "
                     "The value is not shown.")


def _start_date(extra: dict[str, Any], conn_id: str) -> datetime | None:
    start = extra.get("start_date")
    if not start:
        return None
    try:
        return parse_timestamp(start)
    except RecordError as exc:
        raise ValueError(f"connection {conn_id}: extra.start_date: {exc}") from None


def _retry(extra: dict[str, Any], conn_id: str) -> RetryPolicy:
    try:
        return RetryPolicy.from_extra(extra.get("retry"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"connection {conn_id}: extra.retry: {exc}") from None
