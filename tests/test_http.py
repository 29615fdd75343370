"""The shared HTTP client: what it retries, how long it waits, and what its errors reveal."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import pytest

from ingest.http import HttpClient, RetryPolicy, SourceHTTPError
from simulators.company import NPS_FORM, Company
from simulators.server import Fault, Query, Reply, Simulator
from simulators.typeform import TypeformApi

TOKEN = "secret-token-123456"
PATH = f"forms/{NPS_FORM}/responses"


@pytest.fixture(scope="module")
def sim():
    with Simulator(TypeformApi(Company(customers=20), token=TOKEN)) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(sim):
    sim.clear_faults()
    sim.requests.clear()


def client(sim, sleeps, **policy) -> HttpClient:
    return HttpClient("typeform", sim.base_url, headers={"Authorization": f"Bearer {TOKEN}"},
                      policy=RetryPolicy(**{"jitter": 0.0, **policy}), sleep=sleeps.append)


def test_a_429_waits_exactly_what_retry_after_says_then_succeeds(sim):
    sleeps: list[float] = []
    sim.inject(Fault("status", status=429, retry_after=7))
    body = client(sim, sleeps).get_json(PATH)
    assert "items" in body
    assert sleeps == [7.0]
    assert [r.status for r in sim.requests] == [429, 200]


def test_5xx_is_retried_with_exponential_backoff(sim):
    sleeps: list[float] = []
    sim.inject(Fault("status", status=500))
    sim.inject(Fault("status", status=503))
    client(sim, sleeps, backoff_initial=0.5).get_json(PATH)
    assert sleeps == [0.5, 1.0]
    assert [r.status for r in sim.requests] == [500, 503, 200]


def test_a_reset_connection_is_retried(sim):
    sleeps: list[float] = []
    sim.inject(Fault("reset"))
    assert "items" in client(sim, sleeps).get_json(PATH)
    assert len(sleeps) == 1


def test_a_truncated_json_page_is_retried(sim):
    sleeps: list[float] = []
    sim.inject(Fault("malformed_page"))
    assert "items" in client(sim, sleeps).get_json(PATH)
    assert len(sleeps) == 1


def test_a_slow_response_past_the_read_timeout_is_retried(sim):
    sleeps: list[float] = []
    sim.inject(Fault("slow", delay=1.0))
    body = client(sim, sleeps, timeout=(2.0, 0.3)).get_json(PATH)
    assert "items" in body
    assert len(sleeps) == 1
    # The abandoned slow answer is recorded when its delay ends: let that happen within this
    # test, not in whichever test runs next (which then sees a request it never sent).
    deadline = time.monotonic() + 10
    while len(sim.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_giving_up_names_source_stream_and_url_but_never_the_token(sim):
    sleeps: list[float] = []
    sim.inject(Fault("status", status=502), times=3)
    with pytest.raises(SourceHTTPError) as caught:
        client(sim, sleeps, max_attempts=3).get_json(PATH, params={"apikey": TOKEN}, stream="responses")
    message = str(caught.value)
    assert message.startswith("typeform.responses: gave up after 3 attempts: server error 502")
    assert f"/{PATH}" in message
    assert TOKEN not in message
    assert len(sim.requests) == 3


def test_a_client_error_fails_at_once_without_retrying_and_carries_its_status(sim):
    sleeps: list[float] = []
    bad = HttpClient("typeform", sim.base_url, headers={"Authorization": "Bearer wrong"}, sleep=sleeps.append)
    with pytest.raises(SourceHTTPError, match="^typeform.responses: HTTP 401: ") as refused:
        bad.get_json(PATH, stream="responses")
    assert refused.value.status == 401
    assert sleeps == []
    assert len(sim.requests) == 1


def test_a_failure_no_answer_decided_has_no_status(sim):
    sim.inject(Fault("status", status=503), times=2)
    with pytest.raises(SourceHTTPError, match="gave up after 2 attempts") as failed:
        client(sim, [], max_attempts=2).get_json(PATH)
    assert failed.value.status is None


def test_a_retry_after_of_a_day_is_capped_at_the_policys_max_wait(sim):
    sleeps: list[float] = []
    sim.inject(Fault("status", status=429, retry_after=86400))
    assert "items" in client(sim, sleeps).get_json(PATH)
    assert sleeps == [RetryPolicy().max_wait]
    assert RetryPolicy().max_wait == 300.0


def test_the_max_wait_comes_from_the_connection_extra_and_bounds_backoff_too(sim):
    sleeps: list[float] = []
    sim.inject(Fault("status", status=429, retry_after=86400))
    sim.inject(Fault("status", status=500))
    policy = RetryPolicy.from_extra({"max_wait": 2.5, "backoff_initial": 10.0, "jitter": 0.0})
    HttpClient("typeform", sim.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, policy=policy,
               sleep=sleeps.append).get_json(PATH)
    assert sleeps == [2.5, 2.5]


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}\n", f"Bearer {TOKEN}\u2019"], ids=["newline", "non-latin-1"])
def test_a_header_that_cannot_be_sent_fails_at_once_without_its_value_or_the_original_error(sim, value):
    sleeps: list[float] = []
    bad = HttpClient("typeform", sim.base_url, headers={"Authorization": value}, sleep=sleeps.append)
    with pytest.raises(SourceHTTPError, match="a header value is malformed; check the credentials") as failed:
        bad.get_json(PATH, stream="responses")
    assert TOKEN not in str(failed.value) and TOKEN not in repr(failed.value)
    assert failed.value.__context__ is None and failed.value.__cause__ is None
    assert sleeps == []
    assert sim.requests == []


def test_retry_settings_come_from_the_connection_extra():
    assert RetryPolicy.from_extra({"max_attempts": 2, "timeout": [1, 2]}) == RetryPolicy(max_attempts=2,
                                                                                       timeout=(1, 2))
    with pytest.raises(ValueError, match="unknown retry settings"):
        RetryPolicy.from_extra({"retries": 2})


# -- form bodies ----------------------------------------------------------------------------

SECRET = "form-client-secret-9f3b"
GRANT = {"grant_type": "password", "username": "reviews@cxloop.example", "password": "form-user-password-27c1"}


class _FormEcho:
    """An endpoint that reads only forms, as OAuth token endpoints do, and says what it was sent."""

    name = "form-echo"

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("content-type") != "application/x-www-form-urlencoded":
            return Reply(415, {"error": "send a form"})
        form = {name: values[0] for name, values in parse_qs(body.decode(), strict_parsing=True).items()}
        if form.get("grant_type") == "refused":
            # A careless server quoting the credentials back in its error.
            return Reply(400, {"error": "invalid_grant", "authorization": lowered.get("authorization")})
        return Reply(200, {"method": method, "form": form, "authorization": lowered.get("authorization")})

    def spoil_record(self, body: Any) -> None:
        pass


@pytest.fixture(scope="module")
def form_sim():
    with Simulator(_FormEcho()) as server:
        yield server


def form_client(server: Simulator, sleeps: list[float], **policy) -> HttpClient:
    return HttpClient("trustpilot", server.base_url, auth=("form-client-id", SECRET), connection="cxloop_trustpilot",
                      policy=RetryPolicy(**{"jitter": 0.0, **policy}), sleep=sleeps.append)


def test_a_form_post_sends_the_fields_form_encoded_with_the_clients_auth_and_reads_json(form_sim):
    form_sim.requests.clear()
    body = form_client(form_sim, []).post_form("oauth/token", GRANT)
    assert body["method"] == "POST" and body["form"] == GRANT
    assert body["authorization"].startswith("Basic ")
    assert [(seen.method, seen.path) for seen in form_sim.requests] == [("POST", "/oauth/token")]


def test_a_form_post_is_retried_as_a_json_one_is_sending_the_same_form_each_time(form_sim):
    form_sim.requests.clear()
    sleeps: list[float] = []
    form_sim.inject(Fault("status", status=503))
    form_sim.inject(Fault("status", status=429, retry_after=3))
    form_sim.inject(Fault("malformed_page"))
    assert form_client(form_sim, sleeps, backoff_initial=0.5).post_form("oauth/token", GRANT)["form"] == GRANT
    assert sleeps == [0.5, 3.0, 2.0]
    assert [seen.status for seen in form_sim.requests] == [503, 429, 200, 200]
    assert {seen.body for seen in form_sim.requests} == {form_sim.requests[-1].body}


def test_a_refused_form_post_fails_at_once_with_its_status_naming_the_connection_and_no_credential(form_sim):
    form_sim.requests.clear()
    sleeps: list[float] = []
    with pytest.raises(SourceHTTPError, match="^trustpilot.reviews: HTTP 400: ") as refused:
        form_client(form_sim, sleeps).post_form("oauth/token", {**GRANT, "grant_type": "refused"}, stream="reviews")
    assert refused.value.status == 400
    assert sleeps == [] and len(form_sim.requests) == 1
    message = str(refused.value)
    assert "Basic ***" in message  # the quoted header is masked, as the client registered it
    assert SECRET not in message and GRANT["password"] not in message  # nor is the form quoted


def test_a_form_post_gives_up_after_its_attempts_naming_source_stream_and_url(form_sim):
    form_sim.requests.clear()
    form_sim.inject(Fault("status", status=502), times=2)
    with pytest.raises(SourceHTTPError, match=r"^trustpilot.reviews: gave up after 2 attempts: server error 502 "
                                              r"\(http://[^)]*/oauth/token\)$") as failed:
        form_client(form_sim, [], max_attempts=2).post_form("oauth/token", GRANT, stream="reviews")
    assert failed.value.status is None


def test_a_request_has_one_body_json_or_form():
    with pytest.raises(ValueError, match="not both"):
        HttpClient("typeform", "http://127.0.0.1:9").request_json("POST", "x", json_body={}, form_body={"a": "b"})
