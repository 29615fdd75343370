"""The topics of a verbatim, from a taxonomy its users own.

The taxonomy is the dbt seed `dbt_project/seeds/topic_taxonomy.csv`, one row per pattern:

    topic,parent_topic,language,pattern
    delivery,logistics,pl,kurier*

A pattern is a word or a phrase. A trailing `*` on a word matches any ending (`kurier*` matches
`kuriera`, `kurierem`). A pattern written with a leading `!` is an exclusion: where it matches,
its topic is not found in the words it covers (`!in charge` keeps `charge` from finding billing in
`the manager in charge`), because an ambiguous word is often told apart by its neighbours.

Patterns and texts are normalised the same way as the sentiment lexicon
(`enrichment.sentiment.normalise`: Polish and French folded to plain letters, one spelling of
Persian letters and verb prefixes, Chinese full-width forms unified). Latin and Persian patterns
match whole words; Chinese, written without spaces, matches by substring.

The matcher is hand-written because it must share that normalisation with the lexicon and quote
the customer's own spelling as evidence. It indexes each language's patterns once, by first word
(and by stem for `*` words), and scans a text's words once: each word costs a few dictionary
lookups however large the taxonomy grows. On the held-out set it was faster than one regular
expression alternation per topic doing the same work, evidence included (scripts/evaluate_topics.py;
figures in docs/verbatims.md, "Topics").
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from enrichment.language import LANGUAGES
from enrichment.sentiment import normalise, normalise_with_origin

TAXONOMY_CSV = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "topic_taxonomy.csv"
COLUMNS: tuple[str, ...] = ("topic", "parent_topic", "language", "pattern")

# Part of the version: bump it when the way patterns match changes (tokenising, wildcard rules),
# so that texts matched under the old rules are re-matched even if the seed did not change.
MATCHING_RULES = "topics-matcher-2"  # 2: exclusion patterns ("!in charge")

# Languages written without spaces: patterns match anywhere in the text, not word by word.
_SUBSTRING_LANGUAGES = frozenset({"zh"})
# Words (letters, with inner apostrophes as in "don't") and the punctuation that ends a clause:
# a phrase must not run across a full stop ("late. Delivery" is not "late delivery").
_WORD_OR_BREAK = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|[.!?;:…。！？；，,、؟،\n]")
_BREAK_TOKENS = frozenset(".!?;:…。！？；，,、؟،\n")
_MISPLACED_STAR = re.compile(r"\*(?=\S)|(?<!\w)\*")
_TOPIC_NAME = re.compile(r"[a-z][a-z0-9_]*")
EXCLUSION = "!"  # a pattern starting with it is an exclusion


class TaxonomyError(ValueError):
    """A taxonomy row that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class TopicMatch:
    """A topic found in a verbatim and the terms that found it, as the customer spelled them."""

    topic: str
    parent_topic: str | None
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class TaxonomyRow:
    """One row of the taxonomy as written in the seed (stripped of surrounding spaces)."""

    topic: str
    parent_topic: str | None
    language: str
    pattern: str


@dataclass(frozen=True)
class _Pattern:
    topic: str
    words: tuple[str, ...]  # normalised; a word ending in * matches any ending
    excludes: bool = False  # an exclusion: its words find nothing for its topic


@dataclass(frozen=True)
class _Index:
    # Words languages: patterns by their exact first word, and by the stem of a first word "stem*".
    by_word: Mapping[str, tuple[_Pattern, ...]]
    by_stem: Mapping[str, tuple[_Pattern, ...]]
    stem_lengths: tuple[int, ...]
    # Substring languages: (topic, is an exclusion) by term, and the term lengths, longest first.
    by_term: Mapping[str, tuple[tuple[str, bool], ...]]
    term_lengths: tuple[int, ...]


@dataclass(frozen=True)
class Taxonomy:
    """A validated taxonomy, indexed per language for matching.

    `version` is a content hash of the rows (in any order) and of MATCHING_RULES: topics stored
    under one version are re-matched when an analyst edits the seed, and only then.
    """

    version: str
    rows: tuple[TaxonomyRow, ...]
    parents: Mapping[str, str | None]
    _indexes: Mapping[str, _Index]

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages with at least one pattern, in name order."""
        return tuple(sorted(self._indexes))

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic of the taxonomy, in name order."""
        return tuple(sorted(self.parents))


