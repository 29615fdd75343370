"""A run killed, cut off from the warehouse, or run twice at once (issue #15, item 8).

The runner lands a stream's batch and moves its cursor in one transaction, under a per-stream
advisory lock. So a run killed with SIGKILL half-way through its COPY or its merge, or whose
warehouse connection is terminated mid-batch, leaves nothing behind (no row, no reject, no
batch, no cursor), and the next run lands what a clean run lands; two runs of the same window
at once are serialised, the second waiting for the first, and land nothing twice.

Runs that are killed run in a subprocess (`python -c`), against a simulator served by the test
process, which holds a page (a `hold` fault) or a table lock to stop the run at a known point.
Every wait on the other process is bounded by a generous deadline and only ever waits for an
event, never for an amount of time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ingest import runner, typeform, warehouse
from ingest.connections import get_connection
from ingest.streams import Window
from simulators.company import FORMS, NPS_FORM, Company
from simulators.server import Fault, Simulator
from simulators.typeform import TypeformApi

COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=10)
END = COMPANY.end
TOKEN = "tf-process-token-0b6e"
NPS = f"/forms/{NPS_FORM}/responses"
STREAM = typeform.STREAMS[0]
RETRY = {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 3, "timeout": [30, 120]}
REPO = Path(__file__).resolve().parents[2]
# Generous: a subprocess imports Airflow and the runner on a machine that may be busy.
DEADLINE = 300.0
# The run in a subprocess: small pages, so that a stream is several pages and a hold falls mid-COPY.
RUN = """
import logging, sys
from datetime import datetime
from ingest import runner, typeform
from ingest.streams import Window

logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
typeform.PAGE_SIZE = 5
result = runner.run_source("typeform", Window(None, datetime.fromisoformat(sys.argv[1])))[0]
print("landed", result.batch_id, result.fetched, result.landed, result.rejected, result.inserted, flush=True)
"""


def wait_for(what: str, check: Callable[[], object]) -> object:
    """Poll `check` until it returns something true; fail after DEADLINE seconds."""
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what} after {DEADLINE:.0f}s")


@pytest.fixture
def sim(monkeypatch):
    monkeypatch.setattr(typeform, "PAGE_SIZE", 5)
    with Simulator(TypeformApi(COMPANY, token=TOKEN)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", connection(server))
        yield server


def connection(server: Simulator) -> str:
    return json.dumps({"conn_type": "http", "host": server.base_url, "password": TOKEN,
                       "extra": {"form_ids": list(FORMS), "retry": RETRY}})


def child_env(wh: warehouse.Warehouse, server: Simulator) -> dict[str, str]:
    return {**os.environ, "AIRFLOW_CONN_CXLOOP_TYPEFORM": connection(server),
            "AIRFLOW_CONN_CXLOOP_WAREHOUSE": json.dumps({
                "conn_type": "postgres", "host": wh.host, "port": wh.port, "login": wh.user, "schema": wh.dbname})}


@contextmanager
def child_run(wh: warehouse.Warehouse, server: Simulator) -> Iterator[subprocess.Popen]:
    """The runner over all history to END, in a process of its own; killed if still running at the end."""
    proc = subprocess.Popen([sys.executable, "-c", RUN, END.isoformat()], cwd=REPO, env=child_env(wh, server),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        if not proc.stdout.closed:  # not yet read by the test
            proc.communicate(timeout=DEADLINE)


def landing_backends(db, *, waiting: str | None = None) -> list[tuple[int, str, str | None]]:
    """(pid, query, wait event) of the landing transactions; with `waiting`, only those waiting on that lock."""
    rows = db.execute("""
        select pid, query, wait_event from pg_stat_activity
        where application_name = %s and datname = current_database()""",
                      (runner.LANDING_APPLICATION_NAME,)).fetchall()
    return [row for row in rows if waiting is None or row[2] == waiting]


def landed(db) -> dict[str, dict]:
    return dict(db.execute("select record_key, record from raw.typeform_responses").fetchall())


def nothing_landed(db) -> bool:
    return db.execute("""select (select count(*) from raw.typeform_responses) + (select count(*) from raw._state)
                                + (select count(*) from raw._rejected) + (select count(*) from audit.load_batches)
                      """).fetchone() == (0,)


def batches_add_up(db) -> list[tuple[int, int, int, int]]:
    rows = db.execute("""
        select b.fetched, b.landed, b.rejected, b.inserted,
               (select coalesce(sum(copies), 0) from raw._rejected as r where r.batch_id = b.batch_id)
        from audit.load_batches as b order by b.loaded_at""").fetchall()
    for fetched, landed_count, rejected, _, copies in rows:
        assert fetched == landed_count + rejected
        assert rejected == copies
    return [row[:4] for row in rows]


def watermark(db) -> datetime | None:
    row = db.execute("select watermark from raw._state where source = 'typeform' and stream = 'responses'").fetchone()
    return row[0] if row else None


def clean_run(db, server: Simulator) -> dict[str, dict]:
    runner.run_stream(typeform.from_connection(get_connection(typeform.CONN_ID)), STREAM, Window(None, END))
    expected = landed(db)
    assert len(expected) > typeform.PAGE_SIZE
    db.execute("truncate raw.typeform_responses, raw._state, raw._rejected, audit.load_batches")
    server.requests.clear()
    return expected


def rerun_recovers(db, expected: dict[str, dict]) -> None:
    result = runner.run_source("typeform", Window(None, END))[0]
    assert landed(db) == expected
    assert (result.fetched, result.landed, result.rejected) == (len(expected), len(expected), 0)
    assert batches_add_up(db) == [(len(expected), len(expected), 0, len(expected))]
    assert watermark(db) == END


def reported(out: str) -> list[str]:
    """The child's closing line: batch id, fetched, landed, rejected, inserted."""
    (line,) = [line for line in out.splitlines() if line.startswith("landed ")]
    return line.split()[1:]


