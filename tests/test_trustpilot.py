"""The Trustpilot connector against its simulator, through the runner and the real warehouse."""

from __future__ import annotations

import json
import logging
import math
import time
import traceback
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests

from ingest import masking, runner, trustpilot
from ingest.connections import get_connection
from ingest.http import SourceHTTPError
from ingest.streams import Window, parse_timestamp
from simulators.company import VERBATIMS, Company, iso
from simulators.server import Fault, Reply, Seen, Simulator, first
from simulators.trustpilot import (
    DEFAULT_API_SECRET,
    DEFAULT_BUSINESS_UNIT_ID,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    DELETIONS_PATH,
    REFRESH_PATH,
    TITLES,
    TOKEN_PATH,
    RateLimit,
    TrustpilotApi,
)

COMPANY = Company(customers=150, end=datetime(2026, 3, 10, tzinfo=UTC), days=60)
ALL = TrustpilotApi(COMPANY).reviews()
DAY = timedelta(days=1)
KEY = "tp-demo-key"
ENV = "AIRFLOW_CONN_CXLOOP_TRUSTPILOT"
RETRY = {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}
REVIEWS_PATH = f"/v1/private/business-units/{DEFAULT_BUSINESS_UNIT_ID}/reviews"
# The password grant's credentials, as the connection holds them.
SIGN_IN = {"login": DEFAULT_USERNAME, "api_secret": DEFAULT_API_SECRET, "business_user_password": DEFAULT_PASSWORD}


def connection(base_url: str, key: str = KEY, sign_in: dict | None = None, **extra) -> str:
    sign_in = {**SIGN_IN, **(sign_in or {})}
    return json.dumps({"conn_type": "http", "host": base_url, "password": key, "login": sign_in["login"],
                       "extra": {"business_unit_id": DEFAULT_BUSINESS_UNIT_ID, "retry": RETRY,
                                 "api_secret": sign_in["api_secret"],
                                 "business_user_password": sign_in["business_user_password"], **extra}})


@contextmanager
def serving(api, monkeypatch, key: str = KEY, sign_in: dict | None = None, **extra):
    with Simulator(api) as server:
        monkeypatch.setenv(ENV, connection(server.base_url, key, sign_in, **extra))
        yield server


def answered_after(seconds: float):
    """A reply delayed after the API has handled the request, as a slow page is."""
    def edit(reply: Reply) -> Reply:
        time.sleep(seconds)
        return reply
    return edit


def review_calls(server: Simulator) -> list[Seen]:
    return [r for r in server.requests if r.path == REVIEWS_PATH]


def grants(server: Simulator) -> list[str]:
    """The grant_type of every token request, in order."""
    return [parse_qs(r.body.decode())["grant_type"][0] for r in server.requests if r.path in (TOKEN_PATH, REFRESH_PATH)]


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


