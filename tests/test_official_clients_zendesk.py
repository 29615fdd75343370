"""The Zendesk simulator read through the official Python client, zenpy, end to end over HTTP.

zenpy builds `https://{subdomain}.zendesk.com`; its own `ZENPY_FORCE_SCHEME` and
`ZENPY_FORCE_NETLOC` settings point it at the simulator's loopback address instead, and
nothing else of it is changed. Its waits go through `zenpy.lib.api.sleep` and `time`, which the
rate-limit tests replace with a clock shared with the simulator, so that a minute of waiting
takes no time and is counted exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import zenpy.lib.api
from zenpy import Zenpy
from zenpy.lib.endpoint import EndpointFactory
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

from simulators.company import Company
from simulators.server import Fault, Simulator
from simulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_OAUTH_TOKEN, ZendeskApi

COMPANY = Company(customers=40, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
END = COMPANY.end
EMAIL, TOKEN = "agent@cxloop.example", "zd-demo-token"
# The wall clock of the rate-limit tests: long after the account's last change, none of it embargoed.
LATER = (END + timedelta(days=30)).timestamp()


def client(server: Simulator, monkeypatch, **options) -> Zenpy:
    """zenpy pointed at `server`, as the admin's API token unless `options` name other credentials."""
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", server.base_url.removeprefix("http://"))
    if not {"token", "oauth_token", "password"} & options.keys():
        options = {"email": EMAIL, "token": TOKEN, **options}
    return Zenpy(subdomain="cxloop", disable_cache=True, **options)


@pytest.fixture
def api() -> ZendeskApi:
    return ZendeskApi(COMPANY, EMAIL, TOKEN)


@pytest.fixture
def sim(api) -> Iterator[Simulator]:
    with Simulator(api) as server:
        yield server


@pytest.fixture
def zd(sim, monkeypatch) -> Zenpy:
    return client(sim, monkeypatch)


def ids(records) -> list[int]:
    return [r["id"] if isinstance(r, dict) else r.id for r in records]


def raw_pages(zd: Zenpy, url: str) -> Iterator[dict]:
    """The pages of a cursor export as zenpy's own request returns them, following `after_url`."""
    while True:
        page = zd.tickets._get(url, raw_response=True).json()
        yield page
        if page["end_of_stream"]:
            return
        url = page["after_url"]


class FakeClock:
    """The simulator's clock and zenpy's `sleep`/`time`, one and the same: zenpy's waits move it."""

    def __init__(self, monkeypatch, start: float = LATER) -> None:
        self.now = start
        self.slept: list[float] = []
        monkeypatch.setattr(zenpy.lib.api, "sleep", self.sleep)
        monkeypatch.setattr(zenpy.lib.api, "time", lambda: self.now)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


# -- exports ---------------------------------------------------------------------------------


def test_the_cursor_ticket_export_yields_every_ticket_once_in_export_order_following_after_url(zd, sim, api):
    tickets = list(zd.tickets.incremental(start_time=1, per_page=7))
    assert ids(tickets) == ids(api.records("tickets"))
    assert [t.updated_at for t in tickets] == [t["updated_at"] for t in api.records("tickets")]
    first, *later = sim.requests
    assert first.path == "/api/v2/incremental/tickets/cursor.json"
    assert first.query == {"start_time": ["1"], "per_page": ["7"]}
    # zenpy follows after_url as given: the cursor alone, with the page size the first request set.
    assert len(later) == len(tickets) // 7
    assert all(set(r.query) == {"cursor", "per_page"} and r.query["per_page"] == ["7"] for r in later)


def test_metric_sets_are_a_top_level_array_with_one_set_per_ticket_in_ticket_order(zd, sim, api):
    url = zd.tickets._build_url(EndpointFactory("tickets").incremental.cursor_start(
        start_time=1, include=["metric_sets"], per_page=7))
    pages = list(raw_pages(zd, url))
    metrics = {m["ticket_id"]: m for m in api.records("ticket_metrics")}
    for page in pages:
        assert [m["ticket_id"] for m in page["metric_sets"]] == ids(page["tickets"])
        assert page["metric_sets"] == [metrics[ticket_id] for ticket_id in ids(page["tickets"])]
        assert all("metric_set" not in ticket for ticket in page["tickets"])
    assert sum(len(p["metric_sets"]) for p in pages) == len(metrics)
    # The sideload rides on every page: after_url repeats `include`.
    assert all(r.query["include"] == ["metric_sets"] for r in sim.requests)
    # zenpy's own iterator asks for the sideload and yields the tickets, leaving the sets aside.
    assert ids(zd.tickets.incremental(start_time=1, include=["metric_sets"])) == ids(api.records("tickets"))


