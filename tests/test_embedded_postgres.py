"""The embedded warehouse starts from a private folder, as root or not, and says why when it cannot."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import psycopg
import pytest

from ingest import embedded_postgres
from ingest.embedded_postgres import EmbeddedServerError

root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="only as root does the server run as another user, who must reach its folder")


def existing_folders_above(*paths: Path) -> set[Path]:
    return {folder for path in paths for folder in path.parents if folder.exists()}


def modes(folders: set[Path]) -> dict[Path, int]:
    return {folder: stat.S_IMODE(folder.stat().st_mode) for folder in folders}


@pytest.fixture
def private_folder() -> Iterator[Path]:
    """A mode-700 folder like `/root` or `mktemp -d` (not pytest's tmp_path, which pytest re-chmods)."""
    folder = Path(tempfile.mkdtemp(prefix="cxloop-private-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def new_home(private_folder: Path) -> Iterator[Callable[[str], Path]]:
    """Homes inside the private folder; their servers are stopped afterwards."""
    homes: list[Path] = []

    def make(name: str = "home") -> Path:
        homes.append(private_folder / "clone" / name)
        return homes[-1]

    yield make
    for home in homes:
        embedded_postgres.stop(home)


def query(server: embedded_postgres.EmbeddedServer, sql: str) -> list[tuple]:
    with psycopg.connect(server.uri, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else []


def test_a_home_in_a_private_folder_serves_queries_and_no_folder_above_changes_mode(new_home, private_folder):
    home = new_home()
    above = existing_folders_above(home, embedded_postgres.POSTGRES_BIN_PATH, embedded_postgres.shared_dir())
    before = modes(above)
    assert before[private_folder] == 0o700

    server = embedded_postgres.ensure_running(home, 0)
    assert query(server, "select 1") == [(1,)]
    assert embedded_postgres.stop(home) is True

    assert modes(above) == before


def test_a_restarted_server_serves_the_data_it_had(new_home):
    home = new_home()
    first = embedded_postgres.ensure_running(home, 0)
    query(first, "create table kept (answer int); insert into kept values (42)")
    embedded_postgres.stop(home)

    second = embedded_postgres.ensure_running(home, 0)

    assert second.pgdata == first.pgdata
    assert query(second, "select answer from kept") == [(42,)]


def test_concurrent_starts_of_one_home_share_one_server(new_home):
    home = new_home()
    with ThreadPoolExecutor(max_workers=3) as pool:
        servers = set(pool.map(lambda _: embedded_postgres.ensure_running(home, 0), range(3)))

    assert len(servers) == 1
    assert query(servers.pop(), "select 1") == [(1,)]


def test_a_new_home_at_the_path_of_a_removed_one_starts_empty(new_home):
    home = new_home()
    old = embedded_postgres.ensure_running(home, 0)
    query(old, "create table left_behind (id int)")
    embedded_postgres.stop(home)
    shutil.rmtree(home)  # what `make clean` does after `make stop`

    new = embedded_postgres.ensure_running(home, 0)

    assert query(new, "select to_regclass('public.left_behind')") == [(None,)]


@root_only
def test_as_root_the_server_of_a_removed_home_is_stopped_and_its_data_removed_at_the_next_start(new_home):
    removed = new_home("removed")
    orphan = embedded_postgres.ensure_running(removed, 0)
    postmaster = psutil.Process(int((orphan.pgdata / "postmaster.pid").read_text().split()[0]))
    shutil.rmtree(removed)  # without `make stop` first

    embedded_postgres.ensure_running(new_home("another"), 0)

    assert not orphan.pgdata.exists()
    # `pg_ctl stop` returns once the server has shut down, a moment before its process is gone.
    _, still_running = psutil.wait_procs([postmaster], timeout=60)
    assert still_running == []


def test_a_server_that_fails_to_start_says_why_and_names_its_data_folder_and_the_way_out(new_home):
    home = new_home()
    pgdata = embedded_postgres.ensure_running(home, 0).pgdata
    embedded_postgres.stop(home)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("shared_buffers = 'plenty'\n")

    with pytest.raises(EmbeddedServerError) as failure:
        embedded_postgres.ensure_running(home, 0)

    message = str(failure.value)
    assert 'invalid value for parameter "shared_buffers"' in message
    assert str(pgdata) in message
    assert "AIRFLOW_CONN_CXLOOP_WAREHOUSE" in message


def test_a_home_that_cannot_be_created_is_named_with_the_way_out(private_folder):
    not_a_folder = private_folder / "file"
    not_a_folder.write_text("")
    home = not_a_folder / "home"

    with pytest.raises(EmbeddedServerError) as failure:
        embedded_postgres.ensure_running(home, 0)

    message = str(failure.value)
    assert f"its home {home} cannot be used" in message
    assert "Set CXLOOP_HOME" in message
    assert "AIRFLOW_CONN_CXLOOP_WAREHOUSE" in message


@root_only
def test_as_root_an_embedded_dir_the_server_user_cannot_enter_is_refused_and_left_closed(
        new_home, private_folder, monkeypatch):
    closed = private_folder / "closed"
    closed.mkdir()
    closed.chmod(0o700)
    monkeypatch.setenv(embedded_postgres.SHARED_DIR_ENV, str(closed / "cxloop"))

    with pytest.raises(EmbeddedServerError) as failure:
        embedded_postgres.ensure_running(new_home(), 0)

    message = str(failure.value)
    assert f"cannot enter {private_folder} (mode 700)" in message
    assert f"Set {embedded_postgres.SHARED_DIR_ENV}" in message
    assert "AIRFLOW_CONN_CXLOOP_WAREHOUSE" in message
    assert stat.S_IMODE(private_folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700


def test_a_taken_port_is_refused_with_the_way_out(new_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(EmbeddedServerError) as failure:
            embedded_postgres.ensure_running(new_home(), port)

    assert f"Port {port} on 127.0.0.1 is already in use" in str(failure.value)
    assert "AIRFLOW_CONN_CXLOOP_WAREHOUSE" in str(failure.value)
