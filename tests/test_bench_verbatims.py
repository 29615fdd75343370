"""The verbatims benchmark's company and its report: what it lands each night and what it says."""

from __future__ import annotations

from collections import Counter
from random import Random

import pytest

from scripts import bench_verbatims as bench
from simulators.phrases import LANGUAGES


@pytest.fixture(scope="module")
def nights() -> tuple[bench.Landing, bench.Landing]:
    first = bench.first_night(1_000)
    return first, bench.second_night(1_000, first)


def test_night_one_is_a_thousand_customers_tickets_reviews_and_surveys_each_text_distinct(nights):
    first, _ = nights
    assert {key: len(records) for key, records in first.records.items()} == {
        ("zendesk", "users"): 1_000, ("zendesk", "tickets"): 1_500, ("trustpilot", "reviews"): 400,
        ("typeform", "responses"): 650}
    # A ticket's description, a review's title and text, a survey's two answers.
    assert len(first.texts) == 1_500 + 2 * 400 + 2 * 650 == len(set(first.texts))
    # The reviews' texts and the surveys' first answers are rated; tickets and second answers are not.
    assert first.rated == 2 * 400 + 650


def test_every_language_of_the_phrase_bank_writes_a_fair_share(nights):
    first, _ = nights
    by_language = Counter(first.languages)
    assert set(by_language) == set(LANGUAGES)
    assert min(by_language.values()) > len(first.texts) / len(LANGUAGES) / 2


def test_the_texts_a_record_carries_are_the_texts_counted(nights):
    first, _ = nights
    carried = [ticket["description"] for ticket in first.records[("zendesk", "tickets")]]
    carried += [text for review in first.records[("trustpilot", "reviews")]
                for text in (review["title"], review["text"])]
    carried += [answer["text"] for response in first.records[("typeform", "responses")]
                for answer in response["answers"] if answer["type"] == "text"]
    assert sorted(carried) == sorted(first.texts)


def test_night_two_brings_exactly_one_percent_new_text_none_seen_before(nights):
    first, second = nights
    assert len(second.texts) == 36 == len(first.texts) // 100
    assert not set(second.texts) & set(first.texts)
    assert len(set(second.texts)) == 36


def test_night_two_changes_tickets_without_changing_their_text(nights):
    first, second = nights
    before = {ticket["id"]: ticket for ticket in first.records[("zendesk", "tickets")]}
    changed = [t for t in second.records[("zendesk", "tickets")] if t["id"] in before]
    assert len(changed) == second.changed == 8  # 0.5% of 1,500
    assert all(t["description"] == before[t["id"]]["description"] and t["status"] == "solved"
               and t["updated_at"] > before[t["id"]]["updated_at"] for t in changed)


def test_a_rating_follows_the_sentiment_its_text_was_written_in():
    landing = bench.Landing()
    review = bench._review(1, 7, bench.NIGHT_1, "pl", "negative", bench._Texts(Random(1), landing, 0), Random(1))
    assert review["stars"] in (1, 2) and review["referralEmail"] == "customer7@example.com"
    assert landing.texts == [review["title"], review["text"]] and landing.rated == 2


def test_the_fct_verbatims_time_is_the_models_not_one_of_its_tests():
    results = {"results": [
        {"unique_id": "test.cxloop.not_null_fct_verbatims_verbatim_id.1a2b", "execution_time": 0.2},
        {"unique_id": "model.cxloop.fct_verbatims", "execution_time": 1.5},
        {"unique_id": "model.cxloop.int_verbatims_unioned", "execution_time": 0.7},
    ]}
    assert bench.model_result(results, "fct_verbatims")["execution_time"] == 1.5


@pytest.mark.integration
def test_two_nights_at_a_tiny_size_report_what_each_analysed_and_judge_night_two_on_the_budget(
        warehouse_session, tmp_path, monkeypatch):
    from tests.shop import empty_warehouse

    empty_warehouse(warehouse_session)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    first = bench.first_night(100)
    second = bench.second_night(100, first, 18)

    measured = bench.measure(100)

    one, two = measured["nights"]
    assert (measured["customers"], measured["budget_seconds"]) == (100, 10.0)
    assert (one["new_texts"], one["analysed"], one["fct_verbatims_total"]) == (360, 360, 360)
    # 1% of 360 rounds to 4; the ticket that changed brings no new text.
    assert (two["new_texts"], two["analysed"], two["changed_records"]) == (4, 4, 1)
    assert two["fct_verbatims_total"] == 364 == len(first.texts) + len(second.texts)
    assert two["added_seconds"] == pytest.approx(two["analyse_seconds"] + two["fct_verbatims_seconds"])
    assert measured["within_budget"] == (two["added_seconds"] <= 10.0)
    assert 0 <= two["load_min"] <= two["load_mean"] <= two["load_max"]
    lines = bench.report_lines(measured)
    assert len(lines) == 2
    assert lines[1].split()[:4] == ["100", "2", "4", "4"]
    assert lines[1].split()[-2] == ("met" if measured["within_budget"] else "missed")
