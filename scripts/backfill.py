"""`make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD`: an Airflow backfill on the embedded setup.

Starts a local Airflow (scripts/airflow_stack.py), asks it for `airflow backfill create` over
the logical dates FROM..TO (inclusive; the run for D covers [D 02:00, D+1 02:00)), and prints
runs done / total as they finish. The runs are real backfill runs: they land their intervals
without moving any stream's nightly cursor back. With no source connections in the
environment, the bundled simulators stand in for the APIs, as in `make demo`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ingest.settings import cxloop_home  # noqa: E402
from scripts import airflow_cli, airflow_stack  # noqa: E402

HOME = cxloop_home()
AIRFLOW_HOME = airflow_cli.local_airflow_home()

FINISHED = {"success", "failed"}
STACK_LOG = HOME / "logs" / "airflow-standalone.log"


def _source_connections() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k.startswith("AIRFLOW_CONN_CXLOOP_") and k != "AIRFLOW_CONN_CXLOOP_WAREHOUSE"}


def backfill_runs(env: dict[str, str], first: date, last: date) -> dict[str, str] | None:
    """State of each backfill run of cxloop_nightly with a logical date in [first, last]; None if busy."""
    try:
        runs = airflow_cli.latest_runs(env)
    except subprocess.CalledProcessError:
        return None  # the scheduler holds SQLite's lock: ask again at the next poll
    # Every run in the range is the backfill's: a run that existed before it (a manual or
    # scheduled one) is cleared into it and keeps its run_id, so the run_id prefix can't tell.
    return {logical: run["state"] for logical, run in runs.items()
            if first <= datetime.fromisoformat(logical).date() <= last}


def _wait_until_marked_complete(port: int, timeout: float) -> bool:
    """Wait for the scheduler to mark every backfill of the DAG complete; False on timeout."""
    # It does so on its own 30 s timer once a backfill's last run has ended. Stopping before
    # then leaves the backfill active for good: the UI says "in progress", and Airflow refuses
    # the DAG's next backfill (AlreadyRunningBackfill).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backfills = airflow_stack.api_get(port, f"/backfills?dag_id={airflow_cli.DAG_ID}")["backfills"]
        if all(b["completed_at"] for b in backfills):
            return True
        time.sleep(5)
    return False


def _create_backfill(env: dict[str, str], first: date, last: date, max_active_runs: int) -> bool:
    """`airflow backfill create` over [first, last]; False if an earlier backfill is still active."""
    proc = subprocess.run([airflow_cli.AIRFLOW, "backfill", "create", "--dag-id", airflow_cli.DAG_ID,
                           "--from-date", first.isoformat(), "--to-date", f"{last.isoformat()}T23:59:59",
                           "--max-active-runs", str(max_active_runs), "--reprocess-behavior", "completed"],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return True
    if "AlreadyRunningBackfill" in proc.stderr:
        return False
    raise RuntimeError(f"airflow backfill create failed:\n{proc.stderr[-3000:]}")


def _prepare_metadata(env: dict[str, str]) -> None:
    # Everything that writes Airflow's SQLite DB happens before the scheduler starts, which
    # would otherwise hold its lock (`database is locked`): migrate, parse the DAG into the
    # DB, and create the backfill's runs next. The DAG stays paused until the API server that
    # its tasks report to is up (airflow_stack.unpause): a task the scheduler starts before that
    # cannot reach it and is killed, and a loaded machine starts the scheduler first.
    airflow_cli.migrate(env, HOME / "logs" / "airflow-db-migrate.log")
    subprocess.run([airflow_cli.AIRFLOW, "dags", "reserialize"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([airflow_cli.AIRFLOW, "dags", "pause", airflow_cli.DAG_ID, "-y"], env=env,
                   check=True, stdout=subprocess.DEVNULL)


def _follow(env: dict[str, str], first: date, last: date, deadline: float) -> list[str] | None:
    """Print runs done / total as they change until every run has ended; the failed days, or None on timeout."""
    total = (last - first).days + 1
    started, shown, states = time.monotonic(), None, {}
    while time.monotonic() < deadline:
        states = backfill_runs(env, first, last) or states
        done = sum(state in FINISHED for state in states.values())
        failed = sorted(d[:10] for d, state in states.items() if state == "failed")
        line = f"  backfill {first}..{last}: {done}/{total} runs done" + (
            f", failed: {', '.join(failed)}" if failed else "")
        if line != shown:
            print(f"{line}  ({time.monotonic() - started:.0f}s)", flush=True)
            shown = line
        if done >= total:
            return failed
        time.sleep(5)
    return None


def main() -> int:
    # `kill` should stop Airflow too: SystemExit unwinds the ExitStack that owns it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=date.fromisoformat, help="first logical date, YYYY-MM-DD")
    parser.add_argument("last", type=date.fromisoformat, help="last logical date, YYYY-MM-DD (inclusive)")
    parser.add_argument("--max-active-runs", type=int, default=2, help="backfill runs at a time")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CXLOOP_AIRFLOW_PORT", "8080")))
    parser.add_argument("--timeout-minutes", type=float, default=60)
    args = parser.parse_args()
    if args.last < args.first:
        parser.error("TO is before FROM")

    from ingest import warehouse
    from simulators import launch
    from simulators.company import Company

    # Started here, once, rather than by whichever of the parallel tasks gets there first.
    print(f"warehouse {warehouse.resolve().uri()}")
    with ExitStack() as stack:
        connections = _source_connections()
        if not connections:
            today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            sims = stack.enter_context(launch.start(Company(customers=1000, end=today, days=90),
                                                    drop_folder=HOME / "drops"))
            connections = sims.env
            print("no source connections set: the bundled simulators stand in for the APIs")
        env = airflow_cli.airflow_env(AIRFLOW_HOME, connections)
        # The scheduler queues no task of a paused DAG, backfill runs included; so the DAG is
        # unpaused once Airflow is up, and the scheduler told to create no run from the schedule:
        # it runs the backfill's runs and nothing else.
        env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
        _prepare_metadata(env)
        print(f"starting Airflow on http://127.0.0.1:{args.port} (log: {STACK_LOG})")
        if not _create_backfill(env, args.first, args.last, args.max_active_runs):
            # An earlier backfill was interrupted (or stopped before it was marked complete):
            # let the scheduler finish it rather than cancel work someone asked for.
            print("an earlier backfill of the DAG is still active: letting Airflow finish it first")
            with airflow_stack.running(env, STACK_LOG, args.port):
                airflow_stack.unpause(args.port)
                if not _wait_until_marked_complete(args.port, args.timeout_minutes * 60):
                    print("the earlier backfill did not finish in time; see the Airflow UI", file=sys.stderr)
                    return 1
            if not _create_backfill(env, args.first, args.last, args.max_active_runs):
                print("Airflow still reports an active backfill of the DAG", file=sys.stderr)
                return 1
        stack_env = stack.enter_context(airflow_stack.running(env, STACK_LOG, args.port))
        airflow_stack.unpause(args.port)
        started = time.monotonic()
        failed = _follow(stack_env, args.first, args.last, deadline=started + args.timeout_minutes * 60)
        if failed is None:
            print(f"gave up waiting after {args.timeout_minutes:.0f} minutes", file=sys.stderr)
            return 1
        if not _wait_until_marked_complete(args.port, 120):
            print("warning: the scheduler had not marked the backfill complete", file=sys.stderr)
    if failed:
        print(f"FAILED: {len(failed)} run(s); see the task logs under {AIRFLOW_HOME / 'logs'}")
        return 1
    print(f"backfill done: {(args.last - args.first).days + 1} runs in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
