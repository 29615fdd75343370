"""Discovered topics: per language, the term clusters of recent verbatims, for an analyst to read.

The taxonomy (enrichment/topics.py) finds only the topics someone listed. This step shows what
customers write about that may not be listed yet: per language, it clusters the window's most
recent verbatims by their terms and writes each cluster's top terms, a few of its most
representative texts, its size and share, and which taxonomy topics its top terms already find
(an empty list is what is new) to `enrichment.discovered_topics` (migration 0007). An analyst
who sees a cluster worth counting adds its terms to dbt_project/seeds/topic_taxonomy.csv.

Method: TF-IDF over the normalised text (`enrichment.sentiment.normalise`, so `przesyłka` and
`przesylka` are one term, as in the taxonomy), then non-negative matrix factorisation
(scikit-learn's NMF): each component is a cluster, and a text belongs to the component that
weighs most in it. A cluster's top terms are the words that weigh most in its texts.

Features, chosen by trying on the development set (enrichment/dev/topics.csv: nine clusters per
language over its ~70 single-topic texts a language, purity against the labels):

- en/pl/fr/fa are clustered on character 2-4-grams within words. They read `kuriera`, `kurierem`
  and `kurier` as mostly the same, where words see three terms: purity 0.37/0.46/0.45/0.37 against
  0.36/0.35/0.38/0.36 for words (3-5-grams: 0.39/0.41/0.45/0.42). Fragments are unreadable,
  so the top terms shown are words (two letters or more).
- Chinese, written without spaces, is clustered on, and shown as, the character pairs inside
  each run of letters: no segmenter, so nothing to download (purity 0.46; 2-4-grams 0.44,
  3-5-grams 0.33).

Small samples, so the differences are a few texts; the figures only say that no choice was
clearly worse.

Deterministic (NNDSVD initialisation, fixed random state, ties broken by text), bounded (at most
SAMPLE_PER_LANGUAGE texts per language, the most recent), and rerunnable: a rerun for the same
window replaces that window's rows in one transaction.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer

from enrichment import analyse, topics
from enrichment.sentiment import normalise

log = logging.getLogger(__name__)

# Bump when the method changes (terms, clustering, ranking): stored with every row.
METHOD_VERSION = "discover-nmf-tfidf-1"
MIN_TEXTS = 30  # a language with fewer texts in the window gets no clusters: too few to tell apart
SAMPLE_PER_LANGUAGE = 5_000  # the most recent texts per language: bounds memory and time
TEXTS_PER_CLUSTER = 20  # clusters asked for: one per this many texts, within the bounds below
MIN_CLUSTERS, MAX_CLUSTERS = 2, 12
MIN_CLUSTER_SIZE = 3  # a component that more than this many texts do not share is noise, not a topic
TOP_TERMS = 8
EXAMPLES = 3
DAYS = 30
RANDOM_STATE = 0

_SUBSTRING_LANGUAGES = frozenset({"zh"})
_WORD = re.compile(r"[^\W\d_]{2,}")
_LETTERS = re.compile(r"[^\W\d_]+")

# The verbatims of the window with their detected language, at most SAMPLE_PER_LANGUAGE per
# language, the most recent first. The only place this module says where verbatims live.
VERBATIMS = """
with analysed as (
    select verbatims.verbatim, verbatims.occurred_at, analysis.detected_language as language
    from intermediate.int_verbatims_unioned as verbatims
    inner join enrichment.verbatim_analysis as analysis
        on md5(verbatims.verbatim) = analysis.text_hash and analysis.analysis_version = %(analysis_version)s
    where verbatims.verbatim is not null and btrim(verbatims.verbatim) <> '' and not verbatims.is_deleted
        and verbatims.occurred_at >= %(window_start)s and verbatims.occurred_at < %(window_end)s
        and analysis.detected_language is not null
),

ranked as (
    select
        language, verbatim,
        row_number() over (partition by language order by occurred_at desc, md5(verbatim)) as recency
    from analysed
)

select language, verbatim from ranked where recency <= %(per_language)s order by language, recency
"""
DELETE_WINDOW = "delete from enrichment.discovered_topics where window_start = %s and window_end = %s"
INSERT = """
insert into enrichment.discovered_topics
    (window_start, window_end, language, cluster_rank, top_terms, taxonomy_topics, example_texts, verbatims,
     sampled_verbatims, share, method_version, analysis_version, taxonomy_version)
values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


@dataclass(frozen=True)
class Cluster:
    """One discovered topic of one language."""

    rank: int  # 1 = the most verbatims
    top_terms: tuple[str, ...]  # normalised, heaviest first
    taxonomy_topics: tuple[str, ...]  # the taxonomy topics its top terms already find, by name
    examples: tuple[str, ...]  # distinct texts, most representative first, as written
    verbatims: int
    share: float  # verbatims / the texts clustered
    members: tuple[int, ...]  # the positions of its texts in the input, ascending


@dataclass(frozen=True)
class DiscoveryRun:
    window_start: datetime
    window_end: datetime
    clusters: Mapping[str, int]  # per language clustered, the clusters written
    skipped: tuple[str, ...]  # languages with texts, but fewer than MIN_TEXTS


def _chinese_terms(normalised: str) -> list[str]:
    return [run[i : i + 2] for run in _LETTERS.findall(normalised) for i in range(len(run) - 1)]


# A term must appear in two texts to say anything about a group, and in at most half of them,
# which drops the function words of any language without a stop list to maintain.
_TFIDF = {"sublinear_tf": True, "min_df": 2, "max_df": 0.5, "lowercase": False}


