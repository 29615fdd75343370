"""Follow-up tickets written to the Zendesk simulator, and read back by the nightly export.

`followups.zendesk.ZendeskDesk` looks a ticket up by external id and creates it with an
Idempotency-Key; the simulator keeps what it created, shows it in its exports after Zendesk's
lag, and lets a test make an agent answer and solve it. zenpy, the official client, creates and
finds a ticket the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket

from followups.outbox import Intent
from followups.settings import FollowupSettings
from followups.zendesk import ZendeskDesk, idempotency_key
from ingest import runner, zendesk
from ingest.connections import get_connection
from ingest.http import SourceHTTPError
from ingest.streams import Window
from simulators.company import Company
from simulators.server import Simulator
from simulators.zendesk import AGENT_IDS, GROUP_IDS, ZendeskApi

COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
END = COMPANY.end  # a Tuesday, 00:00 UTC: the moment the simulator creates tickets at
EMAIL, TOKEN = "agent@cxloop.example", "zd-demo-token"
STREAMS = {stream.name: stream for stream in zendesk.STREAMS}
SETTINGS = FollowupSettings(group_id=GROUP_IDS[0], priority="high")


def intent(alert_id: str = "alert:typeform:nps_survey:r1", *, requester_id: int | None = None,
           email: str | None = "new.customer@example.org") -> Intent:
    return Intent(alert_id=alert_id, reason="nps_survey", external_id=f"cxloop:{alert_id}",
                  subject="Detractor follow-up (NPS 3)", body="NPS 3: the app keeps logging me out.",
                  requester_id=requester_id, requester_email=email, requester_name="New Customer")


@pytest.fixture
def api() -> ZendeskApi:
    return ZendeskApi(COMPANY, EMAIL, TOKEN)


@pytest.fixture
def sim(api, monkeypatch) -> Iterator[Simulator]:
    with Simulator(api) as server:
        monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_ZENDESK", json.dumps({
            "conn_type": "http", "host": server.base_url, "login": EMAIL, "password": TOKEN,
            "extra": {"retry": {"backoff_initial": 0.01, "max_attempts": 2}}}))
        yield server


@pytest.fixture
def desk(sim) -> ZendeskDesk:
    return ZendeskDesk(zendesk.from_connection(get_connection(zendesk.CONN_ID)).client)


def test_find_answers_none_before_the_creation_and_the_created_id_after(desk, api):
    wanted = intent()
    assert desk.find(wanted.external_id) is None
    created = desk.create(wanted, SETTINGS)
    assert desk.find(wanted.external_id) == created
    ticket = api.created_tickets()[0]
    assert (str(ticket["id"]), ticket["external_id"], ticket["tags"], ticket["priority"], ticket["group_id"],
            ticket["is_public"], ticket["description"]) == (
        created, "cxloop:alert:typeform:nps_survey:r1", ["cxloop_followup", "nps_survey"], "high", GROUP_IDS[0],
        False, "NPS 3: the app keeps logging me out.")


def test_a_creation_repeated_with_its_idempotency_key_returns_the_first_ticket(desk, api, sim):
    first = desk.create(intent(), SETTINGS)
    assert desk.create(intent(), SETTINGS) == first
    assert [ticket["id"] for ticket in api.created_tickets()] == [int(first)]
    posts = [r for r in sim.requests if r.method == "POST"]
    assert [r.status for r in posts] == [201, 201]


def test_the_same_idempotency_key_with_another_body_is_refused(api):
    auth = {"Authorization": "Bearer zd-demo-oauth-token", "Idempotency-Key": idempotency_key("cxloop:a1")}

    def post(body: str):
        payload = {"ticket": {"comment": {"body": body}, "requester_id": 7_000_000, "external_id": "cxloop:a1"}}
        return api.handle("POST", "/api/v2/tickets.json", {}, auth, json.dumps(payload).encode())

    first, again, changed = post("first"), post("first"), post("second")
    assert (first.status, first.headers["x-idempotency-lookup"]) == (201, "miss")
    assert (again.status, again.headers["x-idempotency-lookup"], again.body["ticket"]["id"]) == (
        201, "hit", first.body["ticket"]["id"])
    assert (changed.status, changed.body["error"]) == (400, "IdempotentRequestError")
    assert first.headers["Location"].endswith(f"/api/v2/tickets/{first.body['ticket']['id']}.json")


def test_the_same_idempotency_key_after_two_hours_creates_again(company_clock_api):
    api, clock = company_clock_api
    auth = {"Authorization": "Bearer zd-demo-oauth-token", "Idempotency-Key": "k"}
    body = json.dumps({"ticket": {"comment": {"body": "x"}, "requester_id": 7_000_001}}).encode()
    first = api.handle("POST", "/api/v2/tickets", {}, auth, body)
    clock[0] += 2 * 3600
    later = api.handle("POST", "/api/v2/tickets", {}, auth, body)
    assert (later.status, later.headers["x-idempotency-lookup"]) == (201, "miss")
    assert later.body["ticket"]["id"] == first.body["ticket"]["id"] + 1


@pytest.fixture
def company_clock_api():
    clock = [END.timestamp()]
    return ZendeskApi(COMPANY, EMAIL, TOKEN, clock=lambda: clock[0]), clock


def test_a_requester_email_no_user_has_creates_an_end_user_and_a_known_one_does_not(desk, api):
    customer = COMPANY.person(3)
    existing = desk.create(intent("alert:a", email=f"  {customer.email.upper()} "), SETTINGS)
    new = desk.create(intent("alert:b"), SETTINGS)
    requesters = {str(t["id"]): t["requester_id"] for t in api.created_tickets()}
    assert requesters[existing] == COMPANY.zendesk_user_id(customer)
    api.as_of = END + timedelta(minutes=1)
    users = [u for u in api.records("users") if u["id"] == requesters[new]]
    assert [(u["email"], u["name"], u["role"]) for u in users] == [
        ("new.customer@example.org", "New Customer", "end-user")]
    assert len(api.records("users")) == COMPANY.customers + 1


def test_an_unknown_requester_id_is_refused_with_zendesks_validation_error(desk, api):
    with pytest.raises(SourceHTTPError) as refused:
        desk.create(intent(requester_id=123, email=None), SETTINGS)
    assert refused.value.status == 422
    assert api.created_tickets() == []


def test_a_created_ticket_lands_with_the_next_export_and_once_solved_with_its_metric_set(db, desk, api):
    created = int(desk.create(intent(), SETTINGS))
    # The agent answers 90 minutes in (01:30, before opening) and solves at 10:00: an hour of business time.
    api.work_ticket(created, reply_after_minutes=90, solve_after_minutes=600)
    api.as_of = END + timedelta(hours=1)
    source = zendesk.from_connection(get_connection(zendesk.CONN_ID))
    runner.run_stream(source, STREAMS["tickets"], Window(END - timedelta(days=1), END + timedelta(hours=1)))
    record = db.execute("select record from raw.zendesk_tickets where record_key = %s", (str(created),)).fetchone()[0]
    assert (record["external_id"], record["status"], record["via"]["channel"]) == (
        "cxloop:alert:typeform:nps_survey:r1", "new", "api")
    api.as_of = END + timedelta(days=1)
    window = Window(END, END + timedelta(days=1))
    for name in ("tickets", "ticket_metrics"):
        runner.run_stream(source, STREAMS[name], window)
    record = db.execute("select record from raw.zendesk_tickets where record_key = %s", (str(created),)).fetchone()[0]
    assert (record["status"], record["assignee_id"] in AGENT_IDS, record["updated_at"]) == (
        "solved", True, "2026-03-10T10:00:00Z")
    metric = db.execute("select record from raw.zendesk_ticket_metrics where record->>'ticket_id' = %s",
                        (str(created),)).fetchone()[0]
    assert (metric["reply_time_in_minutes"], metric["full_resolution_time_in_minutes"], metric["solved_at"]) == (
        {"calendar": 90, "business": 0}, {"calendar": 600, "business": 60}, "2026-03-10T10:00:00Z")
    # The generated company is served as before: one more ticket, no other change.
    untouched = ZendeskApi(COMPANY, EMAIL, TOKEN)
    untouched.as_of = api.as_of
    assert [t for t in api.records("tickets") if t["id"] != created] == untouched.records("tickets")


def zenpy_client(server: Simulator, monkeypatch) -> Zenpy:
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", server.base_url.removeprefix("http://"))
    return Zenpy(subdomain="cxloop", email=EMAIL, token=TOKEN, disable_cache=True)


def test_zenpy_creates_a_ticket_with_an_external_id_and_finds_it_by_that_id(sim, api, monkeypatch):
    zd = zenpy_client(sim, monkeypatch)
    audit = zd.tickets.create(Ticket(subject="Follow-up", comment=Comment(body="Call the customer", public=False),
                                     requester_id=COMPANY.zendesk_user_id(COMPANY.person(0)),
                                     external_id="cxloop:alert:zenpy", tags=["cxloop_followup"]))
    assert audit.ticket.external_id == "cxloop:alert:zenpy"
    found = list(zd.tickets(external_id="cxloop:alert:zenpy"))
    assert [(t.id, t.external_id, t.status) for t in found] == [(audit.ticket.id, "cxloop:alert:zenpy", "new")]
    assert list(zd.tickets(external_id="cxloop:alert:nobody")) == []
