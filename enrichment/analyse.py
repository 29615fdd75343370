"""The enrichment step of a night: every verbatim not yet analysed gets its language, sentiment and topics.

It reads the verbatims of `intermediate.int_verbatims_unioned` (built by dbt just before) and
writes `enrichment.verbatim_analysis` (migration 0006), which dbt reads as a source for the marts
built just after. A text is analysed once per analysis version, keyed by its hash: the same
sentence in a thousand tickets costs one analysis, and a night analyses only text it has not
seen. A new detector, lexicon, taxonomy or sentiment model is a new version, so the next night
re-analyses every text in bulk, and the marts switch to the new results as they land.

Before the texts are read, the sentiment model is trained again when enough new rated text arrived
(enrichment/training.py). Sentiment here is the text's own, by the policy of `sentiment.score`:
the lexicon, or the model where the lexicon found no opinion and the model may read the language.
A verbatim that comments on a rating takes the rating's label in the marts instead, where the
rating and the text are joined.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg

from enrichment import language, sentiment, topics, training

log = logging.getLogger(__name__)

# The text's hash is computed by the warehouse, here and in dbt (macro verbatim_hash): the two
# must be the same expression, or no analysis would ever be found again.
PENDING = """
select distinct on (md5(verbatim)) md5(verbatim) as text_hash, verbatim
from intermediate.int_verbatims_unioned as verbatims
where not is_deleted
  and not exists (
      select from enrichment.verbatim_analysis as analysed
      where analysed.text_hash = md5(verbatims.verbatim) and analysed.analysis_version = %(version)s
  )
order by md5(verbatim)
"""
COPY = """
copy enrichment.verbatim_analysis
    (text_hash, analysis_version, detected_language, sentiment_score, sentiment_label, sentiment_method,
     sentiment_evidence, topics)
from stdin
"""
BATCH_SIZE = 5_000


@dataclass(frozen=True)
class AnalysisRun:
    version: str
    analysed: int
    model_version: str | None = None  # the sentiment model scored with; None: the lexicon alone
    trained: bool = False  # whether that model was trained tonight


def analysis_version(taxonomy: topics.Taxonomy, model_version: str | None = None) -> str:
    """Names everything an analysis depends on: the language detector, the lexicons, the taxonomy
    and the sentiment model (`training.current_model`; None when there is none)."""
    parts = (language.detector_version(), sentiment.lexicon_version(), taxonomy.version)
    # Without a model the version is what it was before models ran in the night, so a warehouse
    # that has none re-analyses nothing.
    parts += (model_version,) if model_version else ()
    return "analysis-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def current_analysis_version(conn: psycopg.Connection, taxonomy: topics.Taxonomy) -> str:
    """The analysis version of the warehouse's current sentiment model (what the last night analysed under)."""
    # Its own transaction: a read must not leave the caller's connection inside one.
    with conn.transaction():
        return analysis_version(taxonomy, training.current_model_version(conn))


def analyse(texts: Sequence[str], taxonomy: topics.Taxonomy, model: sentiment.Model | None = None) -> Iterator[tuple]:
    """(language, score, label, method, evidence, topics) of each text, in order."""
    languages = language.detect_languages(texts)
    for text, lang, scored in zip(texts, languages, sentiment.score(texts, languages, model), strict=True):
        found = sorted({match.topic for match in topics.match_topics(text, lang, taxonomy)})
        yield lang, round(scored.score, 3), scored.label, scored.method, list(scored.evidence), found


def analyse_pending(conn: psycopg.Connection, taxonomy: topics.Taxonomy | None = None,
                    batch_size: int = BATCH_SIZE) -> AnalysisRun:
    """Retrain the sentiment model if it is due, then analyse every verbatim the warehouse holds no
    analysis of for this version, in one transaction."""
    taxonomy = taxonomy or topics.load_taxonomy()
    refreshed = training.refresh_model(conn)
    model = refreshed.model
    version = analysis_version(taxonomy, model.version if model else None)
    analysed = 0
    # A server-side cursor: the first night reads every verbatim, which need not fit in memory.
    with conn.transaction(), conn.cursor(name="pending_verbatims") as pending:
        pending.execute(PENDING, {"version": version})
        while rows := pending.fetchmany(batch_size):
            hashes, texts = zip(*rows, strict=True)
            with conn.cursor().copy(COPY) as copy:
                for text_hash, found in zip(hashes, analyse(texts, taxonomy, model), strict=True):
                    copy.write_row((text_hash, version, *found))
            analysed += len(rows)
    log.info("analysed %d verbatims (version %s, sentiment model %s)", analysed, version,
             model.version if model else "none")
    return AnalysisRun(version, analysed, model.version if model else None, refreshed.trained)
