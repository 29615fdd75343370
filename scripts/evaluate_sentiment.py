"""How well each sentiment method agrees with the held-out labels, and how fast it is.

Trains the model on enrichment/training/rated_examples.csv (rated verbatims the project wrote for
this purpose; the real pipeline trains on the company's own rated text), then scores the held-out
set (enrichment/heldout/verbatims.csv) three ways:

- the lexicon alone (`score_lexicon`);
- the model alone (`score_model`);
- the policy (`score`: the lexicon where it found opinion words or the text asks; the model
  where the lexicon found none, in a language with enough rated training text where this
  combination read held-back rated text better than the lexicon alone).

Prints agreement per language and overall, the model's own accuracy on its internal split of the
training data, and verbatims per second on one core: the process is pinned to one CPU, each run
scores the whole set `--passes` times, and the figure is the median of `--runs` runs (wall clock
and CPU time). The held-out set is only measured here; nothing is tuned on it. `--dev` measures
the development set (enrichment/dev/verbatims.csv) instead: that is the set to look at, with
`--errors`, while changing the lexicon, the rules or the training text.

    .venv/bin/python scripts/evaluate_sentiment.py [--dev] [--runs 5] [--passes 5] [--errors]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enrichment import HELDOUT_CSV, read_heldout  # noqa: E402
from enrichment.language import LANGUAGES  # noqa: E402
from enrichment.sentiment import (  # noqa: E402
    DEV_CSV,
    Scored,
    lexicon_version,
    read_rated_examples,
    score,
    score_lexicon,
    score_model,
    train,
)

REQUIRED_AGREEMENT = 0.80  # issue #17: sentiment agreement with the held-out labels, every language

Method = Callable[[Sequence[str], Sequence[str]], list[Scored]]


def pin_to_one_cpu() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def per_language(labels: list[str], expected: list[str], languages: list[str]) -> dict[str, float]:
    result = {}
    for language in LANGUAGES:
        pairs = [(p, e) for p, e, lang in zip(labels, expected, languages, strict=True) if lang == language]
        result[language] = sum(p == e for p, e in pairs) / len(pairs) if pairs else float("nan")
    result["overall"] = sum(p == e for p, e in zip(labels, expected, strict=True)) / len(expected)
    return result


def throughput(method: Method, texts: list[str], languages: list[str], runs: int, passes: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(runs):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(passes):
            method(texts, languages)
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    count = len(texts) * passes
    return count / statistics.median(wall), count / statistics.median(cpu)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per method; the median is shown")
    parser.add_argument("--passes", type=int, default=5, help="times each run scores the whole set")
    parser.add_argument("--per-language", action="store_true", help="train one model per language")
    parser.add_argument("--errors", action="store_true", help="list every verbatim the policy got wrong")
    parser.add_argument(
        "--dev", action="store_true",
        help="measure on the development set (enrichment/dev/verbatims.csv), the only set to tune on",
    )
    args = parser.parse_args(argv)

    console = Console(width=200)
    cpu = pin_to_one_cpu()
    texts_train, languages_train, labels_train = read_rated_examples()
    started = time.process_time()
    model = train(texts_train, languages_train, labels_train, per_language=args.per_language)
    train_seconds = time.process_time() - started

    rows = read_heldout(DEV_CSV if args.dev else HELDOUT_CSV)
    which = "development" if args.dev else "held-out"
    texts = [r.text for r in rows]
    languages = [r.language for r in rows]
    expected = [r.sentiment for r in rows]
    console.print(
        f"{len(rows)} {which} verbatims; model {model.version} trained on {len(texts_train)} rated verbatims "
        f"({'one per language' if args.per_language else 'one across languages'}) in {train_seconds:.1f} CPU-s; "
        f"{lexicon_version()}; pinned to CPU {cpu} of {os.cpu_count()}; {args.runs} runs × {args.passes} passes, "
        f"median; load average {os.getloadavg()[0]:.2f}"
    )

    methods: dict[str, Method] = {
        "lexicon": lambda t, langs: [score_lexicon(x, lang) for x, lang in zip(t, langs, strict=True)],
        "model": lambda t, langs: score_model(model, t, langs),
        "policy (lexicon; model where it found no opinion)": lambda t, langs: score(t, langs, model),
    }
    table = Table(box=box.MARKDOWN, show_edge=True)
    table.add_column("method")
    for language in LANGUAGES:
        table.add_column(language, justify="right")
    table.add_column("overall", justify="right")
    table.add_column("≥80% everywhere")
    table.add_column("verbatims/s (wall)", justify="right")
    table.add_column("verbatims/CPU-s", justify="right")
    policy_labels: list[str] = []
    for name, method in methods.items():
        labels = [s.label for s in method(texts, languages)]
        if name.startswith("policy"):
            policy_labels = labels
        agreement = per_language(labels, expected, languages)
        wall, per_cpu = throughput(method, texts, languages, args.runs, args.passes)
        table.add_row(
            name,
            *(f"{agreement[lang]:.1%}" for lang in LANGUAGES),
            f"{agreement['overall']:.1%}",
            "yes" if all(agreement[lang] >= REQUIRED_AGREEMENT for lang in LANGUAGES) else "no",
            f"{wall:,.0f}",
            f"{per_cpu:,.0f}",
        )
    console.print(table)
    split = ", ".join(f"{lang} {acc:.0%}" for lang, acc in model.heldout_accuracy.items())
    console.print(f"Model accuracy on its internal split of the training data: {split}")
    for name, measured in (("lexicon", model.lexicon_heldout_accuracy), ("policy", model.policy_heldout_accuracy)):
        console.print(f"  {name} on the same rows: " + ", ".join(f"{lang} {acc:.0%}" for lang, acc in measured.items()))
    trusted = [lang for lang in model.training_counts if model.beats_lexicon(lang)]
    console.print(f"  the policy lets the model read: {', '.join(trusted) or 'no language'}")

    if args.errors:
        for row, got in zip(rows, policy_labels, strict=True):
            if got != row.sentiment:
                console.print(f"  {row.id} expected {row.sentiment} got {got}: {row.text}", markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
