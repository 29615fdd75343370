"""`make bench-scale`: the whole nightly pipeline at several company sizes, two nights each.

For each size: a throwaway home under `.cxloop/bench/` (embedded warehouse on a free port, its
own Airflow home), the simulators in a process of their own serving a company whose history
ends where night 2's data interval ends, then night 1 (no cursor yet: all 90 days of history)
and night 2 (one day of change), each the real DAG under `airflow dags test`. What each stage
took, how many records each stream moved and each process's peak memory go to a CSV under
`.cxloop/bench/`, to the console, and to `docs/performance.md` with a chart.
`--report <csv>` re-renders the page from an earlier run's CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ingest.settings import cxloop_home  # noqa: E402
from scripts import airflow_cli  # noqa: E402
from scripts import bench_scale_report as report  # noqa: E402
from scripts import bench_scale_stages as stages  # noqa: E402
from scripts.bench_scale_memory import MemorySampler  # noqa: E402

# One day more than the 90 night 1 reads: night 2's interval is the last day of the history.
HISTORY_DAYS = 91
SCHEDULE_HOUR = 2  # the DAG's cron is 02:00 UTC
SIMULATORS_READY_TIMEOUT = 3600.0


def last_boundary(now: datetime) -> datetime:
    """The latest 02:00 UTC at or before `now`: the end of the newest data interval that has closed."""
    boundary = now.astimezone(UTC).replace(hour=SCHEDULE_HOUR, minute=0, second=0, microsecond=0)
    return boundary if boundary <= now else boundary - timedelta(days=1)


def night_dates(end: datetime) -> list[str]:
    """Logical dates of night 1 and night 2 when night 2's data interval ends at `end`.

    A manual run (which `airflow dags test` makes) at logical date D covers [D - 1 day, D)
    under the DAG's CronDataIntervalTimetable: night 2 runs at `end`, night 1 a day before.
    """
    return [(end - timedelta(days=1)).isoformat(), end.isoformat()]


def wait_with_rusage(proc: subprocess.Popen, timeout: float | None = None) -> float:
    """Wait for `proc` to end; returns its tree's ru_maxrss in MB (the kernel's own peak)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if deadline is None else os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss / 1024
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.2)


class SimulatorsProcess:
    """`python -m simulators` over the benchmark's company, on free ports, as its own process."""

    def __init__(self, customers: int, end: datetime, drop_folder: Path, log: Path) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulators", "--customers", str(customers), "--end", end.isoformat(),
             "--days", str(HISTORY_DAYS), "--any-port", "--drop-folder", str(drop_folder)],
            # Unbuffered bytes: a buffered reader would hold lines that select() no longer sees.
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0)
        self.env: dict[str, str] = {}

    def wait_ready(self, timeout: float = SIMULATORS_READY_TIMEOUT) -> dict[str, str]:
        """Read the connection lines it prints until it says it is ready."""
        from simulators.__main__ import READY

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if not readable:
                if self.proc.poll() is not None:
                    break
                continue
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if line.strip() == READY:
                return self.env
            if not line.strip():
                continue
            name, _, value = shlex.split(line)[0].partition("=")
            self.env[name] = value
        if self.proc.poll() is not None:
            raise RuntimeError(f"the simulators exited with code {self.proc.returncode} before they were ready; "
                               f"see {self.log}")
        raise RuntimeError(f"the simulators were not ready within {timeout:.0f} s; see {self.log}")

    def stop(self) -> float | None:
        """Stop it; returns its ru_maxrss in MB (None if it had ended already or had to be killed)."""
        try:
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    return wait_with_rusage(self.proc, timeout=60)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            return None
        finally:
            self.proc.stdout.close()
            self._stderr.close()


