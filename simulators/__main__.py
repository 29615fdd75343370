"""Serve the API simulators until interrupted: `python -m simulators [--host 0.0.0.0]`.

Prints the `AIRFLOW_CONN_*` lines that point cxloop at them, shell-quoted (so
`eval "$(…)"`-style use works), then `# simulators ready`: a process that starts the simulators
reads lines up to that one and knows every connection is listening.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from simulators import launch
from simulators.company import Company

READY = "# simulators ready"


def _utc(text: str) -> datetime:
    """An ISO date or date-time; a naive one is taken as UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90, help="days of history, ending at --end")
    parser.add_argument("--end", type=_utc, default=None,
                        help="end of the company's history, ISO date or date-time in UTC (default: today 00:00)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--any-port", action="store_true",
                        help="listen on free ports chosen by the OS instead of the fixed ones (8101-8104)")
    parser.add_argument("--drop-folder", type=Path, default=None,
                        help="also write the company's sample file drop there and print its connection")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    end = args.end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    company = Company(seed=args.seed, customers=args.customers, end=end, days=args.days)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ports = None if args.any_port else launch.PORTS
    with launch.start(company, host=args.host, ports=ports, drop_folder=args.drop_folder) as sims:
        for name, value in sims.env.items():
            print(f"{name}={shlex.quote(value)}", flush=True)
        print(READY, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()
