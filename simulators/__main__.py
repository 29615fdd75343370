"""Serve the API simulators until interrupted: `python -m simulators [--host 0.0.0.0]`.

Prints the `AIRFLOW_CONN_*` lines that point cxloop at them.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from datetime import UTC, datetime

from simulators import launch
from simulators.company import Company


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    company = Company(seed=args.seed, customers=args.customers, end=today, days=args.days)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with launch.start(company, host=args.host, ports=launch.PORTS) as sims:
        for name, value in sims.env.items():
            print(f"{name}='{value}'", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
