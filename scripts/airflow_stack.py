"""A local Airflow (api-server, scheduler, dag-processor, triggerer) for the embedded setup.

`airflow dags test` runs one DAG run in-process; a backfill or the web UI needs the real
components. `airflow standalone` starts them all on the SQLite metadata DB with the
LocalExecutor; this module starts it in the background, waits until the API answers and the
DAG is parsed, and stops the whole process group afterwards.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from scripts.airflow_cli import AIRFLOW, DAG_ID


def stack_env(env: Mapping[str, str], port: int) -> dict[str, str]:
    """`env` plus what standalone needs: its port, where tasks reach the API, and no login."""
    venv_bin = str(Path(AIRFLOW).parent)
    return {
        **env,
        # standalone starts each component as an `airflow` subprocess found on PATH.
        "PATH": venv_bin + os.pathsep + env.get("PATH", ""),
        "AIRFLOW__API__PORT": str(port),
        # Airflow 3 tasks report to the API server's execution API, wherever it listens.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        # A local, loopback-only UI: every visitor is an admin, so there is no password to find.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
    }


def _wait_for(what: str, ready, timeout: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited ({process.returncode}) before {what}; see {log}")
        if ready():
            return
        time.sleep(2)
    raise TimeoutError(f"airflow standalone: no {what} after {timeout:.0f}s; see {log}")


def _api_healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


@functools.cache
def _token(port: int) -> str:
    # The all-admins login hands one out to anyone; it outlives any backfill we wait for.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/auth/token", timeout=10) as answer:
        return json.load(answer)["access_token"]


def api_get(port: int, path: str) -> dict:
    """GET `/api/v2<path>` from the local stack, authenticated as its all-admins login."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2{path}",
                                     headers={"Authorization": f"Bearer {_token(port)}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def unpause(port: int) -> None:
    """Let the scheduler queue the DAG's tasks: only once the API that tasks report to listens."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/dags/{DAG_ID}", data=json.dumps({"is_paused": False}).encode(),
        method="PATCH", headers={"Authorization": f"Bearer {_token(port)}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        if json.load(answer).get("is_paused"):
            raise RuntimeError(f"{DAG_ID} is still paused after the API was asked to unpause it")


def _dag_parsed(env: Mapping[str, str]) -> bool:
    proc = subprocess.run([AIRFLOW, "dags", "details", DAG_ID, "-o", "json"], env=dict(env),
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and DAG_ID in proc.stdout


@contextmanager
def running(env: Mapping[str, str], log: Path, port: int = 8080, timeout: float = 240) -> Iterator[dict[str, str]]:
    """Run `airflow standalone` until the block ends; yields the environment to talk to it with."""
    full_env = stack_env(env, port)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen([AIRFLOW, "standalone"], env=full_env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait_for("healthy API", lambda: _api_healthy(port), timeout, process, log)
        _wait_for(f"parsed {DAG_ID}", lambda: _dag_parsed(full_env), timeout, process, log)
        yield full_env
    finally:
        _stop_group(process)
        _token.cache_clear()  # the next stack may sign its tokens with another secret


def _stop_group(process: subprocess.Popen, grace: float = 30) -> None:
    # standalone's components are its children, in its process group. standalone itself can
    # exit on SIGTERM while its scheduler is still shutting down (seen left running, orphaned,
    # with idle LocalExecutor workers): wait for the whole group, then kill what is left.
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()  # reap standalone, so that it does not count as alive
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
