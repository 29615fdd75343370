"""The Trustpilot connector against its simulator, through the runner and the real warehouse."""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import requests

from ingest import runner, trustpilot
from ingest.connections import get_connection
from ingest.http import SourceHTTPError
from ingest.streams import Window, parse_timestamp
from simulators.company import VERBATIMS, Company, iso
from simulators.server import Fault, Simulator, first
from simulators.trustpilot import DEFAULT_BUSINESS_UNIT_ID, TITLES, RateLimit, TrustpilotApi

COMPANY = Company(customers=150, end=datetime(2026, 3, 10, tzinfo=UTC), days=60)
ALL = TrustpilotApi(COMPANY).reviews()
DAY = timedelta(days=1)
KEY = "tp-demo-key"
ENV = "AIRFLOW_CONN_CXLOOP_TRUSTPILOT"
RETRY = {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}
REVIEWS_PATH = f"/v1/private/business-units/{DEFAULT_BUSINESS_UNIT_ID}/reviews"


def connection(base_url: str, key: str = KEY, **extra) -> str:
    return json.dumps({"conn_type": "http", "host": base_url, "password": key,
                       "extra": {"business_unit_id": DEFAULT_BUSINESS_UNIT_ID, "retry": RETRY, **extra}})


@contextmanager
def serving(api, monkeypatch, key: str = KEY, **extra):
    with Simulator(api) as server:
        monkeypatch.setenv(ENV, connection(server.base_url, key, **extra))
        yield server


@pytest.fixture
def api():
    return TrustpilotApi(COMPANY)


@pytest.fixture
def sim(api, monkeypatch):
    with serving(api, monkeypatch) as server:
        yield server


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(trustpilot, "PAGE_SIZE", 4)


def run(start, end, **kwargs):
    source = trustpilot.from_connection(get_connection(trustpilot.CONN_ID))
    return runner.run_stream(source, source.streams[0], Window(start, end), **kwargs)


def landed(db) -> dict[str, dict]:
    return dict(db.execute("select record_key, record from raw.trustpilot_reviews").fetchall())


def created_before(moment: datetime, reviews=ALL) -> set[str]:
    return {r["id"] for r in reviews if r["createdAt"] < iso(moment)}


def query_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def get(server: Simulator, key: str | None = KEY, path: str = REVIEWS_PATH, **params) -> requests.Response:
    return requests.get(server.base_url + path, params=params, headers={"apikey": key} if key else {}, timeout=5)


def test_first_run_lands_every_review_created_before_the_interval_end_exactly_once(db, sim, small_pages):
    end = COMPANY.end - 2 * DAY
    result = run(end - DAY, end)
    expected = created_before(end)
    keys = [key for (key,) in db.execute("select record_key from raw.trustpilot_reviews")]
    assert sorted(keys) == sorted(expected)
    assert result.fetched == result.landed == result.inserted == len(expected)
    assert result.rejected == 0
    # Never-edited reviews carry their creation time as their version.
    versions = dict(db.execute("select record_key, record_updated_at from raw.trustpilot_reviews").fetchall())
    assert versions == {r["id"]: parse_timestamp(r["updatedAt"] or r["createdAt"]) for r in ALL if r["id"] in expected}


def test_pages_follow_next_page_links_oldest_first_with_the_window_filters_kept(db, sim, small_pages):
    run(COMPANY.end - DAY, COMPANY.end)
    queries = [r.query for r in sim.requests]
    assert [q["page"] for q in queries] == [[str(p)] for p in range(1, math.ceil(len(ALL) / 4) + 1)]
    assert all(q["orderBy"] == ["createdat.asc"] and q["perPage"] == ["4"] for q in queries)
    assert all(q["endDateTime"] == [query_time(COMPANY.end)] for q in queries)
    assert not any("startDateTime" in q for q in queries)  # the first run reads all history


def test_a_page_past_the_end_is_an_empty_array_without_a_next_page_link(sim):
    body = get(sim, page=math.ceil(len(ALL) / 10) + 1, perPage=10).json()
    assert body["reviews"] == []
    assert "next-page" not in {link["rel"] for link in body["links"]}
    last = get(sim, page=math.ceil(len(ALL) / 10), perPage=10).json()
    assert last["reviews"] and "next-page" not in {link["rel"] for link in last["links"]}


def test_an_empty_page_ends_the_stream_even_when_a_next_page_link_is_offered(db, monkeypatch, small_pages):
    class EndlessLinks(TrustpilotApi):
        def handle(self, method, path, query, headers, body):
            reply = super().handle(method, path, query, headers, body)
            page = int(first(query, "page", "1"))
            reply.body["links"] = [{"href": f"http://sim{path}?page={page + 1}&perPage=4", "method": "GET",
                                    "rel": "next-page"}]
            return reply

    with serving(EndlessLinks(COMPANY), monkeypatch) as server:
        result = run(COMPANY.end - DAY, COMPANY.end)
    pages = math.ceil(len(ALL) / 4)
    assert [r.query["page"] for r in server.requests] == [[str(p)] for p in range(1, pages + 2)]
    assert result.fetched == result.landed == len(ALL)