def sign_in(server: Simulator, *, secret: str = DEFAULT_API_SECRET, path: str = TOKEN_PATH,
            **form: str) -> requests.Response:
    """A token request as the vendor documents it: Basic API key and secret, a form body."""
    form = form or {"grant_type": "password", "username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
    return requests.post(server.base_url + path, data=form, auth=(KEY, secret), timeout=5)


def get(server: Simulator, token: str | None = None, path: str = REVIEWS_PATH, **params) -> requests.Response:
    """A private call with `token`, or with a fresh one when none is given."""
    token = token or sign_in(server).json()["access_token"]
    return requests.get(server.base_url + path, params=params, headers={"Authorization": f"Bearer {token}"},
                        timeout=5)


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
    queries = [r.query for r in review_calls(sim)]
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
    assert [r.query["page"] for r in review_calls(server)] == [[str(p)] for p in range(1, pages + 2)]
    assert result.fetched == result.landed == len(ALL)


def test_an_incremental_run_rereads_the_edit_lookback_before_the_cursor(db, sim):
    day = COMPANY.end - DAY
    run(day - DAY, day)
    sim.requests.clear()
    second = run(day, COMPANY.end)
    assert review_calls(sim)[0].query["startDateTime"] == [query_time(day - trustpilot.DEFAULT_EDIT_LOOKBACK)]
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
        assert review_calls(server)[0].query["startDateTime"] == [query_time(day - 7 * DAY)]
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
        statuses = [r.status for r in review_calls(server)]
        assert 429 in statuses
        # Retrying sooner than Retry-After (backoff is 0.01 s here) would meet another 429.
        assert all(after == 200 for before, after in zip(statuses, statuses[1:], strict=False) if before == 429)
        assert result.fetched == result.landed == len(ALL)
        server.requests.clear()
        server.inject(Fault("status", status=429, retry_after=0.3, path_contains=REVIEWS_PATH))
        started = time.monotonic()
        run(COMPANY.end - DAY, COMPANY.end)
        assert time.monotonic() - started >= 0.3


def test_5xx_and_connection_resets_are_retried_without_losing_a_review(db, sim, small_pages):
    sim.inject(Fault("status", status=503, path_contains=REVIEWS_PATH))
    sim.inject(Fault("status", status=502, path_contains=REVIEWS_PATH))
    sim.inject(Fault("reset", path_contains=REVIEWS_PATH))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert [r.status for r in review_calls(sim)[:4]] == [503, 502, 0, 200]
    assert set(landed(db)) == {r["id"] for r in ALL}
    assert result.rejected == 0


def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_lands(db, sim, small_pages):
    sim.inject(Fault("malformed_record", path_contains=REVIEWS_PATH))
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
    sim.inject(Fault("status", status=500, path_contains=REVIEWS_PATH), times=50)
    with pytest.raises(SourceHTTPError, match="gave up after 4 attempts") as failure:
        run(day, COMPANY.end)
    for secret in (KEY, DEFAULT_API_SECRET, DEFAULT_PASSWORD, *sim.api.issued_tokens):
        assert secret not in str(failure.value) and secret not in caplog.text
    assert landed(db) == rows_before
    assert db.execute("select watermark from raw._state").fetchall() == [(day,)]


REFUSED_SIGN_INS = {
    "a wrong API key": ({"key": "tp-wrong-key-4d1a"}, 401),
    "a wrong API secret": ({"sign_in": {"api_secret": "tp-wrong-secret-9f2c"}}, 401),
    "a wrong business-user password": ({"sign_in": {"business_user_password": "tp-wrong-password-7e3b"}}, 400),
}


@pytest.mark.parametrize("wrong", list(REFUSED_SIGN_INS))
def test_a_refused_sign_in_fails_at_once_naming_the_connection_and_its_fields_but_no_secret(
        db, api, monkeypatch, caplog, wrong):
    caplog.set_level(logging.DEBUG)
    settings, status = REFUSED_SIGN_INS[wrong]
    with serving(api, monkeypatch, **settings) as server, pytest.raises(SourceHTTPError) as failure:
        run(COMPANY.end - DAY, COMPANY.end)
    assert str(failure.value) == (
        f"trustpilot.reviews: connection cxloop_trustpilot: Trustpilot refused the business-user sign-in "
        f"(password grant, HTTP {status}); check the API key (connection password), extra.api_secret, the business "
        f"user's email (connection login) and extra.business_user_password. The values are not shown "
        f"({server.base_url}{TOKEN_PATH})")
    assert failure.value.status == status
    assert [(r.path, r.status) for r in server.requests] == [(TOKEN_PATH, status)]  # not retried, no review asked for
    shown = [str(failure.value), repr(failure.value), "".join(traceback.format_exception(failure.value)), caplog.text]
    given = [*settings.get("sign_in", {}).values(), settings.get("key", KEY), DEFAULT_API_SECRET, DEFAULT_PASSWORD]
    for secret in given:
        assert not [text for text in shown if secret in text]
    assert landed(db) == {}


def test_a_run_signs_in_with_the_password_grant_once_and_sends_the_token_on_every_private_call(db, sim, small_pages):
    result = run(COMPANY.end - DAY, COMPANY.end)
    token_call, *pages = sim.requests
    assert (token_call.method, token_call.path, token_call.status) == ("POST", TOKEN_PATH, 200)
    assert parse_qs(token_call.body.decode()) == {"grant_type": ["password"], "username": [DEFAULT_USERNAME],
                                                  "password": [DEFAULT_PASSWORD]}
    # The simulator answers 401 to a private call without a live token: every page was let through.
    # The deletions, a public endpoint, come last (the apikey header alone, which the simulator checks).
    assert [(r.path, r.status) for r in pages] == [(REVIEWS_PATH, 200)] * math.ceil(len(ALL) / 4) + [
        (DELETIONS_PATH, 200)]
    assert result.landed == len(ALL)


@pytest.mark.parametrize("expires_in", ["a string, as documented", "a number"])
def test_a_token_is_refreshed_before_it_expires_mid_run_and_no_page_is_refused(db, monkeypatch, expires_in):
    monkeypatch.setattr(trustpilot, "PAGE_SIZE", 10)
    api = TrustpilotApi(COMPANY, token_lifetime=1)
    with serving(api, monkeypatch) as server:
        # Six pages answered 0.3 s after the token was checked on arrival outlive a one-second token.
        server.inject(Fault("edit", edit=answered_after(0.3), path_contains=REVIEWS_PATH), times=10)
        if expires_in == "a number":
            as_number = Fault("edit", edit=lambda reply: Reply(reply.status, {
                **reply.body, "expires_in": float(reply.body["expires_in"])}), path_contains="/v1/oauth/")
            server.inject(as_number, times=10)
        result = run(COMPANY.end - DAY, COMPANY.end)
    assert result.landed == len(ALL)
    # A refresh rotates the refresh token; one used twice would be refused and force a new password grant.
    first_grant, *refreshes = grants(server)
    assert first_grant == "password" and refreshes and set(refreshes) == {"refresh_token"}
    assert {r.status for r in server.requests} == {200}
    # Every token the run received is masked from then on.
    assert [masking.redact(token) for token in api.issued_tokens] == ["***"] * len(api.issued_tokens)


def test_a_token_refused_before_its_expiry_is_renewed_once_and_the_page_asked_again(db, sim, small_pages):
    sim.inject(Fault("status", status=401, path_contains=REVIEWS_PATH))
    result = run(COMPANY.end - DAY, COMPANY.end)
    assert grants(sim) == ["password", "refresh_token"]
    pages = review_calls(sim)
    assert [(r.query["page"], r.status) for r in pages[:2]] == [(["1"], 401), (["1"], 200)]
    assert result.landed == len(ALL)


def test_a_token_refused_twice_in_a_row_fails_naming_the_connection(db, sim, caplog):
    caplog.set_level(logging.DEBUG)
    sim.inject(Fault("status", status=401, path_contains=REVIEWS_PATH), times=2)
    with pytest.raises(SourceHTTPError, match="HTTP 401.*check connection cxloop_trustpilot") as failure:
        run(COMPANY.end - DAY, COMPANY.end)
    assert failure.value.status == 401
    assert grants(sim) == ["password", "refresh_token"]
    assert [r.status for r in review_calls(sim)] == [401, 401]
    for secret in (DEFAULT_API_SECRET, DEFAULT_PASSWORD, *sim.api.issued_tokens):
        assert secret not in str(failure.value) and secret not in caplog.text


def test_a_refused_refresh_token_falls_back_to_the_password_grant(db, monkeypatch, small_pages):
    class RefusingRefresh(TrustpilotApi):
        def handle(self, method, path, query, headers, body):
            if path == TOKEN_PATH and parse_qs(body.decode())["grant_type"] == ["refresh_token"]:
                return Reply(400, {"error": "invalid_grant"})
            return super().handle(method, path, query, headers, body)

    with serving(RefusingRefresh(COMPANY), monkeypatch) as server:
        server.inject(Fault("status", status=401, path_contains=REVIEWS_PATH))
        result = run(COMPANY.end - DAY, COMPANY.end)
    assert grants(server) == ["password", "refresh_token", "password"]
    assert result.landed == len(ALL)


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


def test_a_connection_without_the_sign_in_fields_is_a_configuration_error_naming_each_one(monkeypatch):
    monkeypatch.setenv(ENV, json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9", "password": KEY,
                                        "extra": {"business_unit_id": DEFAULT_BUSINESS_UNIT_ID}}))
    with pytest.raises(ValueError) as missing:
        trustpilot.from_connection(get_connection(trustpilot.CONN_ID))
    assert str(missing.value) == (
        "connection cxloop_trustpilot: set the business user's email (connection login), extra.api_secret and "
        "extra.business_user_password: the private reviews endpoint needs a business user's OAuth token, for which "
        "Trustpilot takes the API key and secret and that user's email and password")
    monkeypatch.setenv(ENV, connection("http://127.0.0.1:9", sign_in={"business_user_password": ""}))
    with pytest.raises(ValueError, match="^connection cxloop_trustpilot: set extra.business_user_password: "):
        trustpilot.from_connection(get_connection(trustpilot.CONN_ID))


