"""Figures of `make bench-scale`: the CSV they are kept in, and the tables, checks and chart made
from it. Everything here works from a CSV alone, so an older run can be re-rendered or compared
(`python scripts/bench_scale.py --report <csv>`).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FIELDS = ("run_id", "size", "night", "stage", "seconds", "records", "records_per_s", "peak_rss_mb")
# Stages drawn on the chart, and listed first in the tables, in pipeline order.
MAIN_STAGES = ("night", "extract_load", "gate", "dbt_build_intermediate", "analyse_verbatims", "dbt_build",
               "validate_marts", "data_docs", "publish", "airflow_overhead")
MEMORY_KINDS = {"rss:airflow": "Airflow (`dags test` and its task processes)", "rss:dbt": "dbt",
                "rss:postgres_max": "PostgreSQL, largest process", "rss:postgres_total": "PostgreSQL, all (PSS)",
                "rss:simulators": "simulators",
                "rss:airflow_ru_maxrss": "cross-check: ru_maxrss of the `dags test` tree",
                "rss:simulators_ru_maxrss": "cross-check: ru_maxrss of the simulators (both nights)"}
# A stage "grows linearly" if 10x the customers costs it at most 12x the time (issue #13); times
# under this many seconds at the larger size are start-up noise, not growth.
GROWTH_SLACK = 1.2
GROWTH_NOISE_SECONDS = 1.0
PROCESS_LIMIT_MB, SIMULATORS_LIMIT_MB = 500, 1024
# Issue #17: a night with 1% new text adds at most this much at 100k customers.
NEW_TEXT_LIMIT_S = 10


@dataclass(frozen=True)
class Measurement:
    run_id: str
    size: int
    night: int
    stage: str
    seconds: float | None = None
    records: int | None = None
    peak_rss_mb: float | None = None

    @property
    def records_per_s(self) -> float | None:
        if self.records is None or not self.seconds:
            return None
        return self.records / self.seconds


def write_csv(path: Path, rows: Iterable[Measurement]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for row in rows:
            rate = row.records_per_s
            writer.writerow([row.run_id, row.size, row.night, row.stage, _cell(row.seconds, 3), _cell(row.records),
                             _cell(rate, 1), _cell(row.peak_rss_mb, 1)])


def _cell(value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}" if digits else str(value)


def read_csv(path: Path) -> list[Measurement]:
    def number(text: str, kind: type) -> float | int | None:
        return kind(text) if text != "" else None

    with path.open(newline="") as handle:
        return [Measurement(row["run_id"], int(row["size"]), int(row["night"]), row["stage"],
                            number(row["seconds"], float), number(row["records"], int),
                            number(row["peak_rss_mb"], float))
                for row in csv.DictReader(handle)]


def meta_path(csv_path: Path) -> Path:
    """The run's description (machine, dates) is kept beside its CSV."""
    return csv_path.with_suffix(".json")


def read_meta(csv_path: Path) -> dict:
    path = meta_path(csv_path)
    return json.loads(path.read_text()) if path.exists() else {}


class Figures:
    """Measurements indexed by (size, night, stage)."""

    def __init__(self, rows: Iterable[Measurement]) -> None:
        self.rows = {(r.size, r.night, r.stage): r for r in rows}
        self.sizes = sorted({size for size, _, _ in self.rows})
        self.run_ids = sorted({r.run_id for r in self.rows.values()})

    def get(self, size: int, night: int, stage: str) -> Measurement | None:
        return self.rows.get((size, night, stage))

    def seconds(self, size: int, night: int, stage: str) -> float | None:
        row = self.get(size, night, stage)
        return row.seconds if row else None

    def stages(self, size: int | None = None) -> list[str]:
        names = {stage for s, _, stage in self.rows
                 if size in (None, s) and not stage.startswith("rss:") and stage != "failed"}
        return sorted(names, key=stage_order)

    def failed(self, size: int) -> list[int]:
        return sorted(night for s, night, stage in self.rows if s == size and stage == "failed")