def test_the_time_based_ticket_export_pages_from_end_time_and_repeats_only_the_boundary_second(zd, sim, api):
    tickets = list(zd.tickets.incremental(start_time=1, paginate_by_time=True, per_page=7))
    expected = api.records("tickets")
    assert list(dict.fromkeys(ids(tickets))) == ids(expected)
    assert all(r.path == "/api/v2/incremental/tickets.json" for r in sim.requests)
    queries = [r.query for r in sim.requests]
    assert all(q["per_page"] == ["7"] and set(q) == {"start_time", "per_page"} for q in queries)
    # Each next page starts at the last second of the page before, which it serves again: the
    # tickets of that second are the only ones yielded twice.
    seconds = {t["id"]: t["generated_timestamp"] for t in expected}
    starts = [int(q["start_time"][0]) for q in queries[1:]]
    repeated = {t.id for t in tickets if ids(tickets).count(t.id) > 1}
    assert repeated == {key for key, second in seconds.items() if second in starts}
    assert all(ids(tickets).count(key) == 2 for key in repeated)


def test_the_users_export_yields_every_user_by_cursor_and_by_time(zd, sim, api):
    expected = ids(api.records("users"))
    assert ids(zd.users.incremental(start_time=1, per_page=9)) == expected
    assert list(dict.fromkeys(ids(zd.users.incremental(start_time=1, paginate_by_time=True, per_page=9)))) == expected
    assert {r.path for r in sim.requests} == {"/api/v2/incremental/users/cursor.json",
                                              "/api/v2/incremental/users.json"}


def test_satisfaction_ratings_page_by_cursor_from_start_time(zd, sim, api):
    ratings = api.records("satisfaction_ratings")
    assert ids(zd.satisfaction_ratings()) == ids(ratings)
    start = ratings[len(ratings) // 2]["created_at"]
    start_time = int(datetime.fromisoformat(start).timestamp())
    sim.requests.clear()
    # zenpy's call drops a `start_time` keyword, so the request is written out; its paging is zenpy's.
    listed = zd.satisfaction_ratings._get(zd.satisfaction_ratings._build_url(
        EndpointFactory("satisfaction_ratings")(cursor_pagination=3)) + f"&start_time={start_time}")
    assert ids(listed) == ids(r for r in ratings if r["created_at"] >= start)
    assert len(sim.requests) > 1
    assert all(r.query["start_time"] == [str(start_time)] and r.query["page[size]"] == ["3"] for r in sim.requests)


# -- rate limits -------------------------------------------------------------------------------


def test_a_429_is_waited_out_second_by_second_for_its_whole_second_retry_after(monkeypatch):
    clock = FakeClock(monkeypatch)
    # A window of 59.5 s: the wait is 59.5 s, which only a whole-second header lets zenpy read.
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=2, rate_window_seconds=59.5, clock=clock)
    with Simulator(limited) as server:
        tickets = list(client(server, monkeypatch).tickets.incremental(start_time=1, per_page=20))
    assert ids(tickets) == ids(limited.records("tickets"))
    # Two pages fill the window; the third waits the 60 s Retry-After gives (59.5 rounded up), then passes.
    assert [r.status for r in server.requests] == [200, 200, 429, 200]
    assert clock.slept == [1] * 60


def test_an_injected_429_carries_whole_seconds_that_zenpy_can_read(zd, sim, api, monkeypatch):
    clock = FakeClock(monkeypatch)
    sim.inject(Fault("status", status=429, retry_after=0.05))
    assert ids(zd.users.incremental(start_time=1)) == ids(api.records("users"))
    assert [r.status for r in sim.requests] == [429, 200]
    assert clock.slept == [1]


