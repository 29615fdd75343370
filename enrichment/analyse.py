"""The enrichment step of a night: every verbatim not yet analysed gets its language, sentiment and topics.

It reads the verbatims of `intermediate.int_verbatims_unioned` (built by dbt just before) and
writes `enrichment.verbatim_analysis` (migration 0006), which dbt reads as a source for the marts
built just after. A text is analysed once per analysis version, keyed by its hash: the same
sentence in a thousand tickets costs one analysis, and a night analyses only text it has not
seen. A new detector, lexicon or taxonomy is a new version, so the next night re-analyses every
text in bulk, and the marts switch to the new results as they land.

Sentiment here is the text's own (lexicon method): a verbatim that comments on a rating takes the
rating's label in the marts instead, where the rating and the text are joined.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg

from enrichment import language, sentiment, topics

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


def analysis_version(taxonomy: topics.Taxonomy) -> str:
    """Names everything an analysis depends on: the language detector, the lexicons, the taxonomy."""
    parts = (language.detector_version(), sentiment.lexicon_version(), taxonomy.version)
    return "analysis-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def analyse(texts: Sequence[str], taxonomy: topics.Taxonomy) -> Iterator[tuple]:
    """(language, score, label, method, evidence, topics) of each text, in order."""
    for text, lang in zip(texts, language.detect_languages(texts), strict=True):
        scored = sentiment.score_lexicon(text, lang)
        found = sorted({match.topic for match in topics.match_topics(text, lang, taxonomy)})
        yield lang, round(scored.score, 3), scored.label, scored.method, list(scored.evidence), found


def analyse_pending(conn: psycopg.Connection, taxonomy: topics.Taxonomy | None = None,
                    batch_size: int = BATCH_SIZE) -> AnalysisRun:
    """Analyse every verbatim the warehouse holds no analysis of for this version, in one transaction."""
    taxonomy = taxonomy or topics.load_taxonomy()
    version = analysis_version(taxonomy)
    analysed = 0
    # A server-side cursor: the first night reads every verbatim, which need not fit in memory.
    with conn.transaction(), conn.cursor(name="pending_verbatims") as pending:
        pending.execute(PENDING, {"version": version})
        while rows := pending.fetchmany(batch_size):
            hashes, texts = zip(*rows, strict=True)
            with conn.cursor().copy(COPY) as copy:
                for text_hash, found in zip(hashes, analyse(texts, taxonomy), strict=True):
                    copy.write_row((text_hash, version, *found))
            analysed += len(rows)
    log.info("analysed %d verbatims (version %s)", analysed, version)
    return AnalysisRun(version, analysed)