def stage_order(stage: str) -> tuple[int, str]:
    """Pipeline order: each main stage, then its per-stream or per-model details."""
    head, _, detail = stage.partition(":")
    head = {"dbt": "dbt_build", "dbt_tests": "dbt_build"}.get(head, head)
    position = MAIN_STAGES.index(head) if head in MAIN_STAGES else len(MAIN_STAGES)
    return position, f"{bool(detail)}{stage}"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _fmt(value: float | int | None, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}{suffix}"


Table = tuple[list[str], list[list[str]]]


def size_table(figures: Figures, size: int) -> Table:
    """Per stage: seconds, records and records/s of night 1 and night 2, and night 2 ÷ night 1."""
    headers = ["stage", "night 1 s", "records", "records/s", "night 2 s", "records", "records/s", "n2 ÷ n1"]
    body = []
    for stage in figures.stages(size):
        one, two = figures.get(size, 1, stage), figures.get(size, 2, stage)
        cells = [stage]
        for row in (one, two):
            cells += [_fmt(row.seconds if row else None), _fmt(row.records if row else None),
                      _fmt(row.records_per_s if row else None, 0)]
        cells.append(_fmt(ratio(two.seconds if two else None, one.seconds if one else None), 2))
        body.append(cells)
    return headers, body


def memory_table(figures: Figures, size: int) -> Table:
    headers = ["process", "night 1 peak MB", "night 2 peak MB"]
    body = []
    for stage, label in MEMORY_KINDS.items():
        peaks = [figures.get(size, night, stage) for night in (1, 2)]
        if any(peaks):
            body.append([label, *(_fmt(p.peak_rss_mb if p else None, 0) for p in peaks)])
    return headers, body


def growth_table(figures: Figures) -> Table:
    """Night-1 time of each stage between consecutive sizes, worst growth first."""
    headers = ["stage", "sizes", "seconds", "time ×", "customers ×", "linear?"]
    found = []
    for small, large in zip(figures.sizes, figures.sizes[1:], strict=False):
        for stage in figures.stages(large):
            before, after = figures.seconds(small, 1, stage), figures.seconds(large, 1, stage)
            growth = ratio(after, before)
            if growth is None or after is None:
                continue
            allowed = GROWTH_SLACK * large / small
            verdict = ("yes" if growth <= allowed else "NO") if after >= GROWTH_NOISE_SECONDS else "(under 1 s)"
            found.append((growth, [stage, f"{small:,} → {large:,}", f"{before:.1f} → {after:.1f}",
                                   f"{growth:.1f}", f"{large / small:.0f}", verdict]))
    return headers, [cells for _, cells in sorted(found, key=lambda item: -item[0])]


def comparison_table(figures: Figures, baseline: Figures) -> Table:
    """The main stages' seconds and the processes' peak MB of this run against an earlier one."""
    headers = ["size", "night", "stage", "baseline", "this run", "this ÷ baseline"]
    body = []
    for size in (s for s in figures.sizes if s in baseline.sizes):
        for night in (1, 2):
            for stage in (*MAIN_STAGES, *(k for k in MEMORY_KINDS if "ru_maxrss" not in k)):
                now, before = figures.get(size, night, stage), baseline.get(size, night, stage)
                if now is None or before is None:
                    continue
                unit = "peak_rss_mb" if stage.startswith("rss:") else "seconds"
                new, old = getattr(now, unit), getattr(before, unit)
                suffix = " MB" if unit == "peak_rss_mb" else " s"
                body.append([f"{size:,}", str(night), stage, _fmt(old, 1, suffix), _fmt(new, 1, suffix),
                             _fmt(ratio(new, old), 2)])
    return headers, body


@dataclass(frozen=True)
class Check:
    criterion: str
    figure: str
    passed: bool | None  # None: not measured in this run


def _check(criterion: str, value: float | None, limit: float, unit: str = "s") -> Check:
    if value is None:
        return Check(criterion, "not measured", None)
    return Check(criterion, f"{value:,.2f}" if unit == "×" else f"{value:,.0f} {unit}", value <= limit)