def _features(language: str) -> TfidfVectorizer:
    """What texts are clustered on."""
    if language in _SUBSTRING_LANGUAGES:
        return TfidfVectorizer(analyzer=_chinese_terms, **_TFIDF)
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), **_TFIDF)


def _terms(language: str) -> TfidfVectorizer:
    """What a cluster is described by."""
    if language in _SUBSTRING_LANGUAGES:
        return TfidfVectorizer(analyzer=_chinese_terms, **_TFIDF)
    return TfidfVectorizer(analyzer=_WORD.findall, **_TFIDF)


def discover(texts: Sequence[str], language: str, taxonomy: topics.Taxonomy | None = None) -> list[Cluster]:
    """The term clusters of `texts` (all in `language`), largest first; [] below MIN_TEXTS texts.

    The same texts in the same order give the same clusters. Texts past SAMPLE_PER_LANGUAGE are
    ignored: pass the most recent first.
    """
    texts = list(texts[:SAMPLE_PER_LANGUAGE])
    if len(texts) < MIN_TEXTS:
        return []
    taxonomy = taxonomy or topics.load_taxonomy()
    normalised = [normalise(t, language) for t in texts]
    features, described = _features(language), _terms(language)
    try:
        weights = features.fit_transform(normalised)
        term_weights = described.fit_transform(normalised).tocsr()
    except ValueError:  # no feature or word in two texts: nothing to cluster or to name
        return []
    terms = described.get_feature_names_out()
    wanted = min(MAX_CLUSTERS, max(MIN_CLUSTERS, len(texts) // TEXTS_PER_CLUSTER), weights.shape[1])
    model = NMF(n_components=wanted, init="nndsvd", random_state=RANDOM_STATE, max_iter=1_000)
    with warnings.catch_warnings():
        # A component that has not fully converged still ranks its terms; the result stays deterministic.
        warnings.simplefilter("ignore", ConvergenceWarning)
        membership = model.fit_transform(weights)
    average = np.asarray(term_weights.mean(axis=0)).ravel()
    strongest = membership.argmax(axis=1)
    assigned = membership.max(axis=1) > 0  # a text with no kept term belongs to no cluster
    found = []
    for component in range(wanted):
        members = np.flatnonzero(assigned & (strongest == component))
        if len(members) < MIN_CLUSTER_SIZE:
            continue
        # A word's weight in the cluster's texts (weighted by how much each belongs to it), times
        # the log of how many times more it weighs there than in all texts: what sets the cluster
        # apart, not what every text says ("the", "nie"). Heaviest first, equal weights by term,
        # so the order never depends on the platform's sort.
        belonging = membership[members, component]
        inside = belonging @ term_weights[members].toarray() / belonging.sum()
        loading = inside * np.log(np.divide(inside, average, out=np.ones_like(inside), where=inside > 0))
        top = [terms[i] for i in sorted(np.flatnonzero(loading > 0), key=lambda i: (-loading[i], terms[i]))]
        examples = sorted(members, key=lambda i: (-membership[i, component], texts[i]))
        found.append((
            tuple(top[:TOP_TERMS]),
            tuple(dict.fromkeys(texts[i] for i in examples))[:EXAMPLES],
            tuple(int(i) for i in members),
        ))  # fmt: skip
    found.sort(key=lambda c: (-len(c[2]), c[0]))
    return [
        Cluster(rank, top, _taxonomy_topics(top, language, taxonomy), examples, len(members),
                len(members) / len(texts), members)
        for rank, (top, examples, members) in enumerate(found, start=1)
    ]


def _taxonomy_topics(terms: Iterable[str], language: str, taxonomy: topics.Taxonomy) -> tuple[str, ...]:
    return tuple(sorted({m.topic for term in terms for m in topics.match_topics(term, language, taxonomy)}))


def discover_recent(conn: psycopg.Connection, window_end: datetime, days: int = DAYS,
                    taxonomy: topics.Taxonomy | None = None) -> DiscoveryRun:
    """Cluster the verbatims of [window_end - days, window_end) per language, and replace the window's rows.

    Reads the texts analysed under the current analysis version (their detected language), so run
    it after the enrichment step of the night.
    """
    taxonomy = taxonomy or topics.load_taxonomy()
    version = analyse.current_analysis_version(conn, taxonomy)
    window_start = window_end - timedelta(days=days)
    by_language: dict[str, list[str]] = {}
    written: dict[str, int] = {}
    # One transaction from the read to the last row: a reader of the table sees the window's old
    # clusters or its new ones, never a mix, and a failure leaves the old ones in place.
    with conn.transaction():
        rows = conn.execute(VERBATIMS, {"analysis_version": version, "window_start": window_start,
                                        "window_end": window_end, "per_language": SAMPLE_PER_LANGUAGE}).fetchall()
        for language, verbatim in rows:
            by_language.setdefault(language, []).append(verbatim)
        conn.execute(DELETE_WINDOW, (window_start, window_end))
        for language, texts in sorted(by_language.items()):
            clusters = discover(texts, language, taxonomy)
            if not clusters:
                continue
            with conn.cursor() as cursor:
                cursor.executemany(INSERT, [
                    (window_start, window_end, language, c.rank, list(c.top_terms), list(c.taxonomy_topics),
                     list(c.examples), c.verbatims, len(texts), round(c.share, 4), METHOD_VERSION, version,
                     taxonomy.version)
                    for c in clusters
                ])  # fmt: skip
            written[language] = len(clusters)
    skipped = tuple(sorted(lang for lang, texts in by_language.items() if len(texts) < MIN_TEXTS))
    log.info("discovered %s clusters per language in [%s, %s); too few texts in %s",
             written, window_start, window_end, skipped or "none")
    return DiscoveryRun(window_start, window_end, written, skipped)
