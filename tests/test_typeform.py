"""The Typeform connector against its simulator, through the runner and the real warehouse."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from ingest import runner, typeform
from ingest.streams import Window
from simulators import launch
from simulators.company import FORMS, NPS_FORM, Company
from simulators.server import Fault

COMPANY = Company(customers=60, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
ALL = [r for r in COMPANY.typeform_responses()]
DAY = timedelta(days=1)


@pytest.fixture
def sims(monkeypatch):
    with launch.start(COMPANY, retry={"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}) as running:
        for name, value in running.env.items():
            monkeypatch.setenv(name, value)
        yield running


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(typeform, "PAGE_SIZE", 5)


def run(start, end, **kwargs):
    return runner.run_source("typeform", Window(start, end), **kwargs)[0]


def landed(db):
    return {key for (key,) in db.execute("select record_key from raw.typeform_responses")}


def before(moment):
    return {r["token"] for r in ALL if r["submitted_at"] < moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_first_run_lands_the_whole_history_up_to_the_interval_end(db, sims, small_pages):
    end = COMPANY.end - 2 * DAY
    result = run(end - DAY, end)
    assert landed(db) == before(end)
    assert result.fetched == result.landed == len(before(end))
    assert result.rejected == 0


def test_pages_are_followed_with_the_before_token_until_page_count_reaches_one(db, sims, small_pages):
    run(COMPANY.end - DAY, COMPANY.end)
    nps_requests = [r for r in sims.servers["typeform"].requests if NPS_FORM in r.path]
    nps_total = sum(1 for r in ALL if r["_form_id"] == NPS_FORM)
    assert len(nps_requests) == -(-nps_total // 5)
    assert "before" not in nps_requests[0].query
    assert all("before" in r.query for r in nps_requests[1:])


def test_an_empty_last_page_ends_the_stream(db, sims, small_pages, monkeypatch):
    exact = sum(1 for r in ALL if r["_form_id"] == NPS_FORM)
    monkeypatch.setattr(typeform, "PAGE_SIZE", exact)  # one full page, then nothing left
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert result.fetched == len(ALL)


def test_incremental_run_reads_from_the_cursor_and_lands_only_new_responses(db, sims, small_pages):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    sims.servers["typeform"].requests.clear()
    second = run(day, COMPANY.end)
    assert landed(db) == before(COMPANY.end)
    assert second.inserted == len(before(COMPANY.end) - before(day))
    since = sims.servers["typeform"].requests[0].query["since"]
    assert since == [(day - typeform.STREAMS[0].lookback).strftime("%Y-%m-%dT%H:%M:%S")]


def test_rerunning_the_same_interval_lands_nothing_new(db, sims):
    run(COMPANY.end - DAY, COMPANY.end)
    again = run(COMPANY.end - DAY, COMPANY.end)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
    assert landed(db) == before(COMPANY.end)


def test_429_and_5xx_are_survived_without_losing_a_record(db, sims, small_pages):
    server = sims.servers["typeform"]
    server.inject(Fault("status", status=429, retry_after=0.05))
    server.inject(Fault("status", status=503))
    server.inject(Fault("reset"))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert landed(db) == before(COMPANY.end)
    assert result.rejected == 0
    assert [r.status for r in server.requests[:4]] == [429, 503, 0, 200]


def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_lands(db, sims, small_pages):
    sims.servers["typeform"].inject(Fault("malformed_record"))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert result.fetched == len(ALL)
    assert (result.landed, result.rejected) == (len(ALL) - 1, 1)
    reason, original = db.execute("select reason, original from raw._rejected").fetchone()
    assert reason == "no natural key: missing 'token'"
    assert json.loads(original)["_form_id"] in FORMS


def test_a_failed_run_lands_nothing_and_leaves_the_cursor_alone(db, sims, small_pages):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    rows_before = landed(db)
    sims.servers["typeform"].inject(Fault("status", status=500), times=50)
    with pytest.raises(Exception, match="gave up after 4 attempts"):
        run(day, COMPANY.end)
    assert landed(db) == rows_before
    assert db.execute("select watermark from raw._state").fetchall() == [(day,)]


def test_answers_are_mapped_to_metrics_by_field_ref_and_type(db, sims):
    run(COMPANY.end - DAY, COMPANY.end)
    metrics = db.execute("select record->'_metrics' from raw.typeform_responses").fetchall()
    nps = [m["nps"] for (m,) in metrics if "nps" in m]
    assert len(nps) == sum(1 for r in ALL if r["_form_id"] == NPS_FORM)
    assert all(0 <= score <= 10 for score in nps)
    assert all(1 <= m["csat"] <= 5 and 1 <= m["ces"] <= 7 for (m,) in metrics if "csat" in m)


def test_a_source_without_a_connection_is_skipped(db, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CXLOOP_TYPEFORM", raising=False)
    assert runner.run_source("typeform", Window(COMPANY.end - DAY, COMPANY.end)) == []
    assert os.environ.get("AIRFLOW_CONN_CXLOOP_TYPEFORM") is None