def _worst_model_growth(figures: Figures, small: int, large: int) -> tuple[float, str] | None:
    """The dbt model whose night-1 time grew most from `small` to `large` customers, ignoring
    models that stay under the noise floor at the larger size (as the growth table does)."""
    grown = [(growth, stage) for stage in figures.stages(large) if stage.startswith("dbt:")
             if (after := figures.seconds(large, 1, stage)) and after >= GROWTH_NOISE_SECONDS
             if (growth := ratio(after, figures.seconds(small, 1, stage))) is not None]
    return max(grown) if grown else None


def _checks_100k(figures: Figures) -> list[Check]:
    n1, n2 = (figures.seconds(100_000, night, "night") for night in (1, 2))
    return [_check("100k: night 2 ≤ 0.15 × night 1", ratio(n2, n1), 0.15, "×"),
            _check("100k: night 2 ≤ 3 min including Airflow", n2, 180),
            _check("100k: dbt part of night 2 ≤ 60 s", _dbt_seconds(figures, 100_000, 2), 60),
            _new_text_check(figures)]


def _new_text_check(figures: Figures) -> Check:
    """Issue #17: what night 2's new text costs, the enrichment step and the mart it feeds."""
    criterion = f"100k: night 2's new text adds ≤ {NEW_TEXT_LIMIT_S} s (analyse_verbatims + dbt:fct_verbatims)"
    enrichment, mart = figures.get(100_000, 2, "analyse_verbatims"), figures.get(100_000, 2, "dbt:fct_verbatims")
    if enrichment is None or enrichment.seconds is None or mart is None or mart.seconds is None:
        return Check(criterion, "not measured", None)
    if enrichment.records == 0:
        # The simulators repeat a bounded set of texts: a night without new text measures nothing.
        return Check(criterion, "not measured here: night 2 had no new text (make bench-verbatims)", None)
    seconds = enrichment.seconds + mart.seconds
    analysed = f" ({enrichment.records:,} verbatims analysed)" if enrichment.records is not None else ""
    return Check(criterion, f"{seconds:,.1f} s{analysed}", seconds <= NEW_TEXT_LIMIT_S)


def _dbt_seconds(figures: Figures, size: int, night: int) -> float | None:
    """The night's two dbt builds together (before and after the enrichment step)."""
    parts = [figures.seconds(size, night, stage) for stage in ("dbt_build_intermediate", "dbt_build")]
    return sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None


def _checks_1m(figures: Figures) -> list[Check]:
    found = [_check("1M: night 1 ≤ 30 min", figures.seconds(1_000_000, 1, "night"), 1800),
             _check("1M: night 2 ≤ 5 min", figures.seconds(1_000_000, 2, "night"), 300)]
    if 100_000 in figures.sizes:
        worst = _worst_model_growth(figures, 100_000, 1_000_000)
        found.append(_check(f"100k → 1M: each model's night-1 time ≤ 12× (worst: {worst[1] if worst else '—'})",
                            worst[0] if worst else None, 12, "×"))
    for stage, label in MEMORY_KINDS.items():
        if "ru_maxrss" in stage or stage == "rss:postgres_total":
            continue
        limit = SIMULATORS_LIMIT_MB if stage == "rss:simulators" else PROCESS_LIMIT_MB
        peak = max((m.peak_rss_mb for n in (1, 2) if (m := figures.get(1_000_000, n, stage)) and m.peak_rss_mb),
                   default=None)
        found.append(_check(f"1M: peak RSS of {label} ≤ {limit} MB", peak, limit, "MB"))
    return found


def checks(figures: Figures) -> list[Check]:
    """Issue #13's done-when criteria, for the sizes this run measured."""
    found: list[Check] = []
    if 100_000 in figures.sizes:
        found += _checks_100k(figures)
    if 1_000_000 in figures.sizes:
        found += _checks_1m(figures)
    return found


