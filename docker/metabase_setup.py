"""One-shot: finish Metabase's first-run setup with the warehouse as a database, read as cxloop_bi.

Metabase has no setting for "the database to show"; its setup API takes one. The admin and
the BI role's password come from .env. A Metabase already set up is left alone.
"""

from __future__ import annotations

import os
import sys
import time

import requests

METABASE = os.environ.get("METABASE_URL", "http://metabase:3000")


def _setup_token() -> str | None:
    deadline = time.monotonic() + 600
    while True:
        try:
            properties = requests.get(f"{METABASE}/api/session/properties", timeout=10).json()
            # The token disappears once setup has been done.
            return properties.get("setup-token") if not properties.get("has-user-setup") else None
        except (requests.RequestException, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


def main() -> int:
    token = _setup_token()
    if token is None:
        print("metabase is already set up; nothing to do")
        return 0
    answer = requests.post(f"{METABASE}/api/setup", timeout=60, json={
        "token": token,
        "user": {"first_name": "cx", "last_name": "loop", "email": os.environ["METABASE_ADMIN_EMAIL"],
                 "password": os.environ["METABASE_ADMIN_PASSWORD"], "site_name": "cxloop"},
        "prefs": {"site_name": "cxloop", "allow_tracking": False},
        "database": {"engine": "postgres", "name": "cxloop warehouse (marts)", "details": {
            "host": "postgres", "port": 5432, "dbname": "cxloop",
            "user": "cxloop_bi", "password": os.environ["CXLOOP_BI_PASSWORD"],
            "schema-filters-type": "inclusion", "schema-filters-patterns": "marts",
        }},
    })
    if not answer.ok:
        print(f"metabase setup failed: HTTP {answer.status_code}: {answer.text[:500]}", file=sys.stderr)
        return 1
    print("metabase is set up: the marts are readable as cxloop_bi")
    return 0


if __name__ == "__main__":
    sys.exit(main())
