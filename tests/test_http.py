"""The shared HTTP client: what it retries, how long it waits, and what its errors reveal."""

from __future__ import annotations

import pytest

from ingest.http import HttpClient, RetryPolicy, SourceHTTPError
from simulators.company import NPS_FORM, Company
from simulators.server import Fault, Simulator
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
