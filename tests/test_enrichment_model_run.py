"""The sentiment model in the nightly run: trained on the company's own rated verbatims, stored in
the warehouse with its accuracy per language, retrained only when enough new rated text arrives.

The shop of test_models, plus Trustpilot reviews whose texts and stars are the project's rated
corpus (enrichment/training/rated_examples.csv): four languages whole-ish and Chinese below the
minimum the policy needs. Unrated help-desk tickets carry development-set sentences the lexicon
finds no opinion in, so only the model can read them. Each night is what the DAG does.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from dags.cxloop_nightly import BUILD_AFTER_ENRICHMENT, BUILD_BEFORE_ENRICHMENT
from enrichment import analyse, language, sentiment, topics, training
from ingest import warehouse
from tests.shop import at, empty_warehouse, land, land_the_shop, review, ticket
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

FIRST_NIGHT_PER_LANGUAGE = {"en": 150, "pl": 150, "fr": 150, "fa": 150, "zh": 40}
UNRATED_PER_LANGUAGE = 3
# A complaint in opinion words: the lexicon reads it, whatever the model could say.
OPINION = "Terrible service, I am very disappointed."


def rated_corpus() -> dict[str, list[tuple[str, int]]]:
    by_language: dict[str, list[tuple[str, int]]] = {}
    with sentiment.TRAINING_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            by_language.setdefault(row["language"], []).append((row["text"], int(row["rating"])))
    return by_language


def unrated_without_opinion_words() -> list[str]:
    """Development-set sentences that mean something but hold no opinion word the lexicon knows,
    and do not ask: the texts the policy hands to the model."""
    chosen: dict[str, list[str]] = {}
    with sentiment.DEV_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            lang, text = row["language"], row["text"]
            if (row["sentiment"] != "neutral" and len(chosen.get(lang, [])) < UNRATED_PER_LANGUAGE
                    and sentiment.score_lexicon(text, lang).label == "neutral" and not sentiment.asks(text, lang)):
                chosen.setdefault(lang, []).append(text)
    return [text for lang in sorted(chosen) for text in chosen[lang]]


def reviews(rows: list[tuple[str, int, str]], first_id: int, day: int) -> list[dict]:
    # An empty title is no verbatim: only the text is rated text.
    return [{**review(f"m{first_id + n}", f"mc{first_id + n}", stars, lang), "title": "", "text": text,
             "createdAt": at(day, 15)}
            for n, (text, stars, lang) in enumerate(rows)]


def night(db) -> analyse.AnalysisRun:
    run_dbt(*BUILD_BEFORE_ENRICHMENT)
    run = analyse.analyse_pending(db)
    run_dbt(*BUILD_AFTER_ENRICHMENT)
    return run


def models(db) -> list[tuple]:
    return db.execute("""select model_version, is_current, training_rows, heldout_accuracy, lexicon_heldout_accuracy,
                                policy_heldout_accuracy, model_languages
                         from enrichment.sentiment_models order by trained_at""").fetchall()


def rated_texts_per_language(db) -> dict[str, int]:
    """The distinct texts that comment on a score, counted under their detected language."""
    texts = [text for (text,) in db.execute(
        """select distinct verbatims.verbatim from intermediate.int_verbatims_unioned as verbatims
           inner join intermediate.int_touchpoints_unioned as touchpoints using (touchpoint_id)
           where verbatims.is_rating_comment and touchpoints.score is not null
               and not verbatims.is_deleted and not touchpoints.is_deleted""").fetchall()]
    return dict(Counter(lang for lang in language.detect_languages(texts) if lang is not None))


def texts_to_analyse(db) -> int:
    return db.execute("select count(distinct md5(verbatim)) from intermediate.int_verbatims_unioned "
                      "where not is_deleted").fetchone()[0]


@pytest.fixture(scope="module")
def corpus():
    by_language = rated_corpus()
    first = [(t, s, lang) for lang, n in FIRST_NIGHT_PER_LANGUAGE.items() for t, s in by_language[lang][:n]]
    later = [(t, s, lang) for lang, n in FIRST_NIGHT_PER_LANGUAGE.items() for t, s in by_language[lang][n:]]
    return first, later


@pytest.fixture(scope="module")
def first_night(warehouse_session, corpus):
    first, _ = corpus
    empty_warehouse(warehouse_session)
    land_the_shop()
    land("trustpilot", "reviews", reviews(first, 0, day=5))
    land("zendesk", "tickets", [
        {**ticket(100 + n, 70, "web", at(6, 9), "open"), "description": text}
        for n, text in enumerate([*unrated_without_opinion_words(), OPINION])
    ])
    # The DAG's first build does not load the score_scales seed (it is not upstream of an
    # intermediate model), so on a new warehouse no rating has a band before the marts' build.
    run_dbt("seed", "--select", "score_scales")
    with warehouse.connect(warehouse_session) as db:
        run = night(db)
        db.autocommit = True
        yield db, run


def test_the_first_night_trains_a_model_and_stores_it_with_its_accuracy_per_language(first_night):
    db, run = first_night
    assert run.trained and run.model_version is not None
    [(version, is_current, rows, heldout, lexicon, policy, model_languages)] = models(db)
    assert (version, is_current) == (run.model_version, True)
    # Each distinct rated text once, under the language the detector gave it: the corpus's
    # reviews and the shop's few rated comments.
    assert rows == rated_texts_per_language(db)
    assert rows["zh"] == FIRST_NIGHT_PER_LANGUAGE["zh"]
    assert set(heldout) == set(lexicon) == set(policy) == set(rows)
    assert all(0 <= figure <= 1 for figures in (heldout, lexicon, policy) for figure in figures.values())
    # The policy's rule, on the stored figures: enough rated text, and the policy beat the lexicon.
    assert model_languages == sorted(
        lang for lang, n in rows.items() if n >= sentiment.MIN_TRAINING_PER_LANGUAGE and policy[lang] > lexicon[lang])
    assert model_languages, "the rated corpus should let the model read at least one language"
    assert run.version == analyse.analysis_version(topics.load_taxonomy(), run.model_version)


def test_a_language_below_the_minimum_of_rated_text_stays_on_the_lexicon(first_night):
    db, _ = first_night
    [(*_, rows, _heldout, _lexicon, _policy, model_languages)] = models(db)
    assert 0 < rows["zh"] < sentiment.MIN_TRAINING_PER_LANGUAGE and "zh" not in model_languages
    chinese = db.execute("""select distinct sentiment_method from marts.fct_verbatims
                            where source = 'zendesk' and detected_language = 'zh'""").fetchall()
    assert chinese == [("lexicon",)]


def test_unrated_text_without_opinion_words_is_read_by_the_model_where_the_policy_lets_it(first_night):
    db, _ = first_night
    [(*_, model_languages)] = models(db)
    tickets = db.execute("""select verbatim, detected_language, sentiment_method, sentiment_evidence
                            from marts.fct_verbatims where touchpoint_id like 'zendesk:support_ticket:1__'
                            and verbatim <> %s""", (OPINION,)).fetchall()
    assert len(tickets) == UNRATED_PER_LANGUAGE * len(language.LANGUAGES)
    for text, lang, method, evidence in tickets:
        assert method == ("model" if lang in model_languages else "lexicon"), text
        if method == "model":
            assert evidence, f"the model names the n-grams that carried {text!r}"
    assert any(method == "model" for _, _, method, _ in tickets)


def test_text_with_opinion_words_keeps_the_lexicon_and_rated_text_its_rating(first_night):
    db, _ = first_night
    label, method, evidence = db.execute("select sentiment_label, sentiment_method, sentiment_evidence "
                                         "from marts.fct_verbatims where verbatim = %s", (OPINION,)).fetchone()
    assert (label, method) == ("negative", "lexicon") and "Terrible" in [term.title() for term in evidence]
    assert db.execute("select distinct sentiment_method from marts.fct_verbatims "
                      "where touchpoint_id like 'trustpilot:review:m%'").fetchall() == [("rating",)]


@pytest.fixture(scope="module")
def second_night(first_night):
    db, _ = first_night
    return night(db)


def test_a_night_without_new_rated_text_neither_retrains_nor_analyses_anything_again(first_night, second_night):
    db, first = first_night
    assert (second_night.trained, second_night.model_version, second_night.version, second_night.analysed) == (
        False, first.model_version, first.version, 0)
    assert len(models(db)) == 1


@pytest.fixture(scope="module")
def retrained(first_night, second_night, corpus):
    db, _ = first_night
    _, later = corpus
    land("trustpilot", "reviews", reviews(later, 10_000, day=20))
    return night(db), night(db)


def test_enough_new_rated_text_retrains_once_and_re_analyses_every_text_once(first_night, retrained, corpus):
    db, first = first_night
    first_rows, later = corpus
    assert training.retrain_due(len(later), len(first_rows))
    third, fourth = retrained
    assert third.trained and third.model_version != first.model_version and third.version != first.version
    assert third.analysed == texts_to_analyse(db)
    assert db.execute("select count(*), count(distinct text_hash) from enrichment.verbatim_analysis "
                      "where analysis_version = %s", (third.version,)).fetchone() == (third.analysed, third.analysed)
    assert [(version, current) for version, current, *_ in models(db)] == [
        (first.model_version, False), (third.model_version, True)]
    [*_, (*_, rows, _heldout, _lexicon, _policy, _languages)] = models(db)
    assert rows["zh"] >= sentiment.MIN_TRAINING_PER_LANGUAGE
    # The night after: nothing new, nothing trained, nothing analysed.
    assert (fourth.trained, fourth.model_version, fourth.version, fourth.analysed) == (
        False, third.model_version, third.version, 0)
    assert db.execute("select count(*) from marts.fct_verbatims where analysis_version <> %s",
                      (third.version,)).fetchone() == (0,)


def test_retraining_is_due_when_the_new_rated_text_reaches_both_thresholds():
    floor = training.RETRAIN_MIN_NEW
    assert not training.retrain_due(floor - 1, 0)
    assert training.retrain_due(floor, 0)
    # Past floor / growth texts trained on, the share decides.
    large = int(floor / training.RETRAIN_GROWTH) * 10
    assert not training.retrain_due(floor, large)
    assert not training.retrain_due(int(large * training.RETRAIN_GROWTH) - 1, large)
    assert training.retrain_due(int(large * training.RETRAIN_GROWTH), large)


def test_training_takes_the_most_recent_texts_of_each_language_up_to_the_cap_in_a_stable_order():
    day = datetime(2026, 3, 1, tzinfo=UTC)
    rated = [training.RatedText(f"en {n}", "en", "positive", day + timedelta(days=n)) for n in range(5)]
    rated += [training.RatedText(f"pl {n}", "pl", "negative", day + timedelta(days=n)) for n in range(2)]
    chosen = training.select_training(rated, per_language=3)
    assert [r.text for r in chosen] == ["en 4", "en 3", "en 2", "pl 1", "pl 0"]
    assert training.select_training(list(reversed(rated)), per_language=3) == chosen
