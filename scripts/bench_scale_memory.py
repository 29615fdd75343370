"""Peak memory of the pipeline's processes while a night runs, sampled from /proc.

A thread walks /proc every half second and follows the process trees under a few roots (the
`airflow dags test` process, the PostgreSQL postmaster, the simulators' process). For each
process it keeps the larger of its current RSS and the kernel's own high-water mark (VmHWM),
so a short spike between two samples still counts for a process that lives past it. Processes
are grouped by kind: dbt runs under Airflow, so the Airflow tree is split by command line.

PostgreSQL's RSS counts the shared buffers each backend has touched, once per backend; their
total is therefore taken as PSS (shared pages divided among their users), summed per sample.
psutil would do the walking, but it is not among cxloop's dependencies and /proc is enough here.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
KINDS = ("airflow", "dbt", "postgres_max", "postgres_total", "simulators")


@dataclass
class ProcessPeak:
    pid: int
    kind: str
    command: str
    peak_kb: int = 0


@dataclass
class MemoryPeaks:
    # By (pid, start time): a pid the kernel hands out again is another process.
    processes: dict[tuple[int, int], ProcessPeak] = field(default_factory=dict)
    postgres_total_kb: int = 0

    def by_kind(self) -> dict[str, float]:
        """Peak MB per kind: the largest single process of each kind; postgres_total is summed PSS."""
        peaks = dict.fromkeys(KINDS, 0.0)
        for process in self.processes.values():
            kind = "postgres_max" if process.kind == "postgres" else process.kind
            peaks[kind] = max(peaks[kind], process.peak_kb / 1024)
        peaks["postgres_total"] = self.postgres_total_kb / 1024
        return peaks


def _stat(pid: int) -> tuple[int, int] | None:
    """Parent pid and start time (clock ticks after boot) of a process; None once it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces and parentheses: split after the last one.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), int(fields[19])


def _status_kb(pid: int, *names: str) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in names:
                values[name] = int(rest.split()[0])
    return values


def _pss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def command_of(pid: int) -> list[str]:
    with contextlib.suppress(OSError):
        return [part for part in (PROC / str(pid) / "cmdline").read_bytes().decode(errors="replace").split("\0")
                if part]
    return []


def kind_under(root_kind: str, argv: list[str]) -> str:
    """The kind of a process found under a root of `root_kind`, from its command line.

    dbt is started by a task as `<venv>/bin/dbt …` (or `python <venv>/bin/dbt …`): it counts apart
    from Airflow, every other process under the Airflow root counts as Airflow.
    """
    if root_kind == "airflow" and any(Path(part).name == "dbt" for part in argv[:2]):
        return "dbt"
    return root_kind


def descendants(roots: dict[int, str], parents: dict[int, int]) -> dict[int, str]:
    """Every process under (and including) each root pid, with the root's kind."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: dict[int, str] = {}
    for root, kind in roots.items():
        stack = [root]
        while stack:
            pid = stack.pop()
            if pid in found:
                continue
            found[pid] = kind
            stack.extend(children.get(pid, []))
    return found


class MemorySampler:
    """Samples the trees under the watched roots until stopped; `peaks` holds what it saw."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peaks = MemoryPeaks()
        self._roots: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def watch(self, pid: int, kind: str) -> None:
        with self._lock:
            self._roots[pid] = kind

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # whatever lived until the end

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            roots = dict(self._roots)
        stats = {}
        for entry in PROC.iterdir():
            if entry.name.isdigit():
                stat = _stat(int(entry.name))
                if stat is not None:
                    stats[int(entry.name)] = stat
        parents = {pid: parent for pid, (parent, _) in stats.items()}
        postgres_pss = 0
        for pid, root_kind in descendants(roots, parents).items():
            self._record(pid, stats[pid][1] if pid in stats else 0, root_kind)
            if root_kind == "postgres":
                postgres_pss += _pss_kb(pid)
        self.peaks.postgres_total_kb = max(self.peaks.postgres_total_kb, postgres_pss)

    def _record(self, pid: int, started: int, root_kind: str) -> None:
        status = _status_kb(pid, "VmRSS", "VmHWM")
        if not status:
            return  # gone, or a kernel thread
        process = self.peaks.processes.get((pid, started))
        if process is None:
            argv = command_of(pid)
            process = ProcessPeak(pid, kind_under(root_kind, argv), " ".join(argv)[:200])
            self.peaks.processes[pid, started] = process
        process.peak_kb = max(process.peak_kb, *status.values())