@dataclass
class Sandbox:
    """One size's throwaway home, its warehouse and its Airflow."""

    size: int
    home: Path
    logs: Path
    port: int = 0

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def dbt_target(self) -> Path:
        return self.home / "dbt_target"

    def build_results(self) -> list[Path]:
        """The run_results.json each dbt build of the DAG kept under its task's name."""
        from ingest.runner import BUILD_RESULTS

        return sorted(self.dbt_target.glob(BUILD_RESULTS.format(build="*")))

    def start_warehouse(self) -> int:
        """Start the embedded warehouse; returns the postmaster's pid."""
        embedded_postgres = _embedded_postgres()
        server = embedded_postgres.ensure_running(self.home, embedded_postgres.free_port())
        self.port = server.port
        return int((server.pgdata / "postmaster.pid").read_text().split()[0])

    def airflow_env(self, simulators: dict[str, str]) -> dict[str, str]:
        env = airflow_cli.airflow_env(self.airflow_home)
        # Only the simulators and this sandbox's warehouse: nothing configured outside may leak in.
        env = {name: value for name, value in env.items() if not name.startswith("AIRFLOW_CONN_")}
        env.update(simulators)
        env.update({"CXLOOP_HOME": str(self.home), "CXLOOP_EMBEDDED_PORT": str(self.port),
                    "CXLOOP_TASK_RETRIES": "0", "DBT_TARGET_PATH": str(self.dbt_target),
                    "DBT_LOG_PATH": str(self.home / "dbt_logs")})
        return env

    def batch_ids(self) -> set[str]:
        return {batch_id for batch_id, *_ in self._batches()}

    def batches_since(self, known: set[str]) -> list[stages.Batch]:
        return [stages.Batch(source, stream, fetched, landed)
                for batch_id, source, stream, fetched, landed in self._batches() if batch_id not in known]

    def _batches(self) -> list[tuple]:
        import psycopg

        embedded_postgres = _embedded_postgres()
        with psycopg.connect(host="127.0.0.1", port=self.port, user=embedded_postgres.SUPERUSER,
                             dbname=embedded_postgres.DATABASE) as conn:
            if conn.execute("select to_regclass('audit.load_batches')").fetchone()[0] is None:
                return []
            return conn.execute(
                "select batch_id::text, source, stream, fetched, landed from audit.load_batches").fetchall()

    def stop(self, *, keep: bool) -> None:
        _embedded_postgres().stop(self.home)
        if not keep:
            shutil.rmtree(self.home, ignore_errors=True)


def _embedded_postgres():
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; XDG_RUNTIME_DIR is often unset.
        warnings.simplefilter("ignore")
        from ingest import embedded_postgres
    return embedded_postgres


@dataclass
class Night:
    number: int
    logical_date: str
    state: str
    seconds: float
    rows: list[report.Measurement]


