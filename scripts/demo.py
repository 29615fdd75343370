"""`make demo`: run cxloop_nightly for the last few days against the bundled simulators.

Starts the API simulators on loopback (a synthetic company whose history ends today), runs the
DAG with `airflow dags test` once per day on the embedded (or configured) warehouse, then prints
what landed and what the marts say.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ingest.settings import cxloop_home  # noqa: E402
from scripts import airflow_cli  # noqa: E402

HOME = cxloop_home()
# The closed loop as a company would switch it on: a follow-up ticket for each detractor and bad
# CSAT of the last three days, under a 48- and a 24-business-hour SLA, and the night's detractors
# as one message (sent when an alerts notifier is configured; none is by default).
DEMO_LOOP = {"followups": {"reasons": ["detractor", "bad_csat"], "max_age_days": 3,
                           "sla_hours": {"detractor": 48, "bad_csat": 24}},
             "critical_alerts": {"reasons": ["detractor"]}}
AIRFLOW_HOME = airflow_cli.local_airflow_home()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=3, help="nightly runs to make, ending today")
    parser.add_argument("--customers", type=int, default=1000, help="size of the synthetic company")
    parser.add_argument("--until", type=date.fromisoformat, default=None,
                        help="last logical date to run, YYYY-MM-DD (default: today)")
    args = parser.parse_args()

    from ingest import warehouse
    from scripts import summary
    from simulators import launch
    from simulators.company import Company

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    company = Company(customers=args.customers, end=today, days=90)
    wh = warehouse.resolve()
    print(f"cxloop demo: warehouse {wh.uri()} ({'embedded' if wh.embedded else 'configured'})")
    logs = HOME / "logs"
    with launch.start(company, drop_folder=HOME / "drops", zendesk_extra=DEMO_LOOP) as sims:
        env = airflow_cli.airflow_env(AIRFLOW_HOME, sims.env)
        airflow_cli.migrate(env, logs / "airflow-db-migrate.log")
        last = datetime.combine(args.until, datetime.min.time(), UTC) if args.until else today
        dates = [(last - timedelta(days=n)).replace(hour=2).isoformat() for n in range(args.days - 1, -1, -1)]
        for number, logical_date in enumerate(dates, start=1):
            log = logs / f"dags-test-{logical_date[:10]}.log"
            seconds = airflow_cli.dags_test(logical_date, env, log)
            print(f"  run {number}/{len(dates)} for {logical_date[:10]} done in {seconds:.0f}s (log: {log})")
        runs = airflow_cli.latest_runs(env)
    failed = [d for d in dates if runs.get(d, {}).get("state") != "success"]
    summary.print_summary(wh)
    if failed:
        print(f"\nFAILED: runs for {', '.join(d[:10] for d in failed)} did not succeed; see their logs in {logs}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