def markdown_table(table: Table) -> str:
    headers, body = table
    numeric = [index > 0 for index in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if right else "---" for right in numeric) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


METHOD = """\
`make bench-scale` (`SIZES="10000 100000 1000000"` to choose the sizes) runs the whole nightly
pipeline, twice per size, against the bundled simulators of a synthetic company of that many
customers, on a throwaway embedded warehouse and Airflow home (deleted afterwards):

- **Night 1** is the run whose data interval ends one day before the company's history does.
  No cursor is saved yet, so every stream reads all history up to that point: 90 days.
- **Night 2** is the next run. It reads one day of change, about 1% of the records: new
  tickets, survey answers and reviews, and updates to old tickets, deals and contacts.

Each night is the real DAG run by `airflow dags test` (as `make demo` does) with task retries
off. The time of the whole night is measured around that command, so it includes Airflow's
start-up and DAG parsing. Stage times come from what the run left behind:

- the task instances in Airflow's metadata DB: each stream's extract-load task, its gate task,
  `dbt_build_intermediate`, `analyse_verbatims` (its records are the verbatims it analysed, from
  what the task returned), `dbt_build`, `validate_marts`, `data_docs`, `publish`.
  `airflow_overhead` is the night's time
  beyond all of its tasks. Its part `airflow_overhead:api_startup` is the start of Airflow's
  in-process execution API, which `dags test` would otherwise time into whichever task runs
  first (read from the "Task started" lines of the run's log);
- `audit.load_batches`: the records each stream fetched (extract-load) and landed (gate);
- the `run_results.json` of both of that night's dbt builds (each task keeps its own as
  `run_results.<task>.json`): each model's time (`dbt:`, records are the rows dbt reports) and
  the summed time of its tests (`dbt_tests:`). The first night also parses the dbt project from
  scratch, the second reuses that parse.

`airflow dags test` runs tasks one after another, so the sums (`extract_load`, `gate`) are time
spent in that stage. Peak memory is sampled from `/proc` every half second for every process of
the `dags test` tree (dbt counted apart), the PostgreSQL server and the simulators' own process;
each process counts its own high-water mark (VmHWM). PostgreSQL's total is the sum of PSS (its
shared buffers counted once), its largest process is RSS. `ru_maxrss` from `wait4` is the
cross-check. Each run's figures are also in `.cxloop/bench/bench-scale-<timestamp>.csv`;
`python scripts/bench_scale.py --report <csv>` renders this page and its chart from such a file
(add `--baseline <older csv>` to compare two runs stage by stage).
Each night's Airflow log, dbt run results and per-process memory peaks stay in
`.cxloop/bench/<timestamp>/<size>/`.
"""


def _machine(meta: dict) -> str:
    if not meta:
        return "Machine: not recorded with this CSV."
    parts = [f"{meta.get('cpus', '?')} CPUs", f"{meta.get('memory_gb', '?')} GB memory"]
    if meta.get("cpu_model"):
        parts.append(meta["cpu_model"])
    lines = [f"Machine: {', '.join(parts)}; Python {meta.get('python', '?')}."]
    if meta.get("commit"):
        lines.append(f"Code: commit `{meta['commit']}`{' (with local changes)' if meta.get('dirty') else ''}.")
    if meta.get("end"):
        lines.append(f"Company history ends {meta['end']}; night 1 and night 2 are the runs for logical dates "
                     f"{meta.get('logical_dates', ['?', '?'])[0]} and {meta.get('logical_dates', ['?', '?'])[1]}.")
    if meta.get("note"):
        lines.append(meta["note"])
    return " ".join(lines)


