"""Every id quoted wherever it reaches a URL (issue #15, item 7).

An id from a connection's extra (a Typeform form id, a Trustpilot business unit id) goes into
one URL path segment, percent-encoded whole: whatever it holds (`/`, `?`, `#`, `%`, `..` inside
it) it reaches the API as that one segment and never changes the request's path or query. An
id no encoding can keep in its place (`..`, `.`, empty) or that holds whitespace or a control
character is refused when the connection is read, naming the connection and the field. A base
URL (the connection's host) carries no user, password, query, fragment or dot segment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urljoin

import pytest

from ingest import hubspot, runner, trustpilot, typeform, zendesk
from ingest.connections import get_connection
from ingest.http import HttpClient, SourceHTTPError, path_segment
from ingest.streams import Window
from simulators.company import Company
from simulators.server import Simulator
from simulators.trustpilot import TOKEN_PATH, TrustpilotApi
from simulators.typeform import TypeformApi

COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=10)
WINDOW = Window(None, COMPANY.end)
RETRY = {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 2}
# Each would change the path or the query were it pasted in unquoted.
HOSTILE = ["../admin", "x?y=1", "a/b", "%2e%2e", "..%2F..%2Fadmin", "a#b", "/leading", "x/../../y", "ünï", "a;b=c",
           "http://evil.example/", "..."]
REFUSED = {"..": "cannot be a URL path segment", ".": "cannot be a URL path segment",
           "": "is required|must list at least one|cannot be a URL path segment",
           "abc\n": "whitespace or a control character", " abc": "whitespace or a control character",
           "a\x00b": "whitespace or a control character", "a b": "whitespace or a control character"}


LOGIN = "agent@cxloop.example"
# Trustpilot's private endpoint takes a business user's token: the connection carries the sign-in too.
SIGN_IN = {trustpilot: {"api_secret": "tp-ids-secret", "business_user_password": "tp-ids-password"}}


def set_connection(monkeypatch, module, host: str, **extra) -> None:
    password = {typeform: "tf-ids-token", trustpilot: "tp-ids-key", hubspot: "hs-ids-token"}.get(module, "zd-token")
    monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", json.dumps({
        "conn_type": "http", "host": host, "login": LOGIN, "password": password,
        "extra": {"retry": RETRY, **SIGN_IN.get(module, {}), **extra}}))


def read_connection(module):
    return module.from_connection(get_connection(module.CONN_ID))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_path_segment_decodes_back_to_the_id_and_stays_one_segment_after_joining(hostile):
    segment = path_segment(hostile)
    assert unquote(segment) == hostile
    assert not {"/", "?", "#"} & set(segment)
    url = urljoin("https://api.example.com/v1/", f"forms/{segment}/responses")
    assert url == f"https://api.example.com/v1/forms/{segment}/responses"


@pytest.fixture
def typeform_sim():
    with Simulator(TypeformApi(COMPANY, token="tf-ids-token")) as server:
        yield server


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_typeform_form_id_reaches_the_api_as_one_quoted_segment(monkeypatch, typeform_sim, hostile):
    set_connection(monkeypatch, typeform, typeform_sim.base_url, form_ids=[hostile])
    source = read_connection(typeform)
    with pytest.raises(SourceHTTPError, match=r"^typeform\.responses: HTTP 404: .*FORM_NOT_FOUND") as failed:
        list(source.read(typeform.STREAMS[0], WINDOW))
    # One request, to the one endpoint, its query only what the connector sent; no retry of a 404.
    (seen,) = typeform_sim.requests
    assert seen.path == f"/forms/{quote(hostile, safe='')}/responses"
    prefix, segment, suffix = seen.path.split("/")[1:]
    assert (prefix, unquote(segment), suffix) == ("forms", hostile, "responses")
    assert sorted(seen.query) == ["page_size", "response_type", "until"]
    assert "127.0.0.1" in str(failed.value) and "/forms/" in str(failed.value)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_trustpilot_business_unit_id_is_one_segment_and_its_reviews_land(db, monkeypatch, hostile):
    # The simulator serves the unit under the segment as sent (it does not decode it): the reviews
    # land only if the id arrived whole, as one segment, in the place of the unit.
    api = TrustpilotApi(COMPANY, api_key="tp-ids-key", business_unit_id=quote(hostile, safe=""),
                        api_secret=SIGN_IN[trustpilot]["api_secret"], username=LOGIN,
                        password=SIGN_IN[trustpilot]["business_user_password"])
    with Simulator(api) as server:
        set_connection(monkeypatch, trustpilot, server.base_url, business_unit_id=hostile)
        monkeypatch.setattr(trustpilot, "PAGE_SIZE", 3)
        result = runner.run_stream(read_connection(trustpilot), trustpilot.STREAMS[0], WINDOW)
    expected = {review["id"] for review in api.reviews()}
    assert {key for (key,) in db.execute("select record_key from raw.trustpilot_reviews")} == expected
    assert (result.fetched, result.landed, result.rejected) == (len(expected), len(expected), 0)
    # Besides the one sign-in and the one read of deletions (whose paths hold no id), every request
    # went to the unit's reviews.
    reviews = [seen for seen in server.requests if seen.path not in (TOKEN_PATH, "/v1/reviews/deletions")]
    assert len(server.requests) - len(reviews) == 2
    assert {seen.path for seen in reviews} == {f"/v1/private/business-units/{quote(hostile, safe='')}/reviews"}
    assert len(reviews) == -(-len(expected) // 3)


@pytest.mark.parametrize("bad", list(REFUSED), ids=repr)
def test_an_id_the_url_cannot_hold_is_refused_naming_the_connection_and_the_field(monkeypatch, bad):
    set_connection(monkeypatch, typeform, "http://127.0.0.1:9", form_ids=["fine", bad])
    with pytest.raises(ValueError, match=rf"^connection cxloop_typeform: extra\.form_ids\[1\] .*"
                                         rf"({REFUSED[bad]})"):
        read_connection(typeform)
    set_connection(monkeypatch, trustpilot, "http://127.0.0.1:9", business_unit_id=bad)
    with pytest.raises(ValueError, match=rf"^connection cxloop_trustpilot: extra\.business_unit_id .*"
                                         rf"({REFUSED[bad]})"):
        read_connection(trustpilot)


@pytest.mark.parametrize("form_ids", ["rNPS2026", {"nps": "rNPS2026"}, [["rNPS2026"]], [None], [True]], ids=repr)
def test_form_ids_that_are_not_a_list_of_ids_are_refused_rather_than_read_one_character_at_a_time(
        monkeypatch, form_ids):
    set_connection(monkeypatch, typeform, "http://127.0.0.1:9", form_ids=form_ids)
    with pytest.raises(ValueError, match="^connection cxloop_typeform: extra.form_ids"):
        read_connection(typeform)


ZENDESK_REFUSED = {
    "https://acme.zendesk.com/../admin": "'.' or '..'",
    "https://acme.zendesk.com/api/v2/..": "'.' or '..'",
    "https://acme.zendesk.com?x=1": "without a query or fragment",
    "https://acme.zendesk.com/#frag": "without a query or fragment",
    "https://acme.zendesk.com/other": "with no path but /api/v2",
    "ftp://acme.zendesk.com": "with its scheme",
    "https://acme zendesk.com": "no valid host name",
    "https://acme.zendesk.com:99999": "does not parse",
}


@pytest.mark.parametrize("host", list(ZENDESK_REFUSED))
def test_a_zendesk_host_that_would_change_the_endpoints_is_refused_naming_the_connection(monkeypatch, host):
    set_connection(monkeypatch, zendesk, host)
    with pytest.raises(ValueError, match=f"^connection cxloop_zendesk: host must be .*{ZENDESK_REFUSED[host]}"):
        read_connection(zendesk)


def test_a_host_holding_a_password_is_refused_without_showing_it(monkeypatch):
    for module in (zendesk, typeform, hubspot, trustpilot):
        set_connection(monkeypatch, module, "https://agent:pw-in-host-7c1d@acme.example.com", form_ids=["f"],
                       business_unit_id="bu")
        with pytest.raises(ValueError, match=f"^connection {module.CONN_ID}: host must be .*without a user") as no:
            read_connection(module)
        assert "pw-in-host-7c1d" not in str(no.value)


@pytest.mark.parametrize("host", ["acme.zendesk.com", "https://acme.zendesk.com/", "https://acme.zendesk.com/api/v2",
                                  "https://acme.zendesk.com/api/v2/", "http://127.0.0.1:8102"])
def test_a_zendesk_account_url_in_its_usual_forms_is_accepted(monkeypatch, host):
    set_connection(monkeypatch, zendesk, host)
    client = read_connection(zendesk).client
    root = host if "://" in host else f"https://{host}"
    assert client.base_url == root.rstrip("/").removesuffix("/api/v2") + "/api/v2/"


@pytest.mark.parametrize("module", [hubspot, typeform, trustpilot], ids=lambda m: m.__name__.split(".")[-1])
def test_a_base_url_with_a_query_or_no_scheme_is_refused_naming_the_connection(monkeypatch, module):
    for host, why in (("https://api.example.com/?key=1", "without a query"), ("api.example.com", "with its scheme")):
        set_connection(monkeypatch, module, host, form_ids=["f"], business_unit_id="bu")
        with pytest.raises(ValueError, match=f"^connection {module.CONN_ID}: host must be a base URL .*{why}"):
            read_connection(module)


def test_the_client_sends_a_quoted_segment_as_it_is_and_never_decodes_it(typeform_sim):
    # The client leaves a path it is given alone: the quoting is the connector's, once.
    client = HttpClient("typeform", typeform_sim.base_url, headers={"Authorization": "Bearer tf-ids-token"})
    with pytest.raises(SourceHTTPError, match="HTTP 404"):
        client.get_json(f"forms/{path_segment('a/../../b?c=d')}/responses")
    assert [seen.path for seen in typeform_sim.requests] == ["/forms/a%2F..%2F..%2Fb%3Fc%3Dd/responses"]
