"""Run cxloop_nightly with `airflow dags test`, the way the demo and the tests do.

`dags test`'s exit status does not say how the run ended (it has been 0 for a failed run and 1
for a run whose tasks failed as designed), so the outcome is read back from the metadata DB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ingest.settings import cxloop_home

REPO_ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "cxloop_nightly"


def local_airflow_home() -> Path:
    """$AIRFLOW_HOME, by default `airflow/` in cxloop's home, set for this process too.

    Entry points call it before anything imports Airflow, which reads its config from
    AIRFLOW_HOME at import and would otherwise write ~/airflow.
    """
    os.environ.setdefault("AIRFLOW_HOME", str(cxloop_home() / "airflow"))
    return Path(os.environ["AIRFLOW_HOME"])


def airflow_env(airflow_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for an embedded, SQLite-backed Airflow whose DAGs folder is ours."""
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "CXLOOP_TASK_RETRIES": env.get("CXLOOP_TASK_RETRIES", "0"),
    })
    env.update(extra or {})
    return env


POOLS = REPO_ROOT / "dags" / "pools.json"


def migrate(env: Mapping[str, str], log: Path) -> None:
    """Create or upgrade the metadata DB, then the per-source pools the DAG's extract tasks use."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        for command in (["db", "migrate"], ["pools", "import", str(POOLS)]):
            subprocess.run([AIRFLOW, *command], env=dict(env), stdout=out, stderr=subprocess.STDOUT, check=True)


@dataclass
class DagRun:
    logical_date: str
    state: str
    seconds: float
    data_interval_start: str | None = None
    data_interval_end: str | None = None


def dags_test(logical_date: str, env: Mapping[str, str], log: Path) -> float:
    """Run the whole DAG in-process for `logical_date`; returns seconds taken."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as out:
        subprocess.run([AIRFLOW, "dags", "test", DAG_ID, logical_date], env=dict(env), stdout=out,
                       stderr=subprocess.STDOUT, check=False)
    return time.monotonic() - started


def latest_runs(env: Mapping[str, str]) -> dict[str, dict]:
    """The newest run per logical date, as `airflow dags list-runs` reports it."""
    proc = subprocess.run([AIRFLOW, "dags", "list-runs", DAG_ID, "-o", "json"], env=dict(env),
                          capture_output=True, text=True, check=True)
    # Log lines can precede the JSON on stdout; the JSON is the one line that is a list.
    payload = next(line for line in reversed(proc.stdout.splitlines()) if line.startswith(("[{", "[]")))
    runs = json.loads(payload)
    latest: dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: r.get("run_after") or ""):
        latest[run["logical_date"]] = run
    return latest
