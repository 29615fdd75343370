"""`make bench`: the loader against a plain COPY of the same records, in the same run.

Each measurement runs in a fresh process (so peak RSS is that load's alone) against a
throwaway embedded warehouse. Records are Typeform responses from the synthetic company,
re-keyed so any count can be produced lazily: neither side ever holds the whole stream.
Figures are reported as ratios to the COPY baseline measured in this same run; the quality
gate's validation of the landed batch is timed too, as a ratio to the load it follows.
On a machine shared with other work, wall time says more about the neighbours than the code, so
each case is also measured in CPU seconds, the client's plus the warehouse server's (read from
/proc: the embedded server runs on this machine), and the ratio of those is shown beside.

Besides the first load into an empty table, the loader is timed on the second night's cases:
the same records loaded again (all unchanged), then again with 1% of them changed. Each
reload starts from the table the measurement before it left, and says so if it finds
anything else. With `--repeat N` every case runs N times and the table shows medians.

Last, the enrichment step's throughput: language, sentiment and topics of a multilingual batch
of verbatims (`--texts`), in verbatims per CPU-second of the process (CPU time, not wall time,
for the reason above), with the one-off cost of loading the detector and taxonomy apart. The
texts pair up sentences of one language from the hand-written held-out set, so each is new.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
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
CHANGED_EVERY = 100  # "1% changed": every hundredth record moves its updated-at
CASES = {
    "loader": "first load",
    "reload": "reload, unchanged",
    "reload-changed": "reload, 1% changed",
}


def records(count: int, changed_every: int = 0) -> Iterator[list[dict]]:
    """`count` distinct responses, in pages, built from a few hundred real simulator responses.

    With `changed_every`, every such record is a newer version (a day later) of the same response.
    """
    from simulators.company import Company

    templates = list(Company(customers=300).typeform_responses())
    base = datetime(2026, 1, 1, tzinfo=UTC)
    page: list[dict] = []
    for n in range(count):
        record = dict(templates[n % len(templates)])
        record["token"] = f"{n:032x}"
        submitted_at = base + timedelta(seconds=n)
        if changed_every and n % changed_every == 0:
            submitted_at += timedelta(days=1)
        record["submitted_at"] = submitted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        page.append(record)
        if len(page) == PAGE:
            yield page
            page = []
    if page:
        yield page


def _copy(conn, stream, batch: str, count: int) -> None:
    with conn.transaction(), conn.cursor() as cur, cur.copy(
        "copy raw.bench_copy (record_key, record_updated_at, record, _batch_id) from stdin"
    ) as copy:
        for page in records(count):
            for record in page:
                text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
                copy.write_row((stream.key(record), record["submitted_at"], text, batch))


def _server_cpu_seconds(conn) -> float | None:
    """CPU the warehouse's processes have used so far, exited ones included; None if unreadable."""
    pids = [pid for (pid,) in conn.execute("select pid from pg_stat_activity")]
    conn.commit()  # leave no transaction open: the load timed next must be a transaction of its own
    try:
        postmaster = _proc_stat(pids[0])[1]
        # The postmaster's reaped children's time (cutime, cstime) holds processes that came and went.
        ticks = sum(_proc_stat(postmaster)[11:15]) + sum(sum(_proc_stat(pid)[11:13]) for pid in pids)
    except (OSError, IndexError, ValueError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[int]:
    """The numeric fields of /proc/<pid>/stat after the command name, from ppid (index 1) on."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return [0] + [int(field) for field in fields[1:]]


def _client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _expected(mode: str, count: int) -> tuple[int, int]:
    """Rows the loader must insert and update in `mode`, from the state the previous case left."""
    if mode == "loader":
        return count, 0
    if mode == "reload":
        return 0, 0
    return 0, len(range(0, count, CHANGED_EVERY))


def _prepare_table(conn, mode: str) -> None:
    """The starting state of `mode`, with nothing the previous case left for the server to do.

    A reload comes the night after the load it repeats, when autovacuum has long been through
    the table: do that vacuum now rather than let it run inside the timing. The checkpoint
    writes out what the previous case left dirty, for the same reason.
    """
    conn.execute("drop table if exists raw.bench_copy")
    if mode == "copy":
        conn.execute("create table raw.bench_copy (like raw.typeform_responses including all)")
    if mode in ("copy", "loader"):
        conn.execute("truncate raw.typeform_responses")
    conn.commit()
    if mode not in ("copy", "loader"):
        conn.autocommit = True
        conn.execute("vacuum (analyze) raw.typeform_responses")
        conn.autocommit = False
    conn.execute("checkpoint")
    conn.commit()


def _load(mode: str, count: int) -> dict:
    from ingest import loader, warehouse
    from ingest.streams import Window
    from ingest.typeform import STREAMS

    stream = STREAMS[0]
    window = Window(None, datetime(2027, 1, 1, tzinfo=UTC))
    with warehouse.connect() as conn:
        _prepare_table(conn, mode)
        batch = str(uuid.uuid4())
        server_cpu, client_cpu = _server_cpu_seconds(conn), _client_cpu_seconds()
        started = time.perf_counter()
        if mode == "copy":
            _copy(conn, stream, batch, count)
        else:
            pages = records(count, CHANGED_EVERY if mode == "reload-changed" else 0)
            with conn.transaction():
                result = loader.land(conn, stream, batch, window, pages)
            outcome = (result.landed, result.inserted, result.updated)
            assert outcome == (count, *_expected(mode, count)), f"{mode} after an unexpected state: {result}"
        seconds = time.perf_counter() - started
        client_cpu = _client_cpu_seconds() - client_cpu
        server_cpu_after = _server_cpu_seconds(conn)
    cpu = None if server_cpu is None or server_cpu_after is None else client_cpu + server_cpu_after - server_cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    measured = {"mode": mode, "rows": count, "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_kb / 1024}
    if mode == "loader":
        measured["gate_seconds"] = _gate_seconds(stream.table, batch, count)
    return measured


def _gate_seconds(table: str, batch: str, count: int) -> float:
    from expectations import gate

    started = time.perf_counter()
    validation = gate.run_suite(table, batch)
    seconds = time.perf_counter() - started
    assert validation.rows == count and not validation.failures, validation.summary()
    return seconds


def verbatims(count: int, seed: int = 13) -> list[str]:
    """`count` verbatims in the held-out set's languages and proportions, each two of its
    sentences of one language, so that no text is the held-out set's own or repeats often."""
    from enrichment import read_heldout

    heldout = read_heldout()
    by_language: dict[str, list[str]] = {}
    for verbatim in heldout:
        by_language.setdefault(verbatim.language, []).append(verbatim.text)
    pool = [(verbatim.language, verbatim.text) for verbatim in heldout]
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        language, first = rng.choice(pool)
        texts.append(f"{first} {rng.choice(by_language[language])}")
    return texts


def enrichment_throughput(count: int) -> dict:
    """CPU seconds of analysing `count` verbatims (language, sentiment, topics), start-up apart."""
    from enrichment import analyse, topics

    texts = verbatims(count)
    started = time.process_time()
    taxonomy = topics.load_taxonomy()
    list(analyse.analyse(texts[:1], taxonomy))  # loads the detector's models: once per process
    startup = time.process_time() - started
    started_wall, started = time.perf_counter(), time.process_time()
    analysed = list(analyse.analyse(texts, taxonomy))
    cpu, wall = time.process_time() - started, time.perf_counter() - started_wall
    return {"texts": len(analysed), "startup_cpu_seconds": startup, "cpu_seconds": cpu, "wall_seconds": wall,
            "per_cpu_second": len(analysed) / cpu if cpu else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def enrichment_line(measured: dict) -> str:
    return (f"{measured['texts']:>10,} {measured['startup_cpu_seconds']:>14.1f} {measured['cpu_seconds']:>10.1f} "
            f"{measured['per_cpu_second']:>17,.0f} {measured['texts'] / measured['wall_seconds']:>13,.0f} "
            f"{measured['peak_rss_mb']:>8.0f}")


ENRICHMENT_HEADER = (f"{'verbatims':>10} {'start-up CPU s':>14} {'CPU s':>10} {'verbatims/CPU s':>17} "
                     f"{'verbatims/s':>13} {'peak MB':>8}")


def _measure(mode: str, count: int, env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, "--rows", str(count)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], field: str) -> float:
    return statistics.median(run[field] for run in runs)


def _rows(count: int, repeat: int, env: dict[str, str]) -> Iterator[str]:
    """The table's lines for `count` records: every case `repeat` times, in order, then medians."""
    runs: dict[str, list[dict]] = {mode: [] for mode in ("copy", *CASES)}
    for _ in range(repeat):
        for mode in runs:
            runs[mode].append(_measure(mode, count, env))
    copy_seconds = _median(runs["copy"], "seconds")
    for mode, case in CASES.items():
        load_seconds = _median(runs[mode], "seconds")
        by_cpu = "-"
        if all(run["cpu_seconds"] is not None for run in runs["copy"] + runs[mode]):
            by_cpu = f"{_median(runs['copy'], 'cpu_seconds') / _median(runs[mode], 'cpu_seconds'):.2f}"
        gate = "-"
        if mode == "loader":
            gate_seconds = _median(runs[mode], "gate_seconds")
            gate = f"{gate_seconds:>7.1f} {gate_seconds / load_seconds:>9.2f}"
        yield (f"{count:>10,} {case:<19} {count / copy_seconds:>12,.0f} {count / load_seconds:>14,.0f} "
               f"{copy_seconds / load_seconds:>12.2f} {by_cpu:>12} {_median(runs['copy'], 'peak_rss_mb'):>13.0f} "
               f"{_median(runs[mode], 'peak_rss_mb'):>15.0f} {gate:>17}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs of every case; the table shows medians")
    parser.add_argument("--texts", type=int, default=20_000, help="verbatims in the enrichment batch (0: skip)")
    parser.add_argument("--child", choices=["copy", "enrichment", *CASES], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "enrichment":
        print(json.dumps(enrichment_throughput(args.texts)))
        return 0
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
        print(f"{'rows':>10} {'case':<19} {'COPY rows/s':>12} {'loader rows/s':>14} {'loader/COPY':>12} "
              f"{'by CPU time':>12} {'COPY peak MB':>13} {'loader peak MB':>15} {'gate s':>7} {'gate/load':>9}")
        for count in args.rows:
            for line in _rows(count, args.repeat, env):
                print(line, flush=True)
    finally:
        warehouse.stop_embedded()
    if args.texts:
        # A process of its own, as for the loads: its peak memory and start-up are the step's alone.
        proc = subprocess.run([sys.executable, __file__, "--child", "enrichment", "--texts", str(args.texts)],
                              env=env, capture_output=True, text=True, check=True)
        print(f"\nenrichment (language + sentiment + topics)\n{ENRICHMENT_HEADER}")
        print(enrichment_line(json.loads(proc.stdout.strip().splitlines()[-1])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
