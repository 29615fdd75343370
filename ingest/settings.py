"""Where cxloop keeps its local state and how it calls its tools: the few settings read from the environment.

- `CXLOOP_HOME`: the local state folder (embedded warehouse, Airflow home, simulator files,
  Data Docs, benchmarks); default `.cxloop/` in the checkout.
- `CXLOOP_EMBEDDED_PORT`: the embedded warehouse's port; 0 picks a free one.
- dbt runs as the `dbt` beside this Python, with the project's own profiles.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_EMBEDDED_PORT = 55432


def cxloop_home() -> Path:
    """Local state folder: embedded warehouse, Airflow home, simulator files."""
    return Path(os.environ.get("CXLOOP_HOME", REPO_ROOT / ".cxloop")).resolve()


def embedded_port() -> int:
    return int(os.environ.get("CXLOOP_EMBEDDED_PORT", DEFAULT_EMBEDDED_PORT))


def dbt_command(args: list[str]) -> list[str]:
    """The command line of a dbt command (e.g. `["build", "--select", "marts"]`) on cxloop's project."""
    dbt = str(Path(sys.executable).with_name("dbt"))
    return [dbt, *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