def test_a_sign_in_secret_with_a_line_break_is_refused_by_field_without_its_value(monkeypatch):
    pasted = "tp-pasted-secret-2b7d\n"
    monkeypatch.setenv(ENV, connection("http://127.0.0.1:9", sign_in={"api_secret": pasted}))
    refused = "^connection cxloop_trustpilot: extra.api_secret ends with a line break"
    with pytest.raises(ValueError, match=refused) as bad:
        trustpilot.from_connection(get_connection(trustpilot.CONN_ID))
    assert pasted.strip() not in str(bad.value)


def test_the_private_endpoint_refuses_a_call_without_a_live_bearer_token_with_a_401():
    now = [0.0]
    api = TrustpilotApi(COMPANY, token_lifetime=60, clock=lambda: now[0])
    invalid = {"fault": {"faultstring": "Invalid access token", "detail": {"errorcode": "oauth.v2.InvalidAccessToken"}}}
    with Simulator(api) as server:
        url = server.base_url + REVIEWS_PATH
        no_token = requests.get(url, timeout=5)
        api_key_only = requests.get(url, headers={"apikey": KEY}, timeout=5)
        made_up = requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=5)
        token = sign_in(server).json()["access_token"]
        live = get(server, token)
        now[0] = 60.0
        expired = get(server, token)
    for refused in (no_token, api_key_only, made_up):
        assert (refused.status_code, refused.json()) == (401, invalid)
    assert live.status_code == 200
    assert (expired.status_code, expired.json()) == (401, {"fault": {
        "faultstring": "Access Token expired", "detail": {"errorcode": "keymanagement.service.access_token_expired"}}})