def run_night(sandbox: Sandbox, number: int, logical_date: str, env: dict[str, str],
              watched: dict[int, str], run_id: str) -> Night:
    """One `airflow dags test` run, watched for memory, then broken down into stages."""
    known = sandbox.batch_ids()
    # A build that fails before writing its results must not leave the previous night's to be read.
    for leftover in sandbox.build_results():
        leftover.unlink()
    log = sandbox.logs / f"night-{number}-dags-test.log"
    with MemorySampler() as sampler, log.open("w") as out:
        for pid, kind in watched.items():
            sampler.watch(pid, kind)
        started = time.monotonic()
        proc = subprocess.Popen([airflow_cli.AIRFLOW, "dags", "test", airflow_cli.DAG_ID, logical_date],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler.watch(proc.pid, "airflow")
        tree_maxrss = wait_with_rusage(proc)
        seconds = time.monotonic() - started
    dag_run = airflow_cli.latest_runs(env).get(logical_date, {})
    found = _night_stages(sandbox, number, dag_run.get("run_id"), seconds, known, log)
    peaks = sampler.peaks.by_kind()
    peaks["airflow_ru_maxrss"] = tree_maxrss
    _write_processes(sandbox.logs / f"night-{number}-memory.json", sampler)

    def row(stage: str, **values: object) -> report.Measurement:
        return report.Measurement(run_id, sandbox.size, number, stage, **values)

    rows = [row(s.name, seconds=s.seconds, records=s.records) for s in found]
    rows += [row(f"rss:{kind}", peak_rss_mb=mb) for kind, mb in peaks.items() if mb]
    state = dag_run.get("state", "missing")
    if state != "success":
        rows.append(row("failed", seconds=seconds))
    return Night(number, logical_date, state, seconds, rows)


def _write_processes(path: Path, sampler: MemorySampler) -> None:
    """Every process seen and its peak, largest first: which process a peak in the table was."""
    processes = sorted(sampler.peaks.processes.values(), key=lambda p: -p.peak_kb)
    path.write_text(json.dumps([{"pid": p.pid, "kind": p.kind, "peak_mb": round(p.peak_kb / 1024, 1),
                                 "command": p.command} for p in processes], indent=1))


def _night_stages(sandbox: Sandbox, number: int, dag_run_id: str | None, seconds: float,
                  known: set[str], log: Path) -> list[stages.Stage]:
    airflow_db = sandbox.airflow_home / "airflow.db"
    runs = stages.read_task_runs(airflow_db, dag_run_id) if dag_run_id else []
    returned = stages.read_returned(airflow_db, dag_run_id, stages.ENRICHMENT_TASK) if dag_run_id else None
    analysed = returned.get("analysed") if isinstance(returned, dict) else None
    acks = stages.acknowledged(log.read_text(errors="replace"))
    found = stages.airflow_stages(runs, sandbox.batches_since(known), stages.source_streams(), seconds, acks,
                                  analysed=analysed)
    copies = sandbox.logs / f"night-{number}-dbt"
    copies.mkdir(parents=True, exist_ok=True)
    # Each night's own copies: night 2's builds overwrite the target folder.
    kept = [shutil.copy2(path, copies / path.name) for path in sandbox.build_results()]
    manifest = sandbox.dbt_target / "manifest.json"
    if kept and manifest.exists():
        shutil.copy2(manifest, copies / manifest.name)
        found += stages.dbt_stages([json.loads(Path(path).read_text()) for path in kept],
                                   json.loads(manifest.read_text()))
    return found


def run_size(size: int, end: datetime, bench_dir: Path, run_id: str, rows: list[report.Measurement], *,
             keep: bool) -> None:
    """Both nights for a company of `size` customers, on a sandbox removed afterwards.

    Figures are appended to `rows` as each night ends, so a later failure keeps the earlier ones.
    """
    bench_dir.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(size, Path(tempfile.mkdtemp(prefix=f"home-{size}-", dir=bench_dir)),
                      bench_dir / run_id / str(size))
    sandbox.logs.mkdir(parents=True, exist_ok=True)
    simulators = None
    try:
        postmaster = sandbox.start_warehouse()
        started = time.monotonic()
        simulators = SimulatorsProcess(size, end, sandbox.home / "drops", sandbox.logs / "simulators.log")
        env = sandbox.airflow_env(simulators.wait_ready())
        print(f"{size:,} customers: simulators ready in {time.monotonic() - started:.0f} s, "
              f"warehouse on port {sandbox.port}, logs in {sandbox.logs}", flush=True)
        airflow_cli.migrate(env, sandbox.logs / "airflow-db-migrate.log")
        watched = {postmaster: "postgres", simulators.proc.pid: "simulators"}
        for number, logical_date in enumerate(night_dates(end), start=1):
            night = run_night(sandbox, number, logical_date, env, watched, run_id)
            rows += night.rows
            # A failed night 1 still runs night 2: what did work is worth its figures, and the
            # page says which night failed.
            print(f"  night {number} ({logical_date[:10]}): {night.state} in {night.seconds:.0f} s "
                  f"(log: {sandbox.logs / f'night-{number}-dags-test.log'})", flush=True)
    finally:
        simulators_maxrss = simulators.stop() if simulators else None
        sandbox.stop(keep=keep)
    if simulators_maxrss and rows and rows[-1].size == size:
        rows.append(report.Measurement(run_id, size, rows[-1].night, "rss:simulators_ru_maxrss",
                                       peak_rss_mb=simulators_maxrss))


def machine(end: datetime, sizes: list[int]) -> dict:
    """What the figures were measured on, kept beside the CSV."""
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        return proc.stdout.strip()

    return {"cpus": os.cpu_count(), "memory_gb": round(int(meminfo["MemTotal"].split()[0]) / 1024**2, 1),
            "cpu_model": cpu_model, "python": platform.python_version(), "commit": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")), "end": end.isoformat(),
            "logical_dates": night_dates(end), "sizes": sizes}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="customers per company")
    parser.add_argument("--end", type=datetime.fromisoformat, default=None,
                        help="end of night 2's data interval, UTC (default: the last 02:00 UTC that has passed)")
    parser.add_argument("--report", type=Path, metavar="CSV", help="only re-render the page from this CSV")
    parser.add_argument("--baseline", type=Path, metavar="CSV", help="compare with this earlier run's CSV")
    parser.add_argument("--docs-dir", type=Path, default=REPO_ROOT / "docs",
                        help="where performance.md and performance.png go")
    parser.add_argument("--keep-home", action="store_true",
                        help="keep each size's throwaway home (warehouse stopped) for a look afterwards")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    if args.report:
        print(f"wrote {report.render(args.report, args.docs_dir, baseline_csv=args.baseline)}")
        return 0
    end = args.end.replace(tzinfo=args.end.tzinfo or UTC) if args.end else last_boundary(datetime.now(UTC))
    bench_dir = cxloop_home() / "bench"
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    csv_path = bench_dir / f"bench-scale-{run_id}.csv"
    bench_dir.mkdir(parents=True, exist_ok=True)
    report.meta_path(csv_path).write_text(json.dumps(machine(end, args.sizes), indent=2))
    rows: list[report.Measurement] = []
    failed = False
    for size in sorted(args.sizes):
        try:
            run_size(size, end, bench_dir, run_id, rows, keep=args.keep_home)
        except Exception as exc:  # noqa: BLE001 - what was measured so far still gets reported
            print(f"{size:,} customers: the benchmark failed: {exc}", file=sys.stderr)
            failed = True
            break
        finally:
            report.write_csv(csv_path, rows)  # after every size: an interrupted run keeps what it measured
    failed = failed or any(row.stage == "failed" for row in rows)
    if not rows:
        return 1
    print(f"figures: {csv_path}")
    print(f"wrote {report.render(csv_path, args.docs_dir, baseline_csv=args.baseline)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
