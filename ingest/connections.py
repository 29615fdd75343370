"""Connection lookup through Airflow's own resolution, and what every connector reads from one.

`airflow.sdk.Connection.get` reads `AIRFLOW_CONN_<ID>` (URI or JSON form) and, inside a task,
the metadata DB and any secrets backend, so the CLI, the tests and the DAG all configure
sources the same way.

`source_connection` is the preamble every connector's `from_connection` shares: the base URL,
the credentials checked (a token pasted with its trailing newline is refused here, by name and
never by value, rather than failing later inside requests with the value in the message),
`extra.start_date` and `extra.retry`. It registers the password with `ingest.masking` (and so
with Airflow's log masker).

`base_url` and `path_id` check what a connection puts into a URL: a base URL is `http(s)://host`
with at most a path (no user, password, query or fragment, which would travel or show where a
base URL does), and an id (a form id, a business unit id) is text that goes into one path
segment, quoted by `ingest.http.path_segment`; an id the URL would resolve away (`..`) or that
holds whitespace or a control character (a config pasted with its line break) is refused,
naming the connection and the field.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ingest import masking
from ingest.http import RetryPolicy, path_segment
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
        """The connection's host as a checked base URL, or `default` when it sets none."""
        return base_url(self.host, self.conn_id) if self.host else default


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


_HOSTNAME = re.compile(r"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]+")


def base_url(value: str, conn_id: str, *, example: str = "https://api.example.com") -> str:
    """`value` (a connection's host) if it is an http(s) base URL with nothing a base URL must not carry."""
    refused = f"connection {conn_id}: host must be a base URL such as {example}"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{refused}; it does not parse ({exc})") from None
    del port  # read only to have urlsplit check it
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{refused}, with its scheme")
    if parts.username is not None or parts.password is not None:
        # Not shown: the part before '@' may hold a password.
        raise ValueError(f"{refused}, without a user or password in it (set those in the connection's "
                         "login and password); the value is not shown")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError(f"{refused}, without a query or fragment; got {value!r}")
    if not parts.hostname or not _HOSTNAME.fullmatch(parts.hostname):
        raise ValueError(f"{refused}; {value!r} has no valid host name")
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        raise ValueError(f"{refused}, without '.' or '..' in its path; got {value!r}")
    return value


def path_id(value: Any, conn_id: str, what: str) -> str:
    """`value` as an id that goes into one URL path segment; refused naming `what` of `conn_id`."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"connection {conn_id}: {what} must be text, got {type(value).__name__} {value!r}")
    text = str(value)
    bad = [char for char in text if char.isspace() or unicodedata.category(char).startswith("C")]
    if bad:
        raise ValueError(f"connection {conn_id}: {what} {text!r} holds whitespace or a control character "
                         f"({bad[0]!r}); set it again without it")
    try:
        path_segment(text)
    except ValueError as exc:
        raise ValueError(f"connection {conn_id}: {what} is not a usable id: {exc}") from None
    return text


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