def test_the_token_endpoint_grants_and_refreshes_as_documented_and_refuses_as_rfc_6749_words_it():
    with Simulator(TrustpilotApi(COMPANY, token_lifetime=3600)) as server:
        granted = sign_in(server)
        first_tokens = granted.json()
        refreshed = sign_in(server, path=REFRESH_PATH, grant_type="refresh_token",
                            refresh_token=first_tokens["refresh_token"])
        reused = sign_in(server, grant_type="refresh_token", refresh_token=first_tokens["refresh_token"])
        rotated = sign_in(server, grant_type="refresh_token", refresh_token=refreshed.json()["refresh_token"])
        wrong_secret = sign_in(server, secret="not-the-secret")
        wrong_password = sign_in(server, grant_type="password", username=DEFAULT_USERNAME, password="not-it")
        other_grant = sign_in(server, grant_type="client_credentials")
        as_json = requests.post(server.base_url + TOKEN_PATH, auth=(KEY, DEFAULT_API_SECRET), timeout=5,
                                json={"grant_type": "password", "username": DEFAULT_USERNAME,
                                      "password": DEFAULT_PASSWORD})
    assert granted.status_code == 200
    assert set(first_tokens) == {"access_token", "refresh_token", "expires_in", "refresh_token_expires_in", "issued_at"}
    assert (first_tokens["expires_in"], first_tokens["refresh_token_expires_in"]) == ("3600", "2592000")
    assert first_tokens["issued_at"].isdigit()
    assert refreshed.status_code == rotated.status_code == 200
    assert refreshed.json()["access_token"] != first_tokens["access_token"]
    assert (reused.status_code, reused.json()) == (400, {"error": "invalid_grant"})  # a refresh token works once
    assert (wrong_secret.status_code, wrong_secret.json()) == (401, {"error": "invalid_client"})
    assert (wrong_password.status_code, wrong_password.json()) == (400, {"error": "invalid_grant"})
    assert (other_grant.status_code, other_grant.json()) == (400, {"error": "unsupported_grant_type"})
    assert as_json.status_code == 415


def test_public_endpoints_take_the_api_key_and_no_token():
    with Simulator(TrustpilotApi(COMPANY)) as server:
        url = server.base_url + "/v1/business-units/find"
        found = requests.get(url, params={"name": "cxloop.example"}, headers={"apikey": KEY}, timeout=5)
        without_key = requests.get(url, params={"name": "cxloop.example"}, timeout=5)
        with_token_only = requests.get(url, params={"name": "cxloop.example"}, timeout=5, headers={
            "Authorization": f"Bearer {sign_in(server).json()['access_token']}"})
    assert found.status_code == 200 and found.json()["id"] == DEFAULT_BUSINESS_UNIT_ID
    assert (without_key.status_code, without_key.json()) == (401, {"message": "Invalid ApiKey"})
    assert with_token_only.status_code == 401


# -- deleted reviews ---------------------------------------------------------------------------------


def deletion_calls(server: Simulator) -> list[Seen]:
    return [r for r in server.requests if r.path == DELETIONS_PATH]


def deletions(server: Simulator, **params) -> requests.Response:
    return requests.get(server.base_url + DELETIONS_PATH, params=params, headers={"apikey": KEY}, timeout=5)


# A share of 20% deletes eight of this company's reviews, from 2 February to 6 March.
DELETED = TrustpilotApi(COMPANY, deleted_share=0.2).deletions()


