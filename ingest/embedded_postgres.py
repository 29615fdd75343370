"""The embedded default warehouse: a real PostgreSQL 16 from the `pgserver` wheel.

pgserver's own `get_server()` listens on a Unix socket only and stops the server when the
last Python process using it exits. A warehouse has to outlive the task that started it and
be reachable by BI tools over TCP, so this module drives the same bundled binaries itself:
`initdb` once, then `pg_ctl start` bound to 127.0.0.1 on a fixed port, left running until
`stop()` (`make stop`). pgserver's helpers are reused for the one awkward part, running the
server as an unprivileged system user when we are root.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pgserver._commands import POSTGRES_BIN_PATH
from pgserver.utils import PostmasterInfo

SUPERUSER = "postgres"
DATABASE = "cxloop"
_SYSTEM_USER_WHEN_ROOT = "pgserver"


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path
    port: int

    @property
    def uri(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"


def _run_as_owner(args: list[str]) -> str:
    """Run a PostgreSQL binary as the user that owns the cluster (never root)."""
    user = _SYSTEM_USER_WHEN_ROOT if os.geteuid() == 0 else None
    proc = subprocess.run(args, user=user, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def _prepare_ownership(pgdata: Path) -> None:
    if os.geteuid() != 0:
        return
    import pwd

    from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(_SYSTEM_USER_WHEN_ROOT)
    ensure_prefix_permissions(pgdata)
    entry = pwd.getpwnam(_SYSTEM_USER_WHEN_ROOT)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    # Several task processes may ask for the warehouse at once; only one may initdb/start it.
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _running(pgdata: Path) -> PostmasterInfo | None:
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None and info.is_running() and info.port is not None:
        return info
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def ensure_running(home: Path, port: int) -> EmbeddedServer:
    """Start the embedded server under `home` if it is not running; return where it listens.

    `port=0` picks a free port (tests); a running server keeps the port it was started on.
    """
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pgdata"
    with _exclusive(home / "warehouse.lock"):
        info = _running(pgdata)
        if info is not None:
            return EmbeddedServer(pgdata, int(info.port))
        pgdata.mkdir(exist_ok=True)
        _prepare_ownership(pgdata)
        if not (pgdata / "PG_VERSION").exists():
            _run_as_owner([
                str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata), "-U", SUPERUSER,
                "--auth=trust", "--encoding=UTF8", "--locale=C",
            ])
        if port == 0:
            port = free_port()
        elif _port_taken(port):
            raise RuntimeError(
                f"Port {port} on 127.0.0.1 is already in use, so the embedded warehouse cannot start. "
                "Set CXLOOP_EMBEDDED_PORT to a free port, or point AIRFLOW_CONN_CXLOOP_WAREHOUSE at "
                "the Postgres you want to use."
            )
        # Loopback only, no Unix socket: the socket directory would need to be writable by the
        # unprivileged owner, and every client here speaks TCP anyway.
        options = f"-h 127.0.0.1 -p {port} -c unix_socket_directories=''"
        _run_as_owner([
            str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-t", "60",
            "-l", str(pgdata / "server.log"), "-o", options, "start",
        ])
        server = EmbeddedServer(pgdata, port)
        _ensure_database(server)
        return server


def _ensure_database(server: EmbeddedServer) -> None:
    import psycopg

    admin_uri = f"postgresql://{SUPERUSER}@127.0.0.1:{server.port}/postgres"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE}"')


def stop(home: Path) -> bool:
    """Stop the embedded server under `home`; True if one was running."""
    pgdata = home / "pgdata"
    if not pgdata.exists():
        return False
    with _exclusive(home / "warehouse.lock"):
        if _running(pgdata) is None:
            return False
        _run_as_owner([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"])
        return True
