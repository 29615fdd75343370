"""The credentials this process holds, and text with them masked.

Connectors register every credential as they read their connection (and the HTTP client the
header values it builds from them). Whatever leaves the process as text passes through `redact`
first: a failure record in the warehouse, an error that an aborted COPY sends to the PostgreSQL
server. Registering also hands the value to Airflow's log masker, which covers the task log.

Why not Airflow's masker alone: it skips secrets shorter than its minimum length, its `redact`
is not public API, and ingest runs without Airflow (the CLI, the tests).
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote, quote_plus

MASK = "***"

log = logging.getLogger(__name__)
_known: set[str] = set()
_lock = threading.Lock()


def register(secret: str | None) -> None:
    """Mask `secret` from now on, as it is and as it appears URL-encoded."""
    if not secret:
        return
    with _lock:
        _known.update({secret, quote(secret, safe=""), quote_plus(secret)})
    _mask_in_airflow_logs(secret)


def _mask_in_airflow_logs(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # ingest without Airflow: no task log to protect
        return
    mask_secret(secret)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    with _lock:
        # Longest first: a secret that contains another is masked whole.
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    return text


def describe(exc: BaseException) -> str:
    """`<type>: <message>` of an exception, masked: what may be stored or shown about it."""
    return redact(f"{type(exc).__name__}: {exc}")


def holds_secret(text: str) -> bool:
    return redact(text) != text
