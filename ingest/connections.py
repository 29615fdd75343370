"""Connection lookup through Airflow's own resolution, inside or outside a running task.

`airflow.sdk.Connection.get` reads `AIRFLOW_CONN_<ID>` (URI or JSON form) and, inside a task,
the metadata DB and any secrets backend, so the CLI, the tests and the DAG all configure
sources the same way. It also registers passwords with Airflow's log masker.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection `conn_id`, or None when it is not configured anywhere."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
