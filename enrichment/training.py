"""The sentiment model of the nightly run, trained on the company's own rated verbatims.

Weak supervision: a text that comments on its touchpoint's rating (`is_rating_comment` in
`intermediate.int_verbatims_unioned`: a review, a rating's comment, a survey's first open answer)
is labelled by the rating's band, read from the score_scales seed (`staging.score_scales`), the
one home of the bands. The model (`sentiment.train`) then reads the text that came without a
rating, where the policy (`sentiment.score`) lets it.

Each night, before the verbatims are analysed, `refresh_model` decides:

- no current model (or one fitted by another scikit-learn version, which cannot be trusted to
  load): train one, if some language has at least `sentiment.MIN_TRAINING_PER_LANGUAGE` rated
  texts (with fewer the policy would let the model read nothing);
- a current model: retrain only when at least `RETRAIN_MIN_NEW` rated texts, and at least
  `RETRAIN_GROWTH` of the texts the model was fitted on, were loaded since it was trained. A
  model is a new analysis version, which re-scores every text, so it changes when enough new
  evidence arrived, not every night.

Training is bounded: at most `MAX_TRAINING_PER_LANGUAGE` texts per language, the most recent,
each distinct text once (a text fitted on and also held back would flatter the accuracy), with
the fixed seed of `sentiment.DEFAULT_PARAMS`. The same rated texts give the same model and the
same version.

The model is stored in `enrichment.sentiment_models` (migration 0009) as a pickle of the
`sentiment.Model`. Unpickling runs code named in the bytes, which is why pickles from outside
must never be loaded; these rows are written only by this module, in a schema only cxloop's
own role writes (BI reads `marts` alone), and read back only by it: a pickle is as trustworthy as
the warehouse itself. The row also carries the scikit-learn version; a model from another one is
not loaded but retrained.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version

import psycopg

from enrichment import language, sentiment

log = logging.getLogger(__name__)

# Rated texts per language a model is fitted on, the most recent first: bounds the night's
# training cost (docs/verbatims.md, "In the nightly run", gives the measured CPU time).
MAX_TRAINING_PER_LANGUAGE = 5_000
# Retrain when the rated texts loaded since the current model reach both figures: at least this
# many, and at least this share of the texts it was fitted on.
RETRAIN_MIN_NEW = 200
RETRAIN_GROWTH = 0.2

# Two runs of the step at once (a backfill) would both train: the second waits, then finds the
# first one's model current.
_LOCK = "select pg_advisory_xact_lock(hashtext('cxloop.enrichment.sentiment_models'))"

# The rated verbatims: each distinct text once, at its most recent rating. The band is
# fct_touchpoints' rule (positive from `positive_from`, negative up to `negative_to`) on the
# seed's bounds. The language is the detector's, from any analysis of the text; a text not
# analysed yet is detected here.
_RATED_FROM = """
from intermediate.int_verbatims_unioned as verbatims
inner join intermediate.int_touchpoints_unioned as touchpoints
    on touchpoints.touchpoint_id = verbatims.touchpoint_id
inner join staging.score_scales as scales on scales.score_scale = touchpoints.score_scale
where verbatims.is_rating_comment and not verbatims.is_deleted
    and not touchpoints.is_deleted and touchpoints.score is not null
"""
RATED = f"""
select distinct on (md5(verbatims.verbatim))
    verbatims.verbatim,
    case
        when touchpoints.score >= scales.positive_from then 'positive'
        when touchpoints.score <= scales.negative_to then 'negative'
        else 'neutral'
    end as label,
    (select analysis.detected_language from enrichment.verbatim_analysis as analysis
     where analysis.text_hash = md5(verbatims.verbatim)
     order by analysis.analysed_at desc limit 1) as detected_language,
    verbatims.occurred_at,
    verbatims.loaded_at
{_RATED_FROM}
order by md5(verbatims.verbatim), verbatims.occurred_at desc, verbatims.verbatim_id
"""
RATED_SINCE = f"select count(distinct md5(verbatims.verbatim)) {_RATED_FROM} and verbatims.loaded_at > %(since)s"
CURRENT = """
select model_version, rated_loaded_until, training_rows, library_version, model, rated_texts
from enrichment.sentiment_models where is_current
"""
STORE = """
insert into enrichment.sentiment_models
    (model_version, training_rows, heldout_accuracy, lexicon_heldout_accuracy, policy_heldout_accuracy,
     model_languages, rated_texts, rated_loaded_until, params, library_version, model, is_current)
values (%(model_version)s, %(training_rows)s, %(heldout)s, %(lexicon)s, %(policy)s, %(languages)s,
        %(rated_texts)s, %(rated_loaded_until)s, %(params)s, %(library_version)s, %(model)s, true)
on conflict (model_version) do update set
    trained_at = now(), rated_texts = excluded.rated_texts, rated_loaded_until = excluded.rated_loaded_until,
    is_current = true
