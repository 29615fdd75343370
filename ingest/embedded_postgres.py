"""The embedded default warehouse: a real PostgreSQL 16 from the `pgserver` wheel.

pgserver's own `get_server()` listens on a Unix socket only and stops the server when the
last Python process using it exits. A warehouse has to outlive the task that started it and
be reachable by BI tools over TCP, so this module drives the same bundled binaries itself:
`initdb` once, then `pg_ctl start` bound to 127.0.0.1 on a fixed port, left running until
`stop()` (`make stop`).

As a normal user the server runs as that user, with its data in `$CXLOOP_HOME/pgdata`.

PostgreSQL refuses to run as root, so as root it runs as the system user `pgserver`. That user
must reach the binaries and the data, but the clone (the venv's binaries) and `$CXLOOP_HOME`
often sit in a mode-700 folder (`/root`, `mktemp -d`). pgserver's answer is to chmod every
parent folder up to `/`, which silently opens a private folder to every local account. Instead,
as root everything the server user needs lives in a folder cxloop owns,
`$CXLOOP_EMBEDDED_DIR` (default `/var/lib/cxloop`):

    pgserver-<version>/              a world-readable copy of the wheel's PostgreSQL
    warehouses/<random id>/home      the `$CXLOOP_HOME` this warehouse belongs to
    warehouses/<random id>/pgdata/   the data, owned by `pgserver`, mode 700

and `$CXLOOP_HOME/pgdata` is a symlink to its data, so a restart finds the same data again.
Why there: `/var/lib` is where root-run services keep persistent state; it is root-owned and
traversable by every account on common systems, and only root can write it, unlike `/tmp`,
which is cleaned at boot and where another account could plant a folder at a predictable
name. A copy of the binaries (about 27 MB, once per pgserver version) rather than hard links,
because links would share the venv files' modes, which a umask of 077 leaves unreadable.
Copies for pgserver versions no longer installed are not removed; delete them by hand.

cxloop never changes the mode of a folder it did not create. If the server user cannot reach
the folder, or the folder is writable by others, starting fails with a message saying which
folder and what to do.

Each home gets a new random id rather than a hash of its path, so a new home at the path of a
removed one (`make clean`) starts empty. `make clean` stops the server before removing the
home; the data of a home that is gone (or no longer links to it) is removed, its server
stopped first if it still runs, the next time any cxloop starts an embedded server as root.

A data folder made inside `$CXLOOP_HOME` by an older cxloop is used where it is, when the
server user can reach it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import shutil
import socket
import stat
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from pgserver._commands import POSTGRES_BIN_PATH
from pgserver.utils import PostmasterInfo

SUPERUSER = "postgres"
DATABASE = "cxloop"
SERVER_USER_WHEN_ROOT = "pgserver"
SHARED_DIR_ENV = "CXLOOP_EMBEDDED_DIR"
DEFAULT_SHARED_DIR = Path("/var/lib/cxloop")
_log = logging.getLogger(__name__)
_WAREHOUSE_CONN_HINT = (
    "Or set AIRFLOW_CONN_CXLOOP_WAREHOUSE to a PostgreSQL you run, and no embedded server is started."
)


class EmbeddedServerError(RuntimeError):
    """The embedded warehouse could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedServer:
    pgdata: Path
    port: int

    @property
    def uri(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"


@dataclass(frozen=True)
class _Layout:
    """Where one home's server keeps its data, which binaries run it, and as whom (None: us)."""

    pgdata: Path
    bindir: Path
    owner: pwd.struct_passwd | None


def _warehouse_error(why: str, fix: str, action: str = "start") -> EmbeddedServerError:
    return EmbeddedServerError(f"The embedded warehouse cannot {action}: {why}. {fix} {_WAREHOUSE_CONN_HINT}")


def shared_dir() -> Path:
    """The folder holding the server's binaries and data when cxloop runs as root."""
    return Path(os.environ.get(SHARED_DIR_ENV) or DEFAULT_SHARED_DIR).absolute()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


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


def _run(layout: _Layout, args: list[str], action: str = "start") -> str:
    """Run a PostgreSQL binary as the user that owns the cluster (never root)."""
    as_owner = {}
    if layout.owner is not None:
        # Its own group too, not root's, and a working folder it can enter.
        as_owner = {"user": layout.owner.pw_uid, "group": layout.owner.pw_gid, "extra_groups": [], "cwd": "/"}
    name = Path(args[0]).name
    try:
        proc = subprocess.run(args, capture_output=True, text=True, check=False, **as_owner)
    except OSError as exc:
        raise _warehouse_error(f"{name} could not be run from {layout.bindir}: {exc.strerror}",
                            f"Check that {layout.bindir} holds PostgreSQL's binaries (`make install`).",
                            action) from exc
    if proc.returncode != 0:
        log = layout.pgdata / "server.log"
        raise _warehouse_error(
            f"{name} failed ({proc.returncode}): {proc.stderr.strip()}{_log_tail(log)}",
            f"Its data folder is {layout.pgdata} and its log {log}; fix what they say, or remove the data "
            f"folder (`make clean` removes all of $CXLOOP_HOME) to start from an empty warehouse.",
            action,
        )
    return proc.stdout


def _log_tail(log: Path, lines: int = 5) -> str:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return "\n  " + "\n  ".join(tail) if tail else ""


def _make_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
        (home / "warehouse.lock").touch()
    except OSError as exc:
        raise _warehouse_error(f"its home {home} cannot be used ({exc.strerror})",
                            "Set CXLOOP_HOME to a folder this user can write.") from exc


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER_WHEN_ROOT)
    except KeyError:
        pass
    create = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
              SERVER_USER_WHEN_ROOT]
    try:
        proc = subprocess.run(create, capture_output=True, text=True, check=False)
    except OSError as exc:
        proc = subprocess.CompletedProcess(create, 127, "", exc.strerror)
    if proc.returncode != 0:
        raise _warehouse_error(
            f"PostgreSQL does not run as root, and the system user {SERVER_USER_WHEN_ROOT!r} could not be "
            f"created: {proc.stderr.strip()}",
            f"Create a system user named {SERVER_USER_WHEN_ROOT!r}, or run cxloop as a normal user.",
        )
    return pwd.getpwnam(SERVER_USER_WHEN_ROOT)


