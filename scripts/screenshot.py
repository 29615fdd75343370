"""Screenshots of cxloop_nightly in the Airflow UI, taken with headless Chromium.

    .venv/bin/python scripts/screenshot.py [--out docs] [--port 8093]

Starts `airflow standalone` on the local Airflow home (the runs `make demo` or `make backfill`
left there), waits until the last run of cxloop_nightly has succeeded, and saves the DAG's
grid view and its last run's view as PNG. Needs Debian's `chromium`; it is not part of `make test`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ingest.settings import cxloop_home  # noqa: E402
from scripts import airflow_cli, airflow_stack  # noqa: E402

HOME = cxloop_home()
AIRFLOW_HOME = airflow_cli.local_airflow_home()


# Without the background-networking flags, Chromium keeps trying to reach Google's hosts and
# this closed network refuses every attempt.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1600,1000", "--virtual-time-budget=20000"]


def screenshot(chromium: str, url: str, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="cxloop-chromium-") as profile:
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}", url],
                       check=True, capture_output=True, timeout=180)
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot of {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs")
    parser.add_argument("--port", type=int, default=8093)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        parser.error("needs Chromium: apt-get install -y chromium")

    env = airflow_cli.airflow_env(AIRFLOW_HOME)
    # Show what is there; start nothing new.
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    runs = airflow_cli.latest_runs(env)
    if not runs:
        parser.error(f"no run of {airflow_cli.DAG_ID} in {AIRFLOW_HOME}: run `make demo` first")
    last = runs[max(runs)]
    if last["state"] != "success":
        parser.error(f"the last run ({last['run_id']}) is {last['state']}, not success")
    log = HOME / "logs" / "airflow-standalone-screenshot.log"
    with airflow_stack.running(env, log, args.port):
        dag_url = f"http://127.0.0.1:{args.port}/dags/{airflow_cli.DAG_ID}"
        views = {"airflow-grid.png": dag_url,
                 "airflow-run.png": f"{dag_url}/runs/{quote(last['run_id'], safe='')}"}
        for name, url in views.items():
            screenshot(chromium, url, args.out / name)
            print(f"wrote {args.out / name} ({url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