def render_markdown(figures: Figures, meta: dict, chart: str | None = "performance.png",
                    baseline: Figures | None = None) -> str:
    parts = ["# Performance: the whole nightly at scale", "", METHOD,
             f"Run {', '.join(figures.run_ids)}. {_machine(meta)}", ""]
    if baseline is not None:
        compared = comparison_table(figures, baseline)
        parts += [f"## Compared with run {', '.join(baseline.run_ids)}", "",
                  markdown_table(compared) if compared[1] else "No size in common with that run.", ""]
    found = checks(figures)
    if found:
        parts += ["## Targets (issue #13)", "", markdown_table((["criterion", "figure", "met"], [
            [c.criterion, c.figure, {True: "yes", False: "**no**", None: "—"}[c.passed]] for c in found])), ""]
    if chart:
        parts += ["## Time against size", "", f"![time per stage against customers]({chart})", ""]
    for size in figures.sizes:
        parts += [f"## {size:,} customers", ""]
        if figures.failed(size):
            parts += [f"**Night {', '.join(map(str, figures.failed(size)))} failed**: its figures are partial.", ""]
        parts += [markdown_table(size_table(figures, size)), "", markdown_table(memory_table(figures, size)), ""]
    if len(figures.sizes) > 1:
        parts += ["## Growth between sizes (night 1)", "",
                  f"Linear means at most {GROWTH_SLACK:g} × the growth in customers.", "",
                  markdown_table(growth_table(figures)), ""]
    return "\n".join(parts)


def _customers(size: float) -> str:
    return f"{size / 1e6:g}M" if size >= 1e6 else f"{size / 1e3:g}k" if size >= 1e3 else f"{size:g}"


def render_chart(figures: Figures, path: Path) -> None:
    """Seconds against customers, log–log, one line per main stage; night 1 and night 2 side by side."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    from matplotlib import pyplot
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    figure, axes = pyplot.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for night, ax in zip((1, 2), axes, strict=True):
        for index, stage in enumerate(MAIN_STAGES):
            points = [(size, s) for size in figures.sizes if (s := figures.seconds(size, night, stage))]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=stage, color=f"C{index}")
        ax.set(xscale="log", yscale="log", title=f"night {night}", xlabel="customers")
        # Ticks at the sizes measured, written as 10k / 1M: log axes' 10^4 is harder to read.
        ax.xaxis.set_major_locator(FixedLocator(figures.sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda size, _: _customers(size)))
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    handles = {label: line for ax in axes for line, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    figure.tight_layout(rect=(0, 0, 0.84, 1))
    if handles:
        figure.legend(handles.values(), handles.keys(), loc="center right", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def print_console(figures: Figures, baseline: Figures | None = None) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    # Piped to a file or `tee`, rich would fold the stage names into a terminal's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 150)
    tables = []
    for size in figures.sizes:
        if figures.failed(size):
            console.print(f"{size:,} customers: night {', '.join(map(str, figures.failed(size)))} FAILED")
        tables += [(f"{size:,} customers", size_table(figures, size)),
                   (f"{size:,} customers: peak memory", memory_table(figures, size))]
    if baseline is not None and comparison_table(figures, baseline)[1]:
        tables.append((f"against run {', '.join(baseline.run_ids)}", comparison_table(figures, baseline)))
    elif baseline is not None:
        console.print(f"no size in common with run {', '.join(baseline.run_ids)}")
    for title, (headers, body) in tables:
        shown = RichTable(title=title, title_justify="left")
        for index, header in enumerate(headers):
            shown.add_column(header, justify="right" if index else "left")
        for cells in body:
            shown.add_row(*cells)
        console.print(shown)
    for check in checks(figures):
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[check.passed]
        console.print(f"{check.criterion}: {check.figure} ({verdict})")


def render(csv_path: Path, docs_dir: Path, *, baseline_csv: Path | None = None, console: bool = True) -> Path:
    """Write `performance.md` and `performance.png` into `docs_dir` from one run's CSV, compared
    with an earlier run's when `baseline_csv` is given."""
    figures = Figures(read_csv(csv_path))
    baseline = Figures(read_csv(baseline_csv)) if baseline_csv else None
    if console:
        print_console(figures, baseline)
    render_chart(figures, docs_dir / "performance.png")
    page = docs_dir / "performance.md"
    page.write_text(render_markdown(figures, read_meta(csv_path), baseline=baseline))
    return page