def test_a_review_deleted_after_it_landed_is_landed_as_a_tombstone_by_the_next_run(db, monkeypatch):
    last = DELETED[-1]
    assert (last["deletedAt"], len(DELETED)) == ("2026-03-06T20:42:01Z", 8)
    api = TrustpilotApi(COMPANY, deleted_share=0.2)
    day = datetime(2026, 3, 6, tzinfo=UTC)
    with serving(api, monkeypatch) as server:
        api.as_of = day
        run(day - DAY, day)
        assert landed(db)[last["reviewId"]]["id"] == last["reviewId"]
        api.as_of = COMPANY.end
        server.requests.clear()
        result = run(day, COMPANY.end)
    assert last["reviewId"] not in {r["id"] for r in api.reviews()}  # gone from the list
    # Deletions from the day before the (lookback-widened) window's start, to its end's date.
    [call] = deletion_calls(server)
    assert call.query == {"startDate": [(day - trustpilot.DEFAULT_EDIT_LOOKBACK - DAY).date().isoformat()],
                          "endDate": ["2026-03-10"], "limit": ["1000"]}
    # Only the key and the deletion time are kept.
    assert landed(db)[last["reviewId"]] == {"id": last["reviewId"], "_deleted_at": "2026-03-06T20:42:01Z"}
    assert (result.deleted, result.rejected) == (1, 0)
    assert db.execute("select deleted from audit.load_batches where batch_id = %s",
                      (result.batch_id,)).fetchone() == (1,)
    # The range re-reads the earlier deletions too: landed as tombstones by the first run, they change nothing.
    assert len([d for d in DELETED if d["deletedAt"] >= call.query["startDate"][0]]) == 7


def test_a_first_run_without_a_start_date_reads_every_deletion_in_pages_following_next_token(db, monkeypatch):
    monkeypatch.setattr(trustpilot, "DELETIONS_PAGE_SIZE", 3)
    with serving(TrustpilotApi(COMPANY, deleted_share=0.2), monkeypatch) as server:
        result = run(COMPANY.end - DAY, COMPANY.end)
    calls = deletion_calls(server)
    assert [c.query["startDate"] for c in calls] == [["2007-01-01"]] * 3
    assert "nextToken" not in calls[0].query and all("nextToken" in c.query for c in calls[1:])
    # The deleted reviews were never listed, so their tombstones are new rows holding nothing but the key:
    # 48 reviews and 8 tombstones, a row for every review ever written.
    assert (result.inserted, result.deleted, result.rejected) == (len(ALL), len(DELETED), 0) == (56, 8, 0)
    tombstones = {key: row for key, row in landed(db).items() if "_deleted_at" in row}
    assert tombstones == {d["reviewId"]: {"id": d["reviewId"], "_deleted_at": d["deletedAt"]} for d in DELETED}


def test_the_deletions_endpoint_pages_by_next_token_within_its_dates_and_refuses_bad_parameters():
    with Simulator(TrustpilotApi(COMPANY, deleted_share=0.2)) as server:
        pages, token = [], None
        while True:
            body = deletions(server, startDate="2026-02-06", endDate="2026-02-24", limit=2,
                             **({"nextToken": token} if token else {})).json()
            pages.append(body["reviews"])
            token = body["nextToken"]
            if token is None:
                break
        default = deletions(server, startDate="2026-01-01", endDate="2026-03-10").json()
        refused = [deletions(server, **params) for params in (
            {"startDate": "2026-02-06", "endDate": "24/02/2026"}, {"startDate": "2026-02-30", "endDate": "2026-03-01"},
            {"startDate": "2026-03-01", "endDate": "2026-02-01"}, {"endDate": "2026-03-01"},
            {"startDate": "2026-02-01", "endDate": "2026-03-01", "limit": "0"},
            {"startDate": "2026-02-01", "endDate": "2026-03-01", "limit": "1001"},
            {"startDate": "2026-02-01", "endDate": "2026-03-01", "nextToken": "not-a-token"})]
        without_key = requests.get(server.base_url + DELETIONS_PATH, timeout=5,
                                   params={"startDate": "2026-02-01", "endDate": "2026-03-01"})
    # Both days included: 6 February's deletion, 24 February's, and the four between, two a page.
    assert [len(page) for page in pages] == [2, 2, 2]
    assert [d for page in pages for d in page] == DELETED[1:7]
    assert default == {"reviews": DELETED, "nextToken": None}
    assert [r.status_code for r in refused] == [400] * 7
    assert refused[0].json() == {"message": "Invalid parameter: endDate must be a date, YYYY-MM-DD; got '24/02/2026'"}
    assert (without_key.status_code, without_key.json()) == (401, {"message": "Invalid ApiKey"})
