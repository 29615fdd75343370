"""Where the warehouse lives. Nothing else in cxloop knows.

The warehouse is whatever the Airflow connection `cxloop_warehouse` names. When it is not
configured, an embedded PostgreSQL is started with its data under `$CXLOOP_HOME` (default
`.cxloop/` in the repo; as root, linked from there, see `embedded_postgres`), so a fresh clone
needs nothing installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from dataclasses import dataclass
from urllib.parse import quote

import psycopg

from ingest import settings
from ingest.connections import get_connection
from ingest.schema import ensure_current

CONN_ID = "cxloop_warehouse"
# Created by the migrations and dbt; tests and the summary walk them.
SCHEMAS = ("raw", "staging", "intermediate", "enrichment", "marts", "audit", "followups")


@dataclass(frozen=True)
class Warehouse:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    embedded: bool

    def uri(self, *, show_password: bool = False) -> str:
        secret = ""
        if self.password:
            secret = ":" + (quote(self.password, safe="") if show_password else "***")
        return f"postgresql://{quote(self.user, safe='')}{secret}@{self.host}:{self.port}/{self.dbname}"


def resolve() -> Warehouse:
    """The configured warehouse; starts the embedded one when none is configured."""
    conn = get_connection(CONN_ID)
    if conn is not None:
        return Warehouse(
            host=conn.host or "localhost",
            port=int(conn.port or 5432),
            user=conn.login or "postgres",
            password=conn.password or "",
            dbname=conn.schema or "postgres",
            embedded=False,
        )
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; XDG_RUNTIME_DIR is often unset.
        warnings.simplefilter("ignore")
        from ingest import embedded_postgres
    server = embedded_postgres.ensure_running(settings.cxloop_home(), settings.embedded_port())
    return Warehouse(
        host="127.0.0.1", port=server.port, user=embedded_postgres.SUPERUSER,
        password="", dbname=embedded_postgres.DATABASE, embedded=True,
    )


def connect(warehouse: Warehouse | None = None, **kwargs) -> psycopg.Connection:
    """A new psycopg connection to the warehouse, its schemas and tables migrated to this checkout's."""
    wh = warehouse or resolve()
    conn = psycopg.connect(
        host=wh.host, port=wh.port, user=wh.user, password=wh.password or None, dbname=wh.dbname,
        application_name="cxloop", **kwargs,
    )
    ensure_current(conn)
    return conn


def table_rows(schema: str, tables: list[str], warehouse: Warehouse | None = None) -> dict[str, int]:
    """Row count of each table in `schema`."""
    from psycopg import sql

    with connect(warehouse) as conn:
        return {table: conn.execute(sql.SQL("select count(*) from {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table))).fetchone()[0] for table in tables}


def dbt_env(warehouse: Warehouse | None = None) -> dict[str, str]:
    """Environment for a dbt process: `dbt_project/profiles.yml` reads these variables."""
    wh = warehouse or resolve()
    return {
        "CXLOOP_PG_HOST": wh.host,
        "CXLOOP_PG_PORT": str(wh.port),
        "CXLOOP_PG_USER": wh.user,
        "CXLOOP_PG_PASSWORD": wh.password,
        "CXLOOP_PG_DBNAME": wh.dbname,
    }


def run_dbt(args: list[str], warehouse: Warehouse | None = None, *, quiet: bool = False) -> None:
    """Run a dbt command (e.g. `["build", "--select", "marts"]`) against the warehouse.

    A subprocess rather than dbt's Python API: dbt configures global logging and adapter state,
    which must not leak into an Airflow worker that runs other tasks afterwards. `quiet` keeps
    its output back unless it fails (e.g. `compile`, which prints what it compiled).
    """
    env = {**os.environ, **dbt_env(warehouse)}
    proc = subprocess.run(settings.dbt_command(args), env=env, check=False, capture_output=quiet, text=True)
    if proc.returncode != 0:
        if quiet:
            print(proc.stdout, proc.stderr, sep="\n", file=sys.stderr)
        raise RuntimeError(f"dbt {' '.join(args)} failed with exit code {proc.returncode}; see its output above")


def stop_embedded() -> bool:
    """Stop the embedded warehouse if it runs; True if it was running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ingest import embedded_postgres
    return embedded_postgres.stop(settings.cxloop_home())