def test_a_ratelimit_budget_smaller_than_retry_after_gives_up_before_the_wait_is_over(monkeypatch):
    clock = FakeClock(monkeypatch)
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=2, rate_window_seconds=59.5, clock=clock)
    with Simulator(limited) as server:
        zd = client(server, monkeypatch, ratelimit_budget=30)
        with pytest.raises(RatelimitBudgetExceeded):
            list(zd.tickets.incremental(start_time=1, per_page=20))
    assert [r.status for r in server.requests] == [200, 200, 429]
    # The budget is spent a second at a time, and the last second is not slept.
    assert clock.slept == [1] * 29


def test_a_proactive_ratelimit_waits_out_the_interval_once_remaining_falls_below_it(monkeypatch):
    clock = FakeClock(monkeypatch)
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=2, rate_window_seconds=5, clock=clock)
    with Simulator(limited) as server:
        zd = client(server, monkeypatch, proactive_ratelimit=1, proactive_ratelimit_request_interval=5)
        tickets = list(zd.tickets.incremental(start_time=1, per_page=20))
    assert ids(tickets) == ids(limited.records("tickets"))
    # X-Rate-Limit-Remaining: 0 after the second page, so the third waits 5 s first and is never refused.
    assert [r.status for r in server.requests] == [200, 200, 200]
    assert clock.slept == [1] * 5


# -- credentials and errors ---------------------------------------------------------------------


def test_an_oauth_access_token_authenticates_as_a_bearer_token(sim, api, monkeypatch):
    zd = client(sim, monkeypatch, oauth_token=DEFAULT_OAUTH_TOKEN)
    assert ids(zd.users.incremental(start_time=1)) == ids(api.records("users"))
    assert ids(zd.satisfaction_ratings()) == ids(api.records("satisfaction_ratings"))


def test_a_wrong_oauth_token_is_refused_with_zendesks_401_body(sim, monkeypatch):
    zd = client(sim, monkeypatch, oauth_token="zd-revoked-oauth-token")
    with pytest.raises(APIException) as refused:
        list(zd.tickets.incremental(start_time=1))
    assert refused.value.response.status_code == 401
    assert refused.value.response.json() == {"error": "Couldn't authenticate you"}


def test_an_email_and_password_are_refused_on_an_account_with_api_tokens_only(sim, monkeypatch, caplog):
    caplog.set_level(logging.WARNING)
    zd = client(sim, monkeypatch, email=EMAIL, password=TOKEN)
    with pytest.raises(APIException) as refused:
        list(zd.users.incremental(start_time=1))
    assert refused.value.response.status_code == 401
    assert refused.value.response.json() == {"error": "Couldn't authenticate you"}
    assert [r.status for r in sim.requests] == [401]


def test_a_non_admin_agent_is_forbidden_the_exports_and_the_ratings_but_reads_ticket_metrics(sim, api, monkeypatch):
    zd = client(sim, monkeypatch, email=DEFAULT_AGENT_EMAIL, token=TOKEN)
    forbidden = {"error": "Forbidden", "description": "You do not have access to this page. Please contact the "
                 "account owner of this help desk for further help."}
    for read in (lambda: zd.tickets.incremental(start_time=1), lambda: zd.users.incremental(start_time=1),
                 lambda: zd.tickets.incremental(start_time=1, paginate_by_time=True), zd.satisfaction_ratings):
        with pytest.raises(APIException) as refused:
            list(read())
        assert (refused.value.response.status_code, refused.value.response.json()) == (403, forbidden)
    assert ids(zd.ticket_metrics()) == ids(api.records("ticket_metrics"))


def test_refusals_carry_an_error_code_and_a_description(zd, sim):
    def refusal(call) -> tuple[int, dict]:
        with pytest.raises(APIException) as refused:
            list(call())
        return refused.value.response.status_code, refused.value.response.json()

    assert refusal(lambda: zd.tickets.incremental(start_time=1, per_page=1001)) == (
        400, {"error": "InvalidValue", "description": "per_page must be between 1 and 1000"})
    assert refusal(lambda: zd.tickets.incremental(start_time=int(datetime.now(UTC).timestamp()) - 30)) == (
        400, {"error": "InvalidValue", "description": "Too recent start_time. Use a start_time older than 1 minute"})
    assert refusal(lambda: zd.tickets._get(sim.base_url + "/api/v2/incremental/organizations.json")) == (
        404, {"error": "InvalidEndpoint", "description": "Not found"})