"""


@dataclass(frozen=True)
class RatedText:
    text: str
    language: str
    label: str
    occurred_at: datetime


@dataclass(frozen=True)
class Refresh:
    """The model the night scores with (None: the lexicon alone), and whether it was trained tonight."""

    model: sentiment.Model | None
    trained: bool


def library_version() -> str:
    return f"scikit-learn=={version('scikit-learn')}"


def retrain_due(new_rated: int, trained_on: int) -> bool:
    """Whether `new_rated` texts loaded since a model fitted on `trained_on` texts call for a new one."""
    return new_rated >= max(RETRAIN_MIN_NEW, RETRAIN_GROWTH * trained_on)


def select_training(rated: Sequence[RatedText], per_language: int = MAX_TRAINING_PER_LANGUAGE) -> list[RatedText]:
    """At most `per_language` texts of each language, the most recent first, in a stable order
    (language, then recency, then text), so the same rated texts give the same model."""
    by_language: dict[str, list[RatedText]] = {}
    for row in rated:
        by_language.setdefault(row.language, []).append(row)
    chosen: list[RatedText] = []
    for lang in sorted(by_language):
        rows = sorted(by_language[lang], key=lambda r: (-r.occurred_at.timestamp(), r.text))
        chosen.extend(rows[:per_language])
    return chosen


def read_rated(conn: psycopg.Connection) -> tuple[list[RatedText], datetime | None]:
    """Every distinct rated text with its band and detected language (texts with no language left
    out), and the newest `loaded_at` among them."""
    rows = conn.execute(RATED).fetchall()
    missing = [i for i, row in enumerate(rows) if row[2] is None]
    detected = dict(zip(missing, language.detect_languages([rows[i][0] for i in missing]), strict=True))
    rated = []
    for i, (text, label, lang, occurred_at, _) in enumerate(rows):
        lang = lang if lang is not None else detected[i]
        if lang is not None:
            rated.append(RatedText(text, lang, label, occurred_at))
    loaded_until = max((row[4] for row in rows), default=None)
    return rated, loaded_until


def current_model_version(conn: psycopg.Connection) -> str | None:
    """The version of the model `current_model` would load, without loading it."""
    row = conn.execute(CURRENT).fetchone()
    return row[0] if row is not None and row[3] == library_version() else None


def current_model(conn: psycopg.Connection) -> sentiment.Model | None:
    """The current model, None when there is none or it was fitted by another scikit-learn version."""
    row = conn.execute(CURRENT).fetchone()
    if row is None or row[3] != library_version():
        return None
    return pickle.loads(row[4])


def store(conn: psycopg.Connection, model: sentiment.Model, rated_texts: int, loaded_until: datetime) -> None:
    """Write `model` as the current one (call inside a transaction)."""
    conn.execute("update enrichment.sentiment_models set is_current = false where is_current")
    conn.execute(STORE, {
        "model_version": model.version,
        "training_rows": json.dumps(model.training_counts),
        "heldout": json.dumps(model.heldout_accuracy),
        "lexicon": json.dumps(model.lexicon_heldout_accuracy),
        "policy": json.dumps(model.policy_heldout_accuracy),
        "languages": sorted(sentiment.trusted_languages(model)),
        "rated_texts": rated_texts,
        "rated_loaded_until": loaded_until,
        "params": json.dumps(model.params, default=list),
        "library_version": library_version(),
        "model": pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
    })


def refresh_model(conn: psycopg.Connection) -> Refresh:
    """The model to score tonight's text with: the current one, or a new one when it is due (see the module)."""
    with conn.transaction():
        if conn.execute("select to_regclass('staging.score_scales') is null").fetchone()[0]:
            # The seed is built with the marts on a warehouse's first night: until then no rating has a band.
            log.info("no staging.score_scales yet: no sentiment model tonight")
            return Refresh(None, False)
        conn.execute(_LOCK)
        row = conn.execute(CURRENT).fetchone()
        model = current_model(conn)
        if model is not None:
            new = conn.execute(RATED_SINCE, {"since": row[1]}).fetchone()[0]
            # Growth against all the rated text there was, not the capped sample fitted on: against
            # the cap, a large company would retrain (and re-score everything) every few nights.
            if not retrain_due(new, row[5]):
                log.info("sentiment model %s stays: %d rated texts since it was trained", model.version, new)
                return Refresh(model, False)
        rated, loaded_until = read_rated(conn)
        chosen = select_training(rated)
        counts: dict[str, int] = {}
        for r in chosen:
            counts[r.language] = counts.get(r.language, 0) + 1
        if (loaded_until is None or len({r.label for r in chosen}) < 2
                or max(counts.values()) < sentiment.MIN_TRAINING_PER_LANGUAGE):
            log.info("too little rated text to train a sentiment model (%s per language)", counts)
            return Refresh(model, False)
        trained = sentiment.train([r.text for r in chosen], [r.language for r in chosen], [r.label for r in chosen])
        store(conn, trained, len(rated), loaded_until)
    log.info("trained sentiment model %s on %s; the policy lets it read %s", trained.version,
             trained.training_counts, sorted(sentiment.trusted_languages(trained)) or "no language")
    return Refresh(trained, True)