def test_an_incremental_run_rereads_the_edit_lookback_before_the_cursor(db, sim):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    sim.requests.clear()
    second = run(day, COMPANY.end)
    assert sim.requests[0].query["startDateTime"] == [query_time(day - trustpilot.DEFAULT_EDIT_LOOKBACK)]
    assert (second.inserted, second.updated) == (len(created_before(COMPANY.end) - created_before(day)), 0)
    assert set(landed(db)) == created_before(COMPANY.end)


def test_an_edit_within_the_lookback_replaces_the_earlier_version_without_a_duplicate(db, api, sim):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    review = next(r for r in ALL if r["updatedAt"] is None and iso(day - 20 * DAY) <= r["createdAt"] < iso(day))
    lang = review["language"]
    edited = api.edit(review["id"], at=day + timedelta(hours=2), stars=1, title=TITLES[lang]["neg"],
                      text=VERBATIMS[lang]["neg"])
    second = run(day, COMPANY.end)
    assert second.updated == 1
    rows = landed(db)
    assert set(rows) == created_before(COMPANY.end)
    assert rows[review["id"]] == edited
    (version,) = db.execute("select record_updated_at from raw.trustpilot_reviews where record_key = %s",
                            (review["id"],)).fetchone()
    assert version == day + timedelta(hours=2)


def test_an_edit_older_than_the_lookback_waits_for_a_backfill_of_its_creation_date(db, api, monkeypatch):
    day = COMPANY.end - DAY
    with serving(api, monkeypatch, edit_lookback_days=7) as server:
        run(day - DAY, day)
        review = next(r for r in ALL if r["updatedAt"] is None and r["createdAt"] < iso(day - 8 * DAY))
        edited = api.edit(review["id"], at=day + timedelta(hours=1), stars=2)
        server.requests.clear()
        incremental = run(day, COMPANY.end)
        assert server.requests[0].query["startDateTime"] == [query_time(day - 7 * DAY)]
        assert incremental.updated == 0
        assert landed(db)[review["id"]] == review
        created = parse_timestamp(review["createdAt"]).replace(hour=0, minute=0, second=0)
        backfill = run(created, created + DAY, backfill=True)
    assert backfill.updated == 1
    assert landed(db)[review["id"]] == edited


def test_a_429_waits_out_its_retry_after_before_the_next_call(db, monkeypatch):
    monkeypatch.setattr(trustpilot, "PAGE_SIZE", 8)
    limited = TrustpilotApi(COMPANY, rate_limit=RateLimit(calls=2, per_seconds=0.2))
    with serving(limited, monkeypatch) as server:
        result = run(COMPANY.end - DAY, COMPANY.end)
        statuses = [r.status for r in server.requests]
        assert 429 in statuses
        # Retrying sooner than Retry-After (backoff is 0.01 s here) would meet another 429.
        assert all(after == 200 for before, after in zip(statuses, statuses[1:], strict=False) if before == 429)
        assert result.fetched == result.landed == len(ALL)
        server.requests.clear()
        server.inject(Fault("status", status=429, retry_after=0.3))
        started = time.monotonic()
        run(COMPANY.end - DAY, COMPANY.end)
        assert time.monotonic() - started >= 0.3


def test_5xx_and_connection_resets_are_retried_without_losing_a_review(db, sim, small_pages):
    sim.inject(Fault("status", status=503))
    sim.inject(Fault("status", status=502))
    sim.inject(Fault("reset"))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert [r.status for r in sim.requests[:4]] == [503, 502, 0, 200]
    assert set(landed(db)) == {r["id"] for r in ALL}
    assert result.rejected == 0


def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_lands(db, sim, small_pages):
    sim.inject(Fault("malformed_record"))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert result.fetched == len(ALL)
    assert (result.landed, result.rejected) == (len(ALL) - 1, 1)
    reason, original = db.execute("select reason, original from raw._rejected").fetchone()
    assert reason == "no natural key: missing 'id'"
    oldest = ALL[0]
    assert json.loads(original) == {k: v for k, v in oldest.items() if k != "id"}
    assert set(landed(db)) == {r["id"] for r in ALL} - {oldest["id"]}


def test_rerunning_the_same_interval_lands_nothing_new(db, sim):
    run(COMPANY.end - DAY, COMPANY.end)
    again = run(COMPANY.end - DAY, COMPANY.end)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
    assert again.fetched > 0  # it did re-read the lookback: the versions matched
    assert set(landed(db)) == {r["id"] for r in ALL}


