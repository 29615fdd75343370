"""`make bench`: the loader against a plain COPY of the same records, in the same run.

Each measurement runs in a fresh process (so peak RSS is that load's alone) against a
throwaway embedded warehouse. Records are Typeform responses from the synthetic company,
re-keyed so any count can be produced lazily: neither side ever holds the whole stream.
Figures are reported as ratios to the COPY baseline measured in this same run; the quality
gate's validation of the landed batch is timed too, as a ratio to the load it follows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
PAGE = 1000


def records(count: int) -> Iterator[list[dict]]:
    """`count` distinct responses, in pages, built from a few hundred real simulator responses."""
    from simulators.company import Company

    templates = list(Company(customers=300).typeform_responses())
    base = datetime(2026, 1, 1, tzinfo=UTC)
    page: list[dict] = []
    for n in range(count):
        record = dict(templates[n % len(templates)])
        record["token"] = f"{n:032x}"
        record["submitted_at"] = (base + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        page.append(record)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def _load(mode: str, count: int) -> dict:
    from ingest import loader, warehouse
    from ingest.streams import Window
    from ingest.typeform import STREAMS

    stream = STREAMS[0]
    window = Window(None, datetime(2027, 1, 1, tzinfo=UTC))
    with warehouse.connect() as conn:
        loader.ensure_tables(conn, stream)
        conn.execute("drop table if exists raw.bench_copy")
        conn.execute("create table raw.bench_copy (like raw.typeform_responses including all)")
        conn.execute("truncate raw.typeform_responses")
        conn.commit()
        batch = str(uuid.uuid4())
        started = time.perf_counter()
        if mode == "loader":
            with conn.transaction():
                result = loader.land(conn, stream, batch, window, records(count))
            assert result.landed == count, result
        else:
            with conn.transaction(), conn.cursor() as cur, cur.copy(
                "copy raw.bench_copy (record_key, record_updated_at, record, _batch_id) from stdin"
            ) as copy:
                for page in records(count):
                    for record in page:
                        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
                        copy.write_row((stream.key(record), record["submitted_at"], text, batch))
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    measured = {"mode": mode, "rows": count, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}
    if mode == "loader":
        from expectations import gate

        started = time.perf_counter()
        validation = gate.run_suite(stream.table, batch)
        measured["gate_seconds"] = time.perf_counter() - started
        assert validation.rows == count and not validation.failures, validation.summary()
    return measured


def _measure(mode: str, count: int, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--rows", str(count)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", choices=["loader", "copy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_load(args.child, args.rows[0])))
        return 0

    home = Path(tempfile.mkdtemp(prefix="cxloop-bench-"))
    env = {**os.environ, "CXLOOP_HOME": str(home), "AIRFLOW_HOME": str(home / "airflow"),
           "CXLOOP_EMBEDDED_PORT": "0"}
    env.pop("AIRFLOW_CONN_CXLOOP_WAREHOUSE", None)
    os.environ.update({k: env[k] for k in ("CXLOOP_HOME", "AIRFLOW_HOME", "CXLOOP_EMBEDDED_PORT")})
    from ingest import warehouse

    warehouse.resolve()  # start the throwaway warehouse once, outside the timings
    try:
        print(f"{'rows':>10} {'COPY rows/s':>12} {'loader rows/s':>14} {'loader/COPY':>12} "
              f"{'COPY peak MB':>13} {'loader peak MB':>15} {'gate s':>7} {'gate/load':>9}")
        for count in args.rows:
            copy = _measure("copy", count, env)
            load = _measure("loader", count, env)
            copy_rate, load_rate = count / copy["seconds"], count / load["seconds"]
            print(f"{count:>10,} {copy_rate:>12,.0f} {load_rate:>14,.0f} {load_rate / copy_rate:>12.2f} "
                  f"{copy['peak_rss_mb']:>13.0f} {load['peak_rss_mb']:>15.0f} {load['gate_seconds']:>7.1f} "
                  f"{load['gate_seconds'] / load['seconds']:>9.2f}", flush=True)
    finally:
        warehouse.stop_embedded()
    return 0


if __name__ == "__main__":
    sys.exit(main())
