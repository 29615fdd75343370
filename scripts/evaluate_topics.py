"""How well the topic taxonomy finds the labelled topics, and how fast it is.

Matches every verbatim of a labelled set against the taxonomy seed
(dbt_project/seeds/topic_taxonomy.csv) in its labelled language, and prints:

- precision (of the topics found, the share a person also gave the text) and recall (of the
  topics a person gave, the share found), per language and overall, micro-averaged over
  (verbatim, topic) pairs;
- the same per topic, all languages together;
- texts per second on one core for `match_topics`, and for a baseline of one regular-expression
  alternation per topic and language doing the same work (normalising, collecting evidence in the
  customer's spelling): the process is pinned to one
  CPU, each run matches the whole set `--passes` times, and the figure is the median of `--runs`
  runs (wall clock and CPU time).

Two sets: `--set dev` (enrichment/dev/topics.csv) is the development set, written to find the
taxonomy's false positives and misses, and the one to read errors on; `--set heldout` (the
default, enrichment/heldout/verbatims.csv) is only measured: nothing is tuned on it, and
`--errors` refuses to list its texts.

    .venv/bin/python scripts/evaluate_topics.py [--set dev|heldout] [--runs 5] [--passes 20] [--errors]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from enrichment import HELDOUT_CSV  # noqa: E402
from enrichment.language import LANGUAGES  # noqa: E402
from enrichment.sentiment import normalise, normalise_with_origin  # noqa: E402
from enrichment.topics import EXCLUSION, Taxonomy, load_taxonomy, match_topics  # noqa: E402

REQUIRED_PRECISION = 0.90  # issue #17: taxonomy topics precision on the held-out set
DEV_CSV = Path(__file__).resolve().parents[1] / "enrichment" / "dev" / "topics.csv"
SETS = {"heldout": HELDOUT_CSV, "dev": DEV_CSV}


@dataclass(frozen=True)
class TopicLabels:
    """A verbatim and the topics a person gave it (a row of the held-out or the development set)."""

    id: str
    language: str
    text: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Score:
    """(verbatim, topic) pairs: found by the taxonomy, labelled by a person, and both."""

    correct: int
    found: int
    labelled: int

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.labelled if self.labelled else 0.0


def read_labels(path: Path) -> list[TopicLabels]:
    """The rows of a labelled set (columns id, language, text, topics; others ignored), in file order."""
    with path.open(encoding="utf-8", newline="") as f:
        return [
            TopicLabels(row["id"], row["language"], row["text"], tuple(t for t in row["topics"].split(";") if t))
            for row in csv.DictReader(f)
        ]


def score_by_language(rows: Sequence[TopicLabels], taxonomy: Taxonomy) -> dict[str, Score]:
    """Micro-averaged scores per language of LANGUAGES and "overall"."""
    predicted = [{m.topic for m in match_topics(r.text, r.language, taxonomy)} for r in rows]
    result = {}
    for language in (*LANGUAGES, "overall"):
        chosen = [i for i, r in enumerate(rows) if language in ("overall", r.language)]
        result[language] = Score(*scores([predicted[i] for i in chosen], [rows[i] for i in chosen]))
    return result

Matcher = Callable[[str, str], set[str]]


def pin_to_one_cpu() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def regex_baseline(taxonomy: Taxonomy) -> Matcher:
    """The obvious alternative design: one compiled alternation per topic and language.

    It does the same work as the pipeline, so the speeds compare like for like: the same
    normalisation, whole words only (letters on neither side), phrases not running across
    punctuation, and every match quoted in the customer's spelling as evidence.
    """
    letter = r"[^\W\d_]"
    between_words = r"[^\w.!?;:…。！？；，,、؟،\n]+"
    compiled: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for language in taxonomy.languages:
        for topic in taxonomy.topics:
            # alternative -> (words, is an exclusion)
            alternatives: dict[str, tuple[int, bool]] = {}
            for row in taxonomy.rows:
                if row.language != language or row.topic != topic:
                    continue
                excludes = row.pattern.startswith(EXCLUSION)
                words = normalise(row.pattern.removeprefix(EXCLUSION), language).replace("'", " ").split()
                parts = [re.escape(w[:-1]) + letter + "*" if w.endswith("*") else re.escape(w) for w in words]
                alternative = between_words.join(parts)
                size = len(words) if language != "zh" else len(words[0])
                alternatives[alternative] = max(alternatives.get(alternative, (0, False)), (size, excludes))
            if not alternatives:
                continue
            # Longest first (in words; in characters for Chinese), an exclusion first among equals, as
            # the pipeline decides: at one position the alternation takes the first alternative that
            # fits. An exclusion is a capturing group: a match through one is no evidence.
            alternation = "|".join(
                f"({a})" if alternatives[a][1] else a
                for a in sorted(alternatives, key=lambda a: alternatives[a], reverse=True)
            )
            pattern = alternation if language == "zh" else rf"(?<!{letter})(?:{alternation})(?!{letter})"
            compiled.setdefault(language, []).append((topic, re.compile(pattern)))

    def match(text: str, language: str) -> set[str]:
        if language in ("zh", "fa"):
            normalised, origin = normalise(text, language), None
        else:
            normalised, origin = normalise_with_origin(text, language)
        found = {}
        for topic, regex in compiled.get(language, ()):
            evidence = [
                normalised[m.start() : m.end()] if origin is None else text[origin[m.start()] : origin[m.end() - 1] + 1]
                for m in regex.finditer(normalised)
                if m.lastindex is None
            ]
            if evidence:
                found[topic] = tuple(dict.fromkeys(evidence))
        return set(found)

    return match


def scores(predicted: Sequence[set[str]], rows: Sequence[TopicLabels]) -> tuple[int, int, int]:
    """(correct predictions, predictions, labelled topics)."""
    correct = sum(len(p & set(r.topics)) for p, r in zip(predicted, rows, strict=True))
    return correct, sum(len(p) for p in predicted), sum(len(r.topics) for r in rows)


def ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.1%}" if denominator else "–"


def throughput(match: Matcher, rows: Sequence[TopicLabels], runs: int, passes: int) -> tuple[float, float]:
    pairs = [(r.text, r.language) for r in rows]
    wall, cpu = [], []
    for _ in range(runs):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(passes):
            for text, language in pairs:
                match(text, language)
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    count = len(pairs) * passes
    return count / statistics.median(wall), count / statistics.median(cpu)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per matcher; the median is shown")
    parser.add_argument("--passes", type=int, default=20, help="times each run matches the whole set")
    parser.add_argument("--set", choices=sorted(SETS), default="heldout", help="the labelled set to measure")
    parser.add_argument("--errors", action="store_true",
                        help="list every verbatim with a wrong or missed topic (development set only)")
    args = parser.parse_args(argv)
    if args.errors and args.set == "heldout":
        parser.error("--errors lists texts: read them on the development set (--set dev), never on the held-out set")

    console = Console(width=200)
    cpu = pin_to_one_cpu()
    started = time.process_time()
    taxonomy = load_taxonomy()
    load_seconds = time.process_time() - started
    rows = read_labels(SETS[args.set])
    console.print(
        f"{len(rows)} verbatims of the {args.set} set; {taxonomy.version} ({len(taxonomy.rows)} patterns, loaded in "
        f"{load_seconds * 1000:.0f} CPU-ms); pinned to CPU {cpu} of {os.cpu_count()}; {args.runs} runs × "
        f"{args.passes} passes, median; load average {os.getloadavg()[0]:.2f}"
    )

    def pipeline(text: str, language: str) -> set[str]:
        return {m.topic for m in match_topics(text, language, taxonomy)}

    predicted = [pipeline(r.text, r.language) for r in rows]

    quality = Table(box=box.MARKDOWN, show_edge=True)
    quality.add_column("language")
    for name in ("labelled topics", "found", "correct", "precision", "recall", "precision ≥90%"):
        quality.add_column(name, justify="right" if name != "precision ≥90%" else "left")
    for language, s in score_by_language(rows, taxonomy).items():
        quality.add_row(
            language, str(s.labelled), str(s.found), str(s.correct), ratio(s.correct, s.found),
            ratio(s.correct, s.labelled), "yes" if s.found and s.precision >= REQUIRED_PRECISION else "no",
        )  # fmt: skip
    console.print(quality)

    per_topic = Table(box=box.MARKDOWN, show_edge=True)
    for name in ("topic", "labelled", "found", "correct", "precision", "recall"):
        per_topic.add_column(name, justify="left" if name == "topic" else "right")
    for topic in taxonomy.topics:
        labelled = sum(topic in r.topics for r in rows)
        found = sum(topic in p for p in predicted)
        correct = sum(topic in p and topic in r.topics for p, r in zip(predicted, rows, strict=True))
        per_topic.add_row(
            topic, str(labelled), str(found), str(correct), ratio(correct, found), ratio(correct, labelled)
        )
    console.print(per_topic)

    speed = Table(box=box.MARKDOWN, show_edge=True)
    speed.add_column("matcher")
    speed.add_column("precision", justify="right")
    speed.add_column("recall", justify="right")
    speed.add_column("texts/s (wall)", justify="right")
    speed.add_column("texts/CPU-s", justify="right")
    matchers: dict[str, Matcher] = {
        "enrichment.topics.match_topics (pipeline)": pipeline,
        "baseline: one regex alternation per topic": regex_baseline(taxonomy),
    }
    for name, match in matchers.items():
        correct, found, labelled = scores([match(r.text, r.language) for r in rows], rows)
        wall, per_cpu = throughput(match, rows, args.runs, args.passes)
        speed.add_row(name, ratio(correct, found), ratio(correct, labelled), f"{wall:,.0f}", f"{per_cpu:,.0f}")
    console.print(speed)

    if args.errors:
        for row, got in zip(rows, predicted, strict=True):
            wrong, missed = sorted(got - set(row.topics)), sorted(set(row.topics) - got)
            if wrong or missed:
                console.print(f"  {row.id} wrong {wrong} missed {missed}: {row.text}", markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
