"""The sentiment of a verbatim: a score in [-1, 1], a label and the method that produced it.

Three methods, each named on its result so a reader can tell how much to trust it:

- `rating`: the verbatim came with stars, NPS or CSAT, and that score is its label. This is set
  upstream, where the rating and the text are joined; nothing here produces it.
- `model`: a classifier trained on the company's own rated verbatims (weak supervision: the text
  of a review labelled by its stars). Character n-gram TF-IDF + logistic regression from
  scikit-learn: character n-grams need no tokenizer, so Chinese and Persian work as they are,
  and they tolerate typos and missing diacritics.
- `lexicon`: a hand-written seed lexicon per language (enrichment/lexicon/<language>.csv), used
  where a language has too little rated text to train on, and as the explanation of a score:
  its evidence names the terms that carried it.

The policy (`score`) reads every text with the lexicon first and keeps its label where it found
opinion words; the model reads only what the lexicon could not (a complaint or praise told without
opinion words, "the handle snapped off after two uses"), unless the text asks: a question or a
request without opinion words is neutral, and the rated text the model learned from holds
almost none.

The lexicon matcher is hand-written because what it must do is small and specific: fold
diacritics, join Persian verb prefixes, match Chinese by substring, and apply negation in the
direction each language puts it (before the word in en/pl/fr/zh, after it in Persian copulas).
A general NLP library would bring a tokenizer and models per language, which cxloop must not
download at run time.

Scores and labels (docs/verbatims.md, "Sentiment"):

- the lexicon score is the sum of the matched terms' weights, squashed into [-1, 1] by
  s / sqrt(s² + LEXICON_ALPHA); the model score is P(positive) - P(negative);
- a lexicon score inside the neutral band, |score| < NEUTRAL_BAND, is labelled neutral: one weak
  term (weight 0.5) alone does not make a text polar; one ordinary term (weight 1) does. The
  model's label is its most probable class.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

LEXICON_DIR = Path(__file__).parent / "lexicon"
TRAINING_CSV = Path(__file__).parent / "training" / "rated_examples.csv"
# The set the lexicon and the model are tuned on (same columns as the held-out set, other sentences):
# its failures show what to fix, so its own figures flatter, and only the held-out set's count.
DEV_CSV = Path(__file__).parent / "dev" / "verbatims.csv"

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
METHODS: tuple[str, ...] = ("rating", "model", "lexicon")

# |score| below this is neutral for the lexicon (the model's label is its most probable class,
# which read the dev set better than this band on its score). With LEXICON_ALPHA = 4 a single term
# of weight 1 scores 0.45 and one of weight 0.5 scores 0.24: a lone weak word ("problem", "waiting")
# stays neutral, which is how people label a plain question about a problem.
NEUTRAL_BAND = 0.3
LEXICON_ALPHA = 4.0
# A verbatim that asks (a question mark, or a question or request word opening a sentence, see
# `asks`) is usually asking, not judging: its lexicon score is halved, so a question or a request
# needs strong words to leave the neutral band.
QUESTION_DAMPING = 0.5
# How far a negation reaches, in tokens (in characters for Chinese). Further than that it is
# usually negating something else ("no reply, but the courier was nice").
NEGATION_WINDOW = 3
INTENSIFIER_WINDOW = 2
# "Not bad" is mild praise, not the opposite of "bad": a negated negative term keeps half of its
# weight with the sign flipped. A negated positive term flips fully ("not happy" means unhappy).
NEGATED_NEGATIVE_FACTOR = -0.5
NEGATED_POSITIVE_FACTOR = -1.0
# After a contrast word ("but", "ale", "mais", "ولی", "但是") the writer says what they mean.
CONTRAST_AFTER, CONTRAST_BEFORE = 1.5, 0.5

MIN_TRAINING_PER_LANGUAGE = 80


@dataclass(frozen=True)
class Scored:
    """The sentiment of one verbatim.

    `evidence` names what carried the score: lexicon terms as they appear in the text (with their
    negation, e.g. "not happy"), or the character n-grams that weighed most for the model.
    """

    score: float
    label: str
    method: str
    evidence: tuple[str, ...] = ()


def label_for(score: float) -> str:
    """positive, negative or neutral for a score in [-1, 1] (|score| < NEUTRAL_BAND is neutral)."""
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def label_from_rating(rating: float, scale_max: int = 5) -> str:
    """The label a rating gives its text for training: the top two stars positive, the bottom two
    negative, the middle one neutral (on a 1-5 scale)."""
    if not 1 <= rating <= scale_max:
        raise ValueError(f"rating {rating} is outside 1..{scale_max}: check the source's scale")
    share = (rating - 1) / (scale_max - 1)
    if share >= 0.75:
        return "positive"
    if share <= 0.25:
        return "negative"
    return "neutral"


# --- Text normalisation -------------------------------------------------------------------------

_ZWNJ = "\u200c"
_PERSIAN_FIXES = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "ؤ": "و", "ـ": None})
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670]")
# Colloquial Persian writes the verb prefixes with a ZWNJ, a space or nothing ("نمی‌دهد",
# "نمی دهد", "نمیدهد"): all three become the joined form.
_PERSIAN_PREFIX = re.compile(r"(?<!\S)(ن?می)\s+(?=\S)")
_LATIN_EXTRA = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "œ": "oe", "æ": "ae", "’": "'", "‘": "'", "`": "'"})
_WORD_OR_BREAK = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|[.!?;:…。！？；，,、؟،\n]")
_BREAKS = frozenset(".!?;:…。！？；，,、؟،\n")
_QUESTION = re.compile(r"[?？؟]\s*\W*$")
_ANY_QUESTION_MARK = re.compile(r"[?？؟]")
_CLAUSE_BREAKS = frozenset(",;:，、،；")
_GREETING_TOKENS = 2


def _fold_latin(text: str) -> tuple[str, list[int]]:
    # Polish without diacritics and French without accents are how people type on phones: both
    # the lexicon and the text are folded to plain letters, so one entry serves both spellings.
    # Folding goes character by character and remembers where each folded character came from,
    # so the evidence can quote the customer's own spelling.
    folded: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        plain = unicodedata.normalize("NFKD", ch.lower().translate(_LATIN_EXTRA))
        for part in plain:
            if not unicodedata.combining(part):
                folded.append(part)
                origin.append(i)
    return "".join(folded), origin


def _normalise_persian(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_PERSIAN_FIXES)
    text = _ARABIC_MARKS.sub("", text).replace(_ZWNJ, "")
    return _PERSIAN_PREFIX.sub(r"\1", text).lower()


def normalise_with_origin(text: str, language: str) -> tuple[str, list[int] | None]:
    if language == "fa":
        return _normalise_persian(text), None
    if language == "zh":
        return unicodedata.normalize("NFKC", text).lower(), None
    folded, origin = _fold_latin(text)
    if language == "fr":
        # "n'est", "l'appli": the elided article or negation is a word of its own.
        folded = folded.replace("'", " ")
    return folded, origin


def normalise(text: str, language: str) -> str:
    """The form the lexicon is matched against: lower case, folded diacritics (en/pl/fr), one
    spelling of Persian letters and verb prefixes, full-width forms unified (zh)."""
    return normalise_with_origin(text, language)[0]


# --- The lexicon --------------------------------------------------------------------------------

KINDS = ("polarity", "negation", "negation_after", "intensifier", "contrast", "asking")


@dataclass(frozen=True)
class Entry:
    """One row of a lexicon CSV, normalised for matching."""

    term: str
    kind: str
    weight: float
    negated_weight: float | None
    pattern: tuple[str, ...]  # tokens; a trailing * matches any ending ("recommend*")


@dataclass(frozen=True)
class Lexicon:
    language: str
    polarity: tuple[Entry, ...]
    negations: frozenset[str]
    negations_after: frozenset[str]
    intensifiers: Mapping[str, float]
    contrasts: frozenset[str]
    asking: tuple[tuple[str, ...], ...] = ()  # openers of a question or request ("how do", "czy", "请")
    by_first_token: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)
    by_first_stem: Mapping[str, tuple[Entry, ...]] = field(default_factory=dict)
    max_term_chars: int = 0  # zh only: longest term, bounds the substring search


def lexicon_languages() -> tuple[str, ...]:
    """The languages with a lexicon file, in name order."""
    return tuple(sorted(p.stem for p in LEXICON_DIR.glob("*.csv")))


def lexicon_version() -> str:
    """A content hash of every lexicon file: scores keyed by it are recomputed when a term changes."""
    digest = hashlib.sha256()
    for path in sorted(LEXICON_DIR.glob("*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "lexicon-" + digest.hexdigest()[:16]


@cache
def load_lexicon(language: str) -> Lexicon:
    """The lexicon of `language` from enrichment/lexicon/<language>.csv (read once per process)."""
    path = LEXICON_DIR / f"{language}.csv"
    if not path.exists():
        raise ValueError(f"no sentiment lexicon for language {language!r}: add {path} or score it with the model")
    rows = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            kind = row["kind"].strip()
            if kind not in KINDS:
                raise ValueError(f"{path}:{line}: kind {kind!r} is not one of {KINDS}")
            if row["language"].strip() != language:
                raise ValueError(f"{path}:{line}: language {row['language']!r} in the {language} lexicon")
            term = row["term"].strip()
            folded = normalise(term, language).strip()
            pattern = (folded,) if language == "zh" else tuple(folded.split())
            negated = (row.get("negated_weight") or "").strip()
            rows.append(
                Entry(
                    term=term,
                    kind=kind,
                    weight=float(row["weight"] or 0),
                    negated_weight=float(negated) if negated else None,
                    pattern=pattern,
                )
            )
    polarity = tuple(e for e in rows if e.kind == "polarity")
    first: dict[str, list[Entry]] = {}
    stems: dict[str, list[Entry]] = {}
    for entry in polarity:
        head = entry.pattern[0]
        if head.endswith("*"):
            stems.setdefault(head[:-1], []).append(entry)
        else:
            first.setdefault(head, []).append(entry)
    longest_first = {k: tuple(sorted(v, key=lambda e: -len(e.pattern))) for k, v in first.items()}
    stems_longest_first = {k: tuple(sorted(v, key=lambda e: -len(e.pattern))) for k, v in stems.items()}
    words = {kind: frozenset(e.pattern[0] for e in rows if e.kind == kind) for kind in KINDS}
    return Lexicon(
        language=language,
        polarity=polarity,
        negations=words["negation"],
        negations_after=words["negation_after"],
        intensifiers={e.pattern[0]: e.weight for e in rows if e.kind == "intensifier"},
        contrasts=words["contrast"],
        # Tokenised as the text is, so "est-ce" or "s'il" meets the tokens it will be compared with.
        asking=tuple(
            e.pattern if language == "zh" else tuple(m.group() for m in _WORD_OR_BREAK.finditer(" ".join(e.pattern)))
            for e in rows if e.kind == "asking"
        ),
        by_first_token=longest_first,
        by_first_stem=stems_longest_first,
        max_term_chars=max((len(e.pattern[0]) for e in polarity), default=0),
    )


@dataclass
class _Hit:
    entry: Entry
    start: int  # token index (character index for zh)
    end: int
    surface: str
    negator: str | None = None
    negator_after: bool = False
    contribution: float = 0.0


def _token_matches(pattern: str, token: str) -> bool:
    return token.startswith(pattern[:-1]) if pattern.endswith("*") else token == pattern


def _match_at(lexicon: Lexicon, tokens: Sequence[str], i: int) -> Entry | None:
    token = tokens[i]
    candidates: list[Entry] = list(lexicon.by_first_token.get(token, ()))
    for cut in range(len(token), 0, -1):
        candidates.extend(lexicon.by_first_stem.get(token[:cut], ()))
    best = None
    for entry in candidates:
        n = len(entry.pattern)
        longer = best is None or n > len(best.pattern)
        fits = i + n <= len(tokens)
        if longer and fits and all(_token_matches(p, t) for p, t in zip(entry.pattern, tokens[i : i + n], strict=True)):
            best = entry
    return best


def _weigh(hit: _Hit, intensity: float) -> float:
    entry = hit.entry
    if hit.negator is None:
        return entry.weight * intensity
    if entry.negated_weight is not None:
        return entry.negated_weight * intensity
    factor = NEGATED_POSITIVE_FACTOR if entry.weight > 0 else NEGATED_NEGATIVE_FACTOR
    return entry.weight * factor * intensity


def _clause_weights(kinds: Sequence[str]) -> list[float]:
    # Weight of each position by where it sits relative to the last contrast word of its sentence.
    weights = [1.0] * len(kinds)
    last_contrast = None
    for i, kind in enumerate(kinds):
        if kind == "contrast":
            last_contrast = i
    if last_contrast is not None:
        for i in range(len(kinds)):
            weights[i] = CONTRAST_BEFORE if i < last_contrast else CONTRAST_AFTER
    return weights


def _score_tokens(lexicon: Lexicon, tokens: list[str], surfaces: list[str]) -> list[_Hit]:
    hits: list[_Hit] = []
    consumed = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        entry = None if tokens[i] in _BREAKS else _match_at(lexicon, tokens, i)
        if entry is None:
            i += 1
            continue
        n = len(entry.pattern)
        hits.append(_Hit(entry, i, i + n, " ".join(surfaces[i : i + n])))
        consumed[i : i + n] = [True] * n
        i += n

    kinds = ["contrast" if t in lexicon.contrasts else "" for t in tokens]
    clause_weight = _clause_weights(kinds)
    for hit in hits:
        intensity = 1.0
        for j in range(hit.start - 1, max(-1, hit.start - 1 - NEGATION_WINDOW), -1):
            token = tokens[j]
            if token in _BREAKS or kinds[j]:
                break
            if consumed[j]:
                continue
            if hit.negator is None and token in lexicon.negations:
                hit.negator = surfaces[j]
            if hit.start - j <= INTENSIFIER_WINDOW and token in lexicon.intensifiers:
                intensity = max(intensity, lexicon.intensifiers[token])
        for j in range(hit.end, min(len(tokens), hit.end + NEGATION_WINDOW - 1)):
            token = tokens[j]
            if token in _BREAKS or kinds[j] or consumed[j]:
                break
            if token in lexicon.negations_after:
                # Persian puts the negated copula after the word: "راضی نیستم", "خوب نبود".
                hit.negator, hit.negator_after = surfaces[j], True
                break
        hit.contribution = _weigh(hit, intensity) * clause_weight[hit.start]
    return hits


_ZH_BREAKS = frozenset("。！？；，,.!?;:：、\n ")


def _score_chinese(lexicon: Lexicon, text: str) -> list[_Hit]:
    # Chinese has no spaces: terms are found as substrings, longest first at each position, and a
    # negation (不, 没, 未…) counts when it sits just before a term in the same clause and is not
    # itself part of a term ("不错" is praise, and its 不 negates nothing after it).
    terms = {e.pattern[0]: e for e in lexicon.polarity}
    hits: list[_Hit] = []
    consumed = [False] * len(text)
    i = 0
    while i < len(text):
        found = None
        for n in range(min(lexicon.max_term_chars, len(text) - i), 0, -1):
            entry = terms.get(text[i : i + n])
            if entry is not None:
                found = entry
                break
        if found is None:
            i += 1
            continue
        n = len(found.pattern[0])
        hits.append(_Hit(found, i, i + n, text[i : i + n]))
        consumed[i : i + n] = [True] * n
        i += n

    kinds = ["contrast" if any(text.startswith(c, i) for c in lexicon.contrasts) else "" for i in range(len(text))]
    clause_weight = _clause_weights(kinds)
    negators = sorted(lexicon.negations, key=len, reverse=True)
    # A negation character inside an intensifier negates nothing: the 别 of 特别 ("especially").
    inside_intensifier = [False] * len(text)
    for word in lexicon.intensifiers:
        start = text.find(word)
        while start != -1:
            inside_intensifier[start : start + len(word)] = [True] * len(word)
            start = text.find(word, start + 1)
    for hit in hits:
        intensity = 1.0
        j = hit.start
        window_start = max(0, hit.start - NEGATION_WINDOW)
        while j > window_start:
            j -= 1
            if text[j] in _ZH_BREAKS or consumed[j] or kinds[j]:
                break
            for negator in negators:
                if inside_intensifier[j]:
                    break
                if text.startswith(negator, j) and j + len(negator) <= hit.start and hit.negator is None:
                    hit.negator = negator
            for word, boost in lexicon.intensifiers.items():
                if text.startswith(word, j) and j + len(word) <= hit.start:
                    intensity = max(intensity, boost)
        hit.contribution = _weigh(hit, intensity) * clause_weight[hit.start]
    return hits


def _evidence(hit: _Hit, joiner: str) -> str:
    if hit.negator is None:
        return hit.surface
    return joiner.join((hit.surface, hit.negator) if hit.negator_after else (hit.negator, hit.surface))


def asks(text: str, language: str | None) -> bool:
    """Whether `text` asks rather than judges: it ends in a question mark, or one of its sentences or
    clauses opens with a question or request word of the language's lexicon (kind `asking`: "how do",
    "czy", "pouvez", "لطفا"; in Chinese the word may sit anywhere, e.g. "吗", "请")."""
    if _ANY_QUESTION_MARK.search(text):
        return True
    if language is None or language not in lexicon_languages():
        return False
    lexicon = load_lexicon(language)
    if not lexicon.asking:
        return False
    normalised = normalise(text, language)
    if language == "zh":
        return any(pattern[0] in normalised for pattern in lexicon.asking)
    tokens = [m.group() for m in _WORD_OR_BREAK.finditer(normalised)]
    # A sentence starts at the beginning and after a full stop; a clause after a short greeting
    # ("Hi, can you…", "Dzień dobry, czy…") counts too, but not one after a longer clause ("works
    # just as, jak w opisie").
    starts, clause_start = [0], 0
    for i, token in enumerate(tokens):
        if token in _BREAKS:
            if token not in _CLAUSE_BREAKS or i - clause_start <= _GREETING_TOKENS:
                starts.append(i + 1)
            clause_start = i + 1
    return any(
        tokens[i : i + len(pattern)] == list(pattern) for i in starts for pattern in lexicon.asking
    )


def score_lexicon(text: str, language: str | None) -> Scored:
    """The sentiment of `text` from the seed lexicon of `language`.

    A language without a lexicon (or None) scores neutral with no evidence: nothing was read.
    """
    if language is None or language not in lexicon_languages():
        return Scored(0.0, "neutral", "lexicon", ())
    lexicon = load_lexicon(language)
    normalised, origin = normalise_with_origin(text, language)
    if language == "zh":
        hits, joiner = _score_chinese(lexicon, normalised), ""
    else:
        matches = list(_WORD_OR_BREAK.finditer(normalised))
        tokens = [m.group() for m in matches]
        if origin is None:
            surfaces = tokens
        else:
            surfaces = [text[origin[m.start()] : origin[m.end() - 1] + 1].lower() for m in matches]
        hits, joiner = _score_tokens(lexicon, tokens, surfaces), " "
    hits = [h for h in hits if h.contribution != 0]
    total = sum(h.contribution for h in hits)
    if total and asks(text, language):
        total *= QUESTION_DAMPING
    score = total / math.sqrt(total * total + LEXICON_ALPHA) if total else 0.0
    evidence = tuple(_evidence(h, joiner) for h in sorted(hits, key=lambda h: -abs(h.contribution)))
    return Scored(round(score, 4), label_for(score), "lexicon", evidence)


# --- The model ----------------------------------------------------------------------------------

DEFAULT_PARAMS: dict[str, Any] = {
    "analyzer": "char_wb",
    "ngram_range": (2, 5),
    "sublinear_tf": True,
    "min_df": 1,
    "C": 10.0,
    "per_language": False,
    "split_fraction": 0.2,
    "seed": 17,
}


@dataclass
class Model:
    """A trained sentiment classifier and what is known about it.

    `version` is a content hash of the training rows, the parameters and scikit-learn's version:
    the same data and settings give the same version, and scores keyed by it are recomputed only
    when it changes. `heldout_accuracy` is measured on a split of the training data kept out of
    fitting (before the final fit on all rows), and `lexicon_heldout_accuracy` is the lexicon's on
    the very same rows, so the two can be compared per language; `training_counts` is the rated
    text per language.
    """

    version: str
    params: dict[str, Any]
    training_counts: dict[str, int]
    heldout_accuracy: dict[str, float]
    pipelines: dict[str, Any]  # "*" for one model across languages, else one per language
    lexicon_heldout_accuracy: dict[str, float] = field(default_factory=dict)
    # The policy's (`score`: the lexicon where it found opinion words, the model where it did not) on
    # the same held-back rows.
    policy_heldout_accuracy: dict[str, float] = field(default_factory=dict)

    def beats_lexicon(self, language: str) -> bool:
        """Whether, on held-back rows, the policy with the model agreed with the ratings more often
        than the lexicon alone did."""
        return self.policy_heldout_accuracy.get(language, 0.0) > self.lexicon_heldout_accuracy.get(language, 1.0)

    def pipeline_for(self, language: str | None) -> Any | None:
        return self.pipelines.get("*") or self.pipelines.get(language or "")


def model_version(texts: Sequence[str], languages: Sequence[str], labels: Sequence[str], params: Mapping) -> str:
    """The content hash that names a model: training rows in order, parameters, library version."""
    digest = hashlib.sha256()
    digest.update(json.dumps({k: params[k] for k in sorted(params)}, default=list).encode())
    digest.update(f"scikit-learn=={version('scikit-learn')}".encode())
    for text, language, label in zip(texts, languages, labels, strict=True):
        digest.update(json.dumps([text, language, label], ensure_ascii=False).encode())
        digest.update(b"\n")
    return "sentiment-" + digest.hexdigest()[:16]


def _fit(texts: Sequence[str], labels: Sequence[str], params: Mapping) -> Any:
    # Imported here: scikit-learn takes a second to import, and the lexicon path never needs it.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(
            analyzer=params["analyzer"],
            ngram_range=tuple(params["ngram_range"]),
            sublinear_tf=params["sublinear_tf"],
            min_df=params["min_df"],
            lowercase=True,
        ),
        # Balanced classes: rated text is mostly 5 stars, and a model that never says "negative"
        # would still look accurate on it.
        LogisticRegression(C=params["C"], class_weight="balanced", max_iter=2000),
    )
    return pipeline.fit(list(texts), list(labels))


def _split(languages: Sequence[str], labels: Sequence[str], fraction: float, seed: int) -> set[int]:
    # A stratified split by language and label, done by hand so it is exact and reproducible: every
    # (language, label) group gives the same share of its rows, chosen by a seeded shuffle.
    import random

    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(languages, labels, strict=True)):
        groups.setdefault(key, []).append(i)
    rng = random.Random(seed)
    test: set[int] = set()
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        take = int(round(len(members) * fraction)) if len(members) >= 5 else 0
        test.update(members[:take])
    return test


def _fit_all(texts: Sequence[str], languages: Sequence[str], labels: Sequence[str], params: Mapping) -> dict:
    if not params["per_language"]:
        return {"*": _fit(texts, labels, params)}
    pipelines = {}
    for language in sorted(set(languages)):
        idx = [i for i, lang in enumerate(languages) if lang == language]
        if len({labels[i] for i in idx}) >= 2:
            pipelines[language] = _fit([texts[i] for i in idx], [labels[i] for i in idx], params)
    return pipelines


def train(
    texts: Sequence[str],
    languages: Sequence[str],
    ratings_labels: Sequence[str],
    **params: Any,
) -> Model:
    """A sentiment model trained on rated verbatims, labelled by their ratings (`label_from_rating`).

    `params` override DEFAULT_PARAMS (e.g. `per_language=True`, `ngram_range=(2, 5)`). The model's
    per-language accuracy is measured on `split_fraction` of the rows held out of a first fit;
    the model returned is then fitted on every row.
    """
    if not len(texts) == len(languages) == len(ratings_labels):
        raise ValueError(
            f"train needs one language and one label per text: got {len(texts)} texts, "
            f"{len(languages)} languages, {len(ratings_labels)} labels"
        )
    unknown = sorted(set(ratings_labels) - set(LABELS))
    if unknown:
        raise ValueError(f"labels {unknown} are not one of {LABELS}: map ratings with label_from_rating first")
    if len(set(ratings_labels)) < 2:
        raise ValueError("train needs at least two different labels to tell apart")
    unknown_params = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown_params:
        raise ValueError(f"unknown model parameters {unknown_params}: known are {sorted(DEFAULT_PARAMS)}")
    settings = {**DEFAULT_PARAMS, **params}
    texts, languages, labels = list(texts), list(languages), list(ratings_labels)

    held = _split(languages, labels, settings["split_fraction"], settings["seed"])
    accuracy: dict[str, float] = {}
    lexicon_accuracy: dict[str, float] = {}
    policy_accuracy: dict[str, float] = {}
    if held:
        keep = [i for i in range(len(texts)) if i not in held]
        trial = _fit_all([texts[i] for i in keep], [languages[i] for i in keep], [labels[i] for i in keep], settings)
        probe = Model("trial", settings, {}, {}, trial)
        right, lexicon_right, policy_right, seen = Counter(), Counter(), Counter(), Counter()
        for i in sorted(held):
            pipeline = probe.pipeline_for(languages[i])
            if pipeline is None:
                continue
            seen[languages[i]] += 1
            by_model = pipeline.predict([texts[i]])[0]
            by_lexicon = score_lexicon(texts[i], languages[i])
            right[languages[i]] += by_model == labels[i]
            lexicon_right[languages[i]] += by_lexicon.label == labels[i]
            combined = by_model if _model_may_read(by_lexicon, texts[i], languages[i]) else by_lexicon.label
            policy_right[languages[i]] += combined == labels[i]
        accuracy = {lang: right[lang] / seen[lang] for lang in sorted(seen)}
        lexicon_accuracy = {lang: lexicon_right[lang] / seen[lang] for lang in sorted(seen)}
        policy_accuracy = {lang: policy_right[lang] / seen[lang] for lang in sorted(seen)}

    return Model(
        version=model_version(texts, languages, labels, settings),
        params=settings,
        training_counts=dict(sorted(Counter(languages).items())),
        heldout_accuracy=accuracy,
        pipelines=_fit_all(texts, languages, labels, settings),
        lexicon_heldout_accuracy=lexicon_accuracy,
        policy_heldout_accuracy=policy_accuracy,
    )


def _model_evidence(pipeline: Any, names: Any, row: Any, label_index: int, top: int = 3) -> tuple[str, ...]:
    classifier = pipeline.steps[-1][1]
    coef = classifier.coef_[label_index] if classifier.coef_.shape[0] > 1 else classifier.coef_[0]
    pushes = sorted(
        ((value * coef[col], names[col]) for col, value in zip(row.indices, row.data, strict=True)),
        reverse=True,
    )
    return tuple(name.strip() or name for weight, name in pushes[:top] if weight > 0 and name.strip())


def score_model(model: Model, texts: Sequence[str], languages: Sequence[str | None] | None = None) -> list[Scored]:
    """The model's sentiment of each text, in input order.

    `languages` is needed only for a per-language model; a text whose language has no model gets
    a neutral score with no evidence (the policy in `score` never sends it here).
    """
    langs: list[str | None] = list(languages) if languages is not None else [None] * len(texts)
    results: list[Scored | None] = [None] * len(texts)
    groups: dict[int, tuple[Any, list[int]]] = {}
    for i, language in enumerate(langs):
        pipeline = model.pipeline_for(language)
        if pipeline is None:
            results[i] = Scored(0.0, "neutral", "model", ())
        else:
            groups.setdefault(id(pipeline), (pipeline, []))[1].append(i)
    for pipeline, idx in groups.values():
        batch = [texts[i] for i in idx]
        matrix = pipeline.steps[0][1].transform(batch)
        classifier = pipeline.steps[-1][1]
        probabilities = classifier.predict_proba(matrix)
        classes = list(classifier.classes_)
        # Built once per batch: the vocabulary array is large, and rebuilding it per text cost
        # more than the classification itself.
        names = pipeline.steps[0][1].get_feature_names_out()
        for row_number, i in enumerate(idx):
            p = dict(zip(classes, probabilities[row_number], strict=True))
            s = float(p.get("positive", 0.0) - p.get("negative", 0.0))
            label = str(classes[int(probabilities[row_number].argmax())])
            evidence = _model_evidence(pipeline, names, matrix[row_number], classes.index(label))
            results[i] = Scored(round(s, 4), label, "model", evidence)
    return [r for r in results if r is not None]


# --- The policy ---------------------------------------------------------------------------------


def _model_may_read(lexicon_result: Scored, text: str, language: str | None) -> bool:
    # The lexicon found no opinion word strong enough (an implicit complaint: "the handle snapped
    # off after two uses"), and the text does not ask: a question or request with no opinion word is
    # neutral, and rated text, which the model learned from, holds almost none.
    return lexicon_result.label == "neutral" and not asks(text, language)


def trusted_languages(model: Model, min_training_per_language: int = MIN_TRAINING_PER_LANGUAGE) -> frozenset[str]:
    """The languages the policy (`score`) lets `model` read: at least `min_training_per_language`
    rated texts in its training data, and on held-back rated text the policy agreed with the
    ratings more often than the lexicon alone."""
    return frozenset(lang for lang, n in model.training_counts.items()
                     if n >= min_training_per_language and model.beats_lexicon(lang))


def score(
    texts: Sequence[str],
    languages: Sequence[str | None],
    model: Model | None = None,
    min_training_per_language: int = MIN_TRAINING_PER_LANGUAGE,
) -> list[Scored]:
    """The sentiment of verbatims that came without a rating, in input order.

    The lexicon reads every text first. Where it found opinion words, its label stands, with the
    words as evidence. Where it found none strong enough and the text does not ask (a question or
    a request), the model reads it, if its language had at least `min_training_per_language` rated
    texts in the training data and if, on rated text held back from the model's fit, this
    combination agreed with the ratings more often than the lexicon alone. Every other text (no
    model, a thin language, no language) keeps the lexicon's result. A verbatim that came with a
    rating is not scored here: its rating is its label, with method 'rating', set where the rating
    and the text are joined.
    """
    if len(texts) != len(languages):
        raise ValueError(f"score needs one language per text: got {len(texts)} texts and {len(languages)} languages")
    results = [score_lexicon(text, language) for text, language in zip(texts, languages, strict=True)]
    if model is None:
        return results
    trusted = trusted_languages(model, min_training_per_language)
    by_model = [
        i for i, lang in enumerate(languages)
        if lang in trusted and model.pipeline_for(lang) is not None and _model_may_read(results[i], texts[i], lang)
    ]
    if by_model:
        for i, scored in zip(
            by_model,
            score_model(model, [texts[i] for i in by_model], [languages[i] for i in by_model]),
            strict=True,
        ):
            results[i] = scored
    return results


def read_rated_examples(path: Path = TRAINING_CSV) -> tuple[list[str], list[str], list[str]]:
    """Texts, languages and rating labels of a rated-verbatims CSV (columns text, language, rating)."""
    texts, languages, labels = [], [], []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            texts.append(row["text"])
            languages.append(row["language"])
            labels.append(label_from_rating(int(row["rating"])))
    return texts, languages, labels


def agreement(predicted: Iterable[str], expected: Iterable[str]) -> float:
    """The share of labels that agree (0.0 for no labels)."""
    pairs = list(zip(predicted, expected, strict=True))
    return sum(p == e for p, e in pairs) / len(pairs) if pairs else 0.0