def _can_traverse(folder: Path, user: pwd.struct_passwd) -> bool:
    info = folder.stat()
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == user.pw_gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _first_closed_parent(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The outermost folder above `path` that `user` may not enter, if any."""
    closed = [parent for parent in path.parents if not _can_traverse(parent, user)]
    return closed[-1] if closed else None


def _make_owned_dir(folder: Path) -> None:
    """Create `folder` and its missing parents, readable by the server user whatever the umask."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for created in reversed(missing):
        created.mkdir(exist_ok=True)
        created.chmod(0o755)  # we just made it, so it is ours to open


def _prepare_shared_dir(user: pwd.struct_passwd) -> Path:
    shared = shared_dir()
    fix = f"Set {SHARED_DIR_ENV} to a root-owned folder that user {user.pw_name!r} can reach."
    try:
        _make_owned_dir(shared)
        info = shared.stat()
    except OSError as exc:
        raise _warehouse_error(f"{shared} cannot be created ({exc.strerror})", fix) from exc
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        # Others could swap the binaries the server runs.
        raise _warehouse_error(f"{shared} must be owned by root and writable by nobody else "
                            f"(it is mode {stat.S_IMODE(info.st_mode):o}, owner uid {info.st_uid})", fix)
    closed = _first_closed_parent(shared / "pgdata", user)
    if closed is not None:
        raise _warehouse_error(
            f"the server runs as user {user.pw_name!r}, which cannot enter {closed} "
            f"(mode {stat.S_IMODE(closed.stat().st_mode):o}) on the way to {shared}; cxloop changes the mode of "
            "no folder it did not create", fix)
    return shared


def _binaries_copy(shared: Path) -> Path:
    """A copy of the wheel's PostgreSQL that the server user can read; made once per pgserver version."""
    site = POSTGRES_BIN_PATH.parents[2]
    # The binaries find their vendored libraries (libpq) through a relative RPATH into
    # site-packages/pgserver.libs, so the copy keeps that shape.
    parts = [site / "pgserver.libs", *(POSTGRES_BIN_PATH.parent / name for name in ("bin", "lib", "share"))]
    target = shared / f"pgserver-{version('pgserver')}"
    bindir = target / POSTGRES_BIN_PATH.relative_to(site)
    if (target / ".complete").exists():
        return bindir
    for interrupted in shared.glob(f".{target.name}.*"):  # we hold the lock: no copy is in progress
        shutil.rmtree(interrupted, ignore_errors=True)
    staging = shared / f".{target.name}.{uuid.uuid4().hex}"
    for part in parts:  # not pginstall/include: it is only for building extensions
        if part.is_dir():
            shutil.copytree(part, staging / part.relative_to(site), symlinks=True)
    _open_to_all(staging)
    (staging / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return bindir


def _open_to_all(tree: Path) -> None:
    """Our copy gets readable modes whatever the venv's were (a umask of 077 makes them private)."""
    for folder, _dirs, files in os.walk(tree):
        Path(folder).chmod(0o755)
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                path.chmod(0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644)


def _linked_data(link: Path) -> Path | None:
    if link.is_symlink() and link.resolve().is_dir():
        return link.resolve()
    return None


def _new_warehouse(home: Path, shared: Path, user: pwd.struct_passwd) -> Path:
    warehouse = shared / "warehouses" / uuid.uuid4().hex
    _make_owned_dir(warehouse)
    # Resolved: the collector compares it from any working folder.
    (warehouse / "home").write_text(str(home.resolve()))
    pgdata = warehouse / "pgdata"
    pgdata.mkdir(mode=0o700)
    os.chown(pgdata, user.pw_uid, user.pw_gid)
    link = home / "pgdata"
    link.unlink(missing_ok=True)  # a link to data that is gone
    link.symlink_to(pgdata)
    return pgdata


def _collect_orphans(shared: Path, bindir: Path, user: pwd.struct_passwd) -> None:
    """Stop and remove the warehouses whose home is gone or no longer links to them."""
    warehouses = shared / "warehouses"
    if not warehouses.is_dir():
        return
    for warehouse in warehouses.iterdir():
        record = warehouse / "home"
        if not record.is_file():
            continue  # not one of ours
        if _linked_data(Path(record.read_text()) / "pgdata") == (warehouse / "pgdata").resolve():
            continue
        pgdata = warehouse / "pgdata"
        try:
            if _running(pgdata) is not None:
                _pg_ctl_stop(_Layout(pgdata, bindir, user))
            shutil.rmtree(warehouse)
        except (OSError, EmbeddedServerError) as exc:
            # Another home's leftovers must not keep this one from starting; the next start retries.
            _log.warning("could not remove the orphaned embedded warehouse %s: %s", warehouse, exc)


def _root_layout(home: Path) -> _Layout:
    user = _server_user()
    shared = _prepare_shared_dir(user)
    try:
        with _exclusive(shared / ".lock"):
            bindir = _binaries_copy(shared)
            _collect_orphans(shared, bindir, user)
            link = home / "pgdata"
            if link.is_dir() and not link.is_symlink():
                pgdata = link  # made by an older cxloop
            else:
                pgdata = _linked_data(link) or _new_warehouse(home, shared, user)
    except OSError as exc:
        raise _warehouse_error(f"its binaries or data could not be set up under {shared}: {exc}",
                               f"Free space there or set {SHARED_DIR_ENV} to another root-owned folder.") from exc
    closed = _first_closed_parent(pgdata, user)
    if closed is not None:
        raise _warehouse_error(
            f"its data {pgdata} is inside {closed} (mode {stat.S_IMODE(closed.stat().st_mode):o}), which the "
            f"server's user {user.pw_name!r} cannot enter",
            f"Stop it (`make stop`) and remove {pgdata} (`make clean` removes all of $CXLOOP_HOME), and a new "
            f"warehouse is made under {shared}.")
    return _Layout(pgdata, bindir, user)


def _layout_for_start(home: Path) -> _Layout:
    if os.geteuid() == 0:
        return _root_layout(home)
    pgdata = home / "pgdata"
    try:
        pgdata.mkdir(exist_ok=True)
    except OSError as exc:
        raise _warehouse_error(f"its data folder {pgdata} cannot be made ({exc.strerror})",
                            f"Remove {pgdata} if it is not a folder, or set CXLOOP_HOME to another folder.") from exc
    return _Layout(pgdata, POSTGRES_BIN_PATH, None)


def _layout_for_stop(home: Path) -> _Layout:
    if os.geteuid() != 0:
        return _Layout(home / "pgdata", POSTGRES_BIN_PATH, None)
    user = _server_user()
    shared = _prepare_shared_dir(user)
    with _exclusive(shared / ".lock"):
        bindir = _binaries_copy(shared)
    return _Layout((home / "pgdata").resolve(), bindir, user)


def _choose_port(port: int) -> int:
    if port == 0:
        return free_port()
    if _port_taken(port):
        raise EmbeddedServerError(
            f"Port {port} on 127.0.0.1 is already in use, so the embedded warehouse cannot start. "
            "Set CXLOOP_EMBEDDED_PORT to a free port, or point AIRFLOW_CONN_CXLOOP_WAREHOUSE at "
            "the Postgres you want to use."
        )
    return port


def ensure_running(home: Path, port: int) -> EmbeddedServer:
    """Start the embedded server under `home` if it is not running; return where it listens.

    `port=0` picks a free port (tests); a running server keeps the port it was started on.
    """
    _make_home(home)
    with _exclusive(home / "warehouse.lock"):
        info = _running(home / "pgdata")
        if info is not None:
            return EmbeddedServer((home / "pgdata").resolve(), int(info.port))
        layout = _layout_for_start(home)
        if not (layout.pgdata / "PG_VERSION").exists():
            _run(layout, [
                str(layout.bindir / "initdb"), "-D", str(layout.pgdata), "-U", SUPERUSER,
                "--auth=trust", "--encoding=UTF8", "--locale=C",
            ])
        port = _choose_port(port)
        # Loopback only, no Unix socket: the socket directory would need to be writable by the
        # unprivileged owner, and every client here speaks TCP anyway.
        options = f"-h 127.0.0.1 -p {port} -c unix_socket_directories=''"
        _run(layout, [
            str(layout.bindir / "pg_ctl"), "-D", str(layout.pgdata), "-w", "-t", "60",
            "-l", str(layout.pgdata / "server.log"), "-o", options, "start",
        ])
        server = EmbeddedServer(layout.pgdata, port)
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
    if not (home / "pgdata").exists():
        return False
    with _exclusive(home / "warehouse.lock"):
        if _running(home / "pgdata") is None:
            return False
        _pg_ctl_stop(_layout_for_stop(home))
        return True


def _pg_ctl_stop(layout: _Layout) -> None:
    _run(layout, [str(layout.bindir / "pg_ctl"), "-D", str(layout.pgdata), "-w", "-m", "fast", "stop"], "stop")