def killed(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=DEADLINE)
    assert proc.returncode == -signal.SIGKILL


def test_a_run_killed_mid_copy_leaves_nothing_and_the_rerun_lands_what_a_clean_run_lands(db, wh, sim):
    expected = clean_run(db, sim)
    release = threading.Event()
    held = Fault("hold", path_contains=NPS, release=release)
    sim.inject(Fault("slow", delay=0.0, path_contains=NPS))  # page 1 as usual
    sim.inject(held)  # page 2 waits: page 1 is in the COPY
    try:
        with child_run(wh, sim) as proc:
            assert held.reached.wait(DEADLINE)
            (pid, query, _), = wait_for("the landing COPY", lambda: [
                row for row in landing_backends(db) if row[1].lstrip().lower().startswith("copy _incoming")])
            killed(proc)
    finally:
        release.set()
    # The server notices the client gone and rolls the transaction back.
    wait_for("the killed run's backend to end", lambda: not landing_backends(db))
    assert nothing_landed(db)
    rerun_recovers(db, expected)


def test_a_run_killed_mid_merge_leaves_nothing_and_the_rerun_lands_what_a_clean_run_lands(db, wh, sim):
    expected = clean_run(db, sim)
    # A share lock on the raw table lets the run read and COPY but stops its merge's insert.
    with warehouse.connect(wh) as blocker:
        blocker.execute("lock table raw.typeform_responses in share mode")
        with child_run(wh, sim) as proc:
            (pid, query, _), = wait_for("the merge to wait on the table lock", lambda: [
                row for row in landing_backends(db, waiting="relation") if "insert into raw" in row[1]])
            assert "with merged as" in query
            killed(proc)
        blocker.rollback()  # the merge goes on, on a connection whose client is gone: it never commits
    wait_for("the killed run's backend to end", lambda: not landing_backends(db))
    assert nothing_landed(db)
    rerun_recovers(db, expected)


def test_a_warehouse_connection_dropped_mid_batch_fails_the_run_and_the_rerun_recovers(db, sim, caplog):
    expected = clean_run(db, sim)
    release = threading.Event()
    held = Fault("hold", path_contains=NPS, release=release)
    sim.inject(Fault("slow", delay=0.0, path_contains=NPS))
    sim.inject(held)
    outcome: list[BaseException] = []

    def land() -> None:
        try:
            runner.run_source("typeform", Window(None, END))
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=land)
    thread.start()
    try:
        assert held.reached.wait(DEADLINE)
        (pid, _, _), = wait_for("the landing transaction", lambda: landing_backends(db))
        assert db.execute("select pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    finally:
        release.set()
        thread.join(DEADLINE)
    assert not thread.is_alive()
    (failure,) = outcome
    assert isinstance(failure, psycopg.OperationalError)
    assert "typeform.responses: reading beginning" in caplog.text  # the log names the stream being landed
    wait_for("the terminated backend to end", lambda: not landing_backends(db))
    assert nothing_landed(db)
    rerun_recovers(db, expected)


def test_the_same_window_run_twice_at_once_is_serialised_and_lands_nothing_twice(db, wh, sim):
    expected = clean_run(db, sim)
    release = threading.Event()
    held = Fault("hold", path_contains=NPS, release=release)
    sim.inject(Fault("slow", delay=0.0, path_contains=NPS))
    sim.inject(held)
    try:
        with child_run(wh, sim) as first:
            assert held.reached.wait(DEADLINE)  # the first run is inside its transaction, lock held
            with child_run(wh, sim) as second:
                wait_for("the second run to wait on the stream's advisory lock",
                         lambda: landing_backends(db, waiting="advisory"))
                # Waiting, the second has not asked the API anything: only the first's page 1 is answered.
                assert [seen.path for seen in sim.requests] == [NPS]
                release.set()
                out_first, err_first = first.communicate(timeout=DEADLINE)
                out_second, err_second = second.communicate(timeout=DEADLINE)
    finally:
        release.set()
    assert (first.returncode, second.returncode) == (0, 0), err_first[-2000:] + err_second[-2000:]
    # The second read the cursor the first had just committed, under the lock: it read on from
    # there (the last hour of lookback, empty), not all history again.
    total = str(len(expected))
    assert [reported(out_first)[1:], reported(out_second)[1:]] == [[total, total, "0", total], ["0", "0", "0", "0"]]
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0, len(expected)), (0, 0, 0, 0)]
    assert watermark(db) == END