def load_taxonomy(path: Path = TAXONOMY_CSV) -> Taxonomy:
    """The taxonomy in `path` (the dbt seed by default), validated and indexed.

    Raises TaxonomyError naming the file and line of the first row that is unusable: a missing
    column, an empty topic or pattern, a language cxloop does not detect, a pattern with nothing
    to match or a misplaced `*`, or a topic given a different parent than on an earlier row.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise TaxonomyError(f"{path}:1: the header lacks the columns {missing}; it must be {','.join(COLUMNS)}")
            lines = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise TaxonomyError(f"no topic taxonomy at {path}: restore dbt_project/seeds/topic_taxonomy.csv") from None
    return _build(path, lines)


def _build(path: Path, lines: Iterable[tuple[int, Mapping[str, str | None]]]) -> Taxonomy:
    rows: list[TaxonomyRow] = []
    parents: dict[str, str | None] = {}
    parent_line: dict[str, int] = {}
    patterns: dict[str, list[_Pattern]] = {}
    for line, raw in lines:
        where = f"{path}:{line}"
        row = TaxonomyRow(*((raw.get(c) or "").strip() for c in COLUMNS))
        if not row.topic:
            raise TaxonomyError(f"{where}: the topic is empty; every row names the topic its pattern finds")
        if not _TOPIC_NAME.fullmatch(row.topic):
            raise TaxonomyError(
                f"{where}: topic {row.topic!r} must be lower-case letters, digits and underscores (e.g. support_speed)"
            )
        if row.language not in LANGUAGES:
            raise TaxonomyError(f"{where}: language {row.language!r} is not one cxloop detects; use one of {LANGUAGES}")
        if not row.pattern:
            raise TaxonomyError(f"{where}: the pattern of topic {row.topic!r} is empty; write a word or phrase")
        parent = row.parent_topic or None
        row = TaxonomyRow(row.topic, parent, row.language, row.pattern)
        if row.topic in parents and parents[row.topic] != parent:
            raise TaxonomyError(
                f"{where}: topic {row.topic!r} has parent {parent!r} here but {parents[row.topic]!r} on line "
                f"{parent_line[row.topic]}; a topic has one parent, so make the rows agree"
            )
        parents.setdefault(row.topic, parent)
        parent_line.setdefault(row.topic, line)
        excludes = row.pattern.startswith(EXCLUSION)
        patterns.setdefault(row.language, []).append(_Pattern(row.topic, _pattern_words(row, where), excludes))
        rows.append(row)
    if not rows:
        raise TaxonomyError(f"{path}: the taxonomy has no rows; a taxonomy without patterns would find no topic")
    return Taxonomy(
        version=_version(rows),
        rows=tuple(rows),
        parents=parents,
        _indexes={language: _index(language, found) for language, found in patterns.items()},
    )


def _pattern_words(row: TaxonomyRow, where: str) -> tuple[str, ...]:
    normalised = normalise(row.pattern.removeprefix(EXCLUSION), row.language).strip()
    if row.language in _SUBSTRING_LANGUAGES:
        if "*" in normalised:
            raise TaxonomyError(
                f"{where}: pattern {row.pattern!r} has a '*', but {row.language} patterns already match inside "
                "words; remove it"
            )
        if not normalised:
            raise TaxonomyError(f"{where}: pattern {row.pattern!r} has nothing to match after normalisation")
        return (normalised,)
    # The pattern is split by the same rule as the text, so "e-mail" or "n'arrive" match however
    # the text is punctuated; a * survives as a marker on the word it ends.
    words = tuple(m.group() + ("*" if normalised[m.end() : m.end() + 1] == "*" else "") for m in _words(normalised))
    stars = normalised.count("*")
    if not words or any(w in _BREAK_TOKENS for w in words):
        raise TaxonomyError(
            f"{where}: pattern {row.pattern!r} must be letters (a word or phrase, no punctuation inside); "
            "it has nothing a text could match"
        )
    if _MISPLACED_STAR.search(normalised) or stars != sum(w.endswith("*") for w in words):
        raise TaxonomyError(f"{where}: pattern {row.pattern!r} may use '*' only at the end of a word (e.g. deliver*)")
    return words


def _words(normalised: str) -> Iterable[re.Match[str]]:
    return _WORD_OR_BREAK.finditer(normalised)


def _version(rows: Iterable[TaxonomyRow]) -> str:
    digest = hashlib.sha256(MATCHING_RULES.encode())
    # Sorted, so that reordering the seed (which changes no match) keeps the version.
    for row in sorted(set(rows), key=lambda r: (r.language, r.topic, r.pattern, r.parent_topic or "")):
        digest.update("\x1f".join((row.topic, row.parent_topic or "", row.language, row.pattern)).encode())
        digest.update(b"\x1e")
    return "taxonomy-" + digest.hexdigest()[:16]


def _index(language: str, patterns: list[_Pattern]) -> _Index:
    if language in _SUBSTRING_LANGUAGES:
        by_term: dict[str, dict[str, bool]] = {}
        for p in patterns:
            # A term listed both ways for one topic is an exclusion: the narrower reading wins.
            topics = by_term.setdefault(p.words[0], {})
            topics[p.topic] = topics.get(p.topic, False) or p.excludes
        return _Index(
            {}, {}, (), {k: tuple(v.items()) for k, v in by_term.items()}, _descending(len(t) for t in by_term)
        )
    by_word: dict[str, list[_Pattern]] = {}
    by_stem: dict[str, list[_Pattern]] = {}
    for p in dict.fromkeys(patterns):  # a duplicated row adds nothing
        head = p.words[0]
        if head.endswith("*"):
            by_stem.setdefault(head[:-1], []).append(p)
        else:
            by_word.setdefault(head, []).append(p)
    return _Index(
        by_word={k: tuple(v) for k, v in by_word.items()},
        by_stem={k: tuple(v) for k, v in by_stem.items()},
        stem_lengths=_descending(len(s) for s in by_stem),
        by_term={},
        term_lengths=(),
    )


def _descending(lengths: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(lengths), reverse=True))


def match_topics(text: str, language: str | None, taxonomy: Taxonomy) -> list[TopicMatch]:
    """The topics `text` mentions, sorted by topic, each once, with the terms that found them.

    Only the patterns of `language` are tried: a text with no language (None), or in a language
    the taxonomy has no patterns for, matches nothing. Evidence lists each distinct matched term
    in the order it appears, spelled as in the text (for Persian, in the normalised spelling:
    Arabic ي/ك unified and the zero-width non-joiner dropped).
    """
    index = taxonomy._indexes.get(language) if language is not None else None
    if index is None or not text:
        return []
    if language in _SUBSTRING_LANGUAGES:
        found = _scan_substrings(index, text, normalise(text, language))
    else:
        normalised, origin = normalise_with_origin(text, language)
        found = _scan_words(index, text, normalised, origin)
    return [
        TopicMatch(topic, taxonomy.parents[topic], tuple(dict.fromkeys(evidence)))
        for topic, evidence in sorted(found.items())
    ]


def _scan_words(index: _Index, text: str, normalised: str, origin: list[int] | None) -> dict[str, list[str]]:
    tokens = list(_words(normalised))
    words = [m.group() for m in tokens]
    found: dict[str, list[str]] = {}
    # Per topic, where its last match ended: "late delivery" is one piece of evidence, not also
    # "delivery" again from inside it.
    covered: dict[str, int] = {}
    for i, word in enumerate(words):
        candidates = index.by_word.get(word, ())
        for n in index.stem_lengths:
            if n <= len(word):
                stemmed = index.by_stem.get(word[:n])
                if stemmed:
                    candidates = candidates + stemmed
        if not candidates:
            continue
        # Per topic, the longest pattern matching here; at equal length an exclusion wins.
        longest: dict[str, tuple[int, bool]] = {}
        for pattern in candidates:
            size = (len(pattern.words), pattern.excludes)
            if size > longest.get(pattern.topic, (0, False)) and _rest_matches(pattern.words, words, i):
                longest[pattern.topic] = size
        for topic, (size, excludes) in longest.items():
            if i < covered.get(topic, 0):
                continue
            covered[topic] = i + size
            if excludes:
                continue
            start, end = tokens[i].start(), tokens[i + size - 1].end()
            surface = normalised[start:end] if origin is None else text[origin[start] : origin[end - 1] + 1]
            found.setdefault(topic, []).append(surface)
    return found


def _rest_matches(pattern: tuple[str, ...], words: list[str], i: int) -> bool:
    if i + len(pattern) > len(words):
        return False
    for offset in range(1, len(pattern)):
        want, word = pattern[offset], words[i + offset]
        if not (word.startswith(want[:-1]) if want.endswith("*") else word == want):
            return False
    return True


def _scan_substrings(index: _Index, text: str, normalised: str) -> dict[str, list[str]]:
    # Normalising Chinese only unifies full-width forms, which keeps one character per character;
    # when it does not (a rare compatibility character), the evidence is quoted normalised.
    quoted = text if len(text) == len(normalised) else normalised
    found: dict[str, list[str]] = {}
    covered: dict[str, int] = {}
    for i in range(len(normalised)):
        for n in index.term_lengths:  # longest first, so "快递员" wins over "快递" for a topic
            topics = index.by_term.get(normalised[i : i + n])
            if not topics:
                continue
            for topic, excludes in topics:
                if i < covered.get(topic, 0):
                    continue
                covered[topic] = i + n
                if not excludes:
                    found.setdefault(topic, []).append(quoted[i : i + n])
    return found