def test_a_failed_run_lands_nothing_leaves_the_cursor_and_never_shows_the_api_key(db, sim, caplog):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    rows_before = landed(db)
    sim.inject(Fault("status", status=500), times=50)
    with pytest.raises(SourceHTTPError, match="gave up after 4 attempts") as failure:
        run(day, COMPANY.end)
    assert KEY not in str(failure.value) and KEY not in caplog.text
    assert landed(db) == rows_before
    assert db.execute("select watermark from raw._state").fetchall() == [(day,)]


def test_a_wrong_api_key_fails_at_once_and_neither_key_is_shown(db, api, monkeypatch, caplog):
    wrong = "tp-wrong-secret-9f2c"
    with serving(api, monkeypatch, key=wrong) as server, pytest.raises(SourceHTTPError, match="HTTP 401") as failure:
        run(COMPANY.end - DAY, COMPANY.end)
    assert len(server.requests) == 1  # a client error is not retried
    for secret in (wrong, KEY):
        assert secret not in str(failure.value) and secret not in caplog.text


def test_non_english_reviews_keep_their_text_intact(db, sim):
    run(COMPANY.end - DAY, COMPANY.end)
    rows = landed(db)
    for lang in ("pl", "fa", "zh", "fr"):
        written = [r for r in ALL if r["language"] == lang]
        assert written, f"the test company should have {lang} reviews"
        for review in written:
            assert rows[review["id"]]["text"] == review["text"] == VERBATIMS[lang][_mood(review["stars"])]
            assert rows[review["id"]]["title"] == review["title"]
            assert rows[review["id"]]["consumer"]["displayName"] == review["consumer"]["displayName"]
    # Stored as characters, not as \u escapes.
    (text,) = db.execute("select record::text from raw.trustpilot_reviews where record->>'language' = 'zh'"
                         " limit 1").fetchone()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text) and "\\u" not in text


def _mood(stars: int) -> str:
    return "pos" if stars >= 4 else "neu" if stars == 3 else "neg"


def test_the_simulator_answers_the_documented_parameters(sim):
    assert get(sim, key=None).status_code == 401
    assert get(sim, key="nope").status_code == 401
    assert get(sim, path="/v1/private/business-units/000000000000000000000000/reviews").status_code == 404
    assert [get(sim, perPage=n).status_code for n in (0, 101)] == [400, 400]
    assert get(sim, orderBy="newest").status_code == 400
    # Defaults: page 1 of 20, newest first.
    assert get(sim).json()["reviews"] == ALL[::-1][:20]
    # startDateTime inclusive, endDateTime exclusive; a date alone means midnight.
    lo, hi = ALL[3]["createdAt"], ALL[9]["createdAt"]
    window = get(sim, orderBy="createdat.asc", perPage=100, startDateTime=lo[:-1], endDateTime=hi[:-1]).json()
    assert window["reviews"] == ALL[3:9]
    since = get(sim, orderBy="createdat.asc", perPage=100, startDateTime="2026-02-01").json()["reviews"]
    assert since == [r for r in ALL if r["createdAt"] >= "2026-02-01T00:00:00Z"]
    filtered = get(sim, perPage=100, stars="4,5", language=["pl", "zh"]).json()["reviews"]
    assert {r["id"] for r in filtered} == {r["id"] for r in ALL if r["stars"] >= 4 and r["language"] in ("pl", "zh")}
    by_stars = [r["stars"] for r in get(sim, perPage=100, orderBy="stars.desc").json()["reviews"]]
    assert by_stars == sorted(by_stars, reverse=True)


def test_the_simulator_rate_limit_answers_429_with_retry_after():
    with Simulator(TrustpilotApi(COMPANY, rate_limit=RateLimit(calls=1, per_seconds=60))) as server:
        assert get(server).status_code == 200
        limited = get(server)
    assert limited.status_code == 429
    assert 0 < float(limited.headers["Retry-After"]) <= 60


def test_a_connection_without_a_business_unit_id_is_a_configuration_error_naming_it(monkeypatch):
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9", "password": KEY,
                                        "extra": {}}))
    with pytest.raises(ValueError, match="cxloop_trustpilot: extra.business_unit_id is required"):
        trustpilot.from_connection(get_connection(trustpilot.CONN_ID))
    monkeypatch.setenv(ENV, connection("http://127.0.0.1:9", edit_lookback_days="30"))
    with pytest.raises(ValueError, match="edit_lookback_days"):
        trustpilot.from_connection(get_connection(trustpilot.CONN_ID))
    monkeypatch.setenv(ENV, connection("http://127.0.0.1:9", edit_lookback_days=7))
    assert trustpilot.from_connection(get_connection(trustpilot.CONN_ID)).streams[0].lookback == 7 * DAY
