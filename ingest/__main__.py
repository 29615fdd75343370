"""cxloop's command line, usable without Airflow.

    python -m ingest run typeform --start 2026-11-20 --end 2026-11-21 [--backfill] [--stream responses]
    python -m ingest warehouse uri|stop
    python -m ingest dbt build --select marts
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime


def _day(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="land a source's streams for [start, end)")
    run.add_argument("source")
    run.add_argument("--start", type=_day, required=True, help="inclusive, ISO date or datetime (UTC)")
    run.add_argument("--end", type=_day, required=True, help="exclusive, ISO date or datetime (UTC)")
    run.add_argument("--backfill", action="store_true", help="load exactly [start, end); never rewind the cursor")
    run.add_argument("--stream", action="append", help="only this stream (repeatable)")
    wh = commands.add_parser("warehouse", help="where the warehouse is; stop the embedded one")
    wh.add_argument("action", choices=["uri", "stop"])
    dbt = commands.add_parser("dbt", help="run dbt against the warehouse")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    from ingest import warehouse

    if args.command == "run":
        from ingest import runner
        from ingest.streams import Window

        results = runner.run_source(args.source, Window(args.start, args.end), backfill=args.backfill,
                                    streams=args.stream)
        return 0 if results else 2
    if args.command == "warehouse":
        if args.action == "uri":
            print(warehouse.resolve().uri())
        else:
            print("embedded warehouse stopped" if warehouse.stop_embedded() else "embedded warehouse was not running")
        return 0
    from ingest import runner

    runner.prepare_warehouse()
    warehouse.run_dbt(args.dbt_args or ["build"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
