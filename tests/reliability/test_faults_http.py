"""What a source API can do wrong, and what a run does about it (issue #15, item 8).

Each fault is injected by the simulator (`simulators/server.py`) into a run of a real connector
through the runner and the warehouse, and each case checks, from the tables: nothing lost and
nothing landed twice (the raw table equals a clean run's), every batch adds up (`fetched =
landed + rejected`, and `rejected` is the sum of its rejects' `copies`), the cursor in
`raw._state` never past what landed and never backwards, a failure's message naming source,
stream and URL and no credential, and a rerun that recovers.

Waits are recorded rather than slept (the client's `sleep`), so no case depends on how busy
the machine is; the one read timeout is generous.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import ModuleType

import pytest

from ingest import hubspot, runner, trustpilot, typeform, zendesk
from ingest.connections import get_connection
from ingest.http import SourceHTTPError
from ingest.streams import BatchResult, Source, Window
from simulators.company import FORMS, NPS_FORM, Company
from simulators.hubspot import HubSpotApi
from simulators.server import Fault, Reply, Simulator
from simulators.trustpilot import DEFAULT_BUSINESS_UNIT_ID, TOKEN_PATH, TrustpilotApi
from simulators.typeform import TypeformApi
from simulators.zendesk import ZendeskApi

COMPANY = Company(customers=20, end=datetime(2026, 3, 10, tzinfo=UTC), days=10)
END = COMPANY.end
DAY = timedelta(days=1)
HISTORY = Window(None, END)
RETRY = {"backoff_initial": 0.01, "backoff_max": 0.05, "jitter": 0.0, "max_attempts": 4, "timeout": [30, 60]}
TOKENS = {typeform: "tf-faults-token-51c7", zendesk: "zd-faults-token-2e9b", hubspot: "hs-faults-token-8a04",
          trustpilot: "tp-faults-key-6d13"}
EMAIL = "agent@cxloop.example"
# Trustpilot's sign-in for its private endpoint: the API secret and the business user's password.
API_SECRET = "tp-faults-secret-93a0"
BUSINESS_USER_PASSWORD = "tp-faults-password-c472"
NPS = f"/forms/{NPS_FORM}/responses"
TICKETS = "/api/v2/incremental/tickets/cursor.json"
CONTACTS = "/crm/v3/objects/contacts"


def api_for(module: ModuleType):
    token = TOKENS[module]
    return {typeform: lambda: TypeformApi(COMPANY, token=token),
            zendesk: lambda: ZendeskApi(COMPANY, EMAIL, token),
            hubspot: lambda: HubSpotApi(COMPANY, token=token),
            trustpilot: lambda: TrustpilotApi(COMPANY, api_key=token, api_secret=API_SECRET, username=EMAIL,
                                              password=BUSINESS_USER_PASSWORD)}[module]()


EXTRA = {typeform: {"form_ids": list(FORMS)}, zendesk: {}, hubspot: {},
         trustpilot: {"business_unit_id": DEFAULT_BUSINESS_UNIT_ID, "api_secret": API_SECRET,
                      "business_user_password": BUSINESS_USER_PASSWORD}}
STREAM = {typeform: typeform.STREAMS[0], zendesk: zendesk.STREAMS[0], hubspot: hubspot.STREAMS[0],
          trustpilot: trustpilot.STREAMS[0]}


@contextmanager
def serving(module: ModuleType, monkeypatch, *, api=None, password: str | None = None, **retry):
    """A simulator of `module`'s API, and its connection pointing there (with `retry` overrides)."""
    with Simulator(api or api_for(module)) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{module.CONN_ID.upper()}", json.dumps({
            "conn_type": "http", "host": server.base_url, "login": EMAIL,
            "password": password or TOKENS[module], "extra": {**EXTRA[module], "retry": {**RETRY, **retry}}}))
        yield server


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(typeform, "PAGE_SIZE", 5)
    monkeypatch.setattr(zendesk, "EXPORT_PAGE_SIZE", 5)
    monkeypatch.setattr(hubspot, "LIST_LIMIT", 5)
    monkeypatch.setattr(trustpilot, "PAGE_SIZE", 3)


@pytest.fixture
def tf(monkeypatch, small_pages):
    with serving(typeform, monkeypatch) as server:
        yield server


def source(module: ModuleType, sleeps: list[float] | None = None) -> Source:
    built = module.from_connection(get_connection(module.CONN_ID))
    if sleeps is not None:
        built.client._sleep = sleeps.append  # the client's waits, recorded instead of slept
    return built


def run(module: ModuleType = typeform, window: Window = HISTORY, *, sleeps: list[float] | None = None,
        src: Source | None = None) -> BatchResult:
    return runner.run_stream(src or source(module, sleeps), STREAM[module], window)


def table(module: ModuleType) -> str:
    return STREAM[module].table


def landed(db, module: ModuleType = typeform) -> dict[str, dict]:
    return dict(db.execute(f"select record_key, record from raw.{table(module)}").fetchall())


def clean_run(db, sim: Simulator, module: ModuleType = typeform, window: Window = HISTORY) -> dict[str, dict]:
    """What a run without faults lands; the warehouse is emptied again afterwards."""
    run(module, window)
    expected = landed(db, module)
    assert expected
    db.execute(f"truncate raw.{table(module)}, raw._state, raw._rejected, audit.load_batches")
    sim.requests.clear()
    return expected


def batches_add_up(db) -> list[tuple[int, int, int]]:
    """(fetched, landed, rejected) of every batch, oldest first, once each adds up in the tables."""
    rows = db.execute("""
        select b.fetched, b.landed, b.rejected,
               (select coalesce(sum(copies), 0) from raw._rejected as r where r.batch_id = b.batch_id)
        from audit.load_batches as b order by b.loaded_at""").fetchall()
    for fetched, landed_count, rejected, copies in rows:
        assert fetched == landed_count + rejected
        assert rejected == copies
    return [row[:3] for row in rows]


def watermark(db, module: ModuleType = typeform) -> datetime | None:
    stream = STREAM[module]
    row = db.execute("select watermark from raw._state where source = %s and stream = %s",
                     (stream.source, stream.name)).fetchone()
    return row[0] if row else None


def nothing_landed(db, module: ModuleType = typeform) -> bool:
    """The failed run's transaction rolled back whole: no row, no reject, no batch, no cursor."""
    return db.execute(f"""select (select count(*) from raw.{table(module)}) + (select count(*) from raw._state)
                          + (select count(*) from raw._rejected) + (select count(*) from audit.load_batches)
                       """).fetchone() == (0,)


def on_request(sim: Simulator, number: int, fault: Fault) -> None:
    """`fault` for the `number`-th request (from 1) whose path holds `fault.path_contains`."""
    for _ in range(number - 1):
        sim.inject(Fault("slow", delay=0.0, path_contains=fault.path_contains))  # answered as usual
    sim.inject(fault)


def statuses(sim: Simulator, path: str) -> list[int]:
    return [seen.status for seen in sim.requests if seen.path == path]


def no_secret(text: str, sim: Simulator | None = None) -> None:
    """No credential of any connection in `text`, nor a token `sim` handed out (Trustpilot's sign-in)."""
    issued = getattr(sim.api, "issued_tokens", []) if sim is not None else []
    for secret in [*TOKENS.values(), API_SECRET, BUSINESS_USER_PASSWORD, *issued]:
        assert secret not in text


def recovers(db, expected: dict[str, dict], module: ModuleType = typeform) -> None:
    """A rerun after a failed run lands what a clean run lands, and moves the cursor to the end."""
    result = run(module)
    assert landed(db, module) == expected
    assert (result.fetched, result.landed, result.rejected) == (len(expected), len(expected), 0)
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert watermark(db, module) == END


# -- rate limits ----------------------------------------------------------------------------


def test_a_429_waits_the_seconds_retry_after_gives_and_the_run_lands_as_a_clean_one(db, tf):
    expected = clean_run(db, tf)
    on_request(tf, 2, Fault("status", status=429, retry_after=7, path_contains=NPS))
    sleeps: list[float] = []
    result = run(sleeps=sleeps)
    assert sleeps == [7.0]
    assert statuses(tf, NPS)[:3] == [200, 429, 200]
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert (result.inserted, watermark(db)) == (len(expected), END)


def test_a_429_whose_retry_after_is_an_http_date_waits_until_then_by_the_servers_clock(db, tf):
    expected = clean_run(db, tf)
    # The server's clock is months behind ours: the wait is counted on its clock, from its Date.
    server_now = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
    on_request(tf, 2, Fault("reply", path_contains=NPS, reply=Reply(429, {"code": "TOO_MANY_REQUESTS"}, {
        "Date": format_datetime(server_now, usegmt=True),
        "Retry-After": format_datetime(server_now + timedelta(seconds=42), usegmt=True)})))
    sleeps: list[float] = []
    run(sleeps=sleeps)
    assert sleeps == [42.0]
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert watermark(db) == END


def test_a_429_asking_for_longer_than_max_wait_waits_max_wait_and_says_so(db, tf, caplog):
    expected = clean_run(db, tf)
    on_request(tf, 3, Fault("status", status=429, retry_after=86_400, path_contains=NPS))
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING, logger="ingest.http"):
        run(sleeps=sleeps)
    assert sleeps == [300.0]
    assert "typeform.responses: the API asks to wait 86400s; waiting the policy's max_wait, 300s" in caplog.text
    assert landed(db) == expected
    assert watermark(db) == END


# -- server errors, resets, bodies ----------------------------------------------------------


def test_a_burst_of_500_502_503_on_a_middle_page_is_retried_with_backoff_then_lands_in_full(db, tf, caplog):
    expected = clean_run(db, tf)
    on_request(tf, 2, Fault("status", status=500, path_contains=NPS))
    tf.inject(Fault("status", status=502, path_contains=NPS))
    tf.inject(Fault("status", status=503, path_contains=NPS))
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING, logger="ingest.http"):
        run(sleeps=sleeps)
    assert sleeps == [0.01, 0.02, 0.04]
    assert statuses(tf, NPS)[:5] == [200, 500, 502, 503, 200]
    assert "typeform.responses: server error 502; retry 2/3" in caplog.text
    assert f"{tf.base_url}{NPS}" in caplog.text
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert watermark(db) == END


def test_5xx_past_the_last_attempt_fails_naming_source_stream_and_url_and_a_rerun_recovers(db, tf):
    expected = clean_run(db, tf)
    on_request(tf, 3, Fault("status", status=503, path_contains=NPS))
    tf.inject(Fault("status", status=503, path_contains=NPS), times=3)
    with pytest.raises(SourceHTTPError) as failed:
        run(sleeps=[])
    message = str(failed.value)
    assert message.startswith("typeform.responses: gave up after 4 attempts: server error 503 "
                              f"({tf.base_url}{NPS}?")
    no_secret(message)
    assert nothing_landed(db)
    assert statuses(tf, NPS) == [200, 200, 503, 503, 503, 503]
    recovers(db, expected)


def test_a_connection_reset_is_retried_and_the_page_lands_once(db, tf):
    expected = clean_run(db, tf)
    on_request(tf, 2, Fault("reset", path_contains=NPS))
    sleeps: list[float] = []
    run(sleeps=sleeps)
    assert sleeps == [0.01]
    assert statuses(tf, NPS)[:3] == [200, 0, 200]
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert watermark(db) == END


def test_a_truncated_json_page_is_fetched_again_and_lands_once(db, tf):
    expected = clean_run(db, tf)
    on_request(tf, 2, Fault("malformed_page", path_contains=NPS))
    sleeps: list[float] = []
    run(sleeps=sleeps)
    assert sleeps == [0.01]
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert watermark(db) == END


def test_a_page_malformed_on_every_attempt_fails_clearly_and_a_rerun_recovers(db, tf):
    expected = clean_run(db, tf)
    on_request(tf, 2, Fault("malformed_page", path_contains=NPS))
    tf.inject(Fault("malformed_page", path_contains=NPS), times=3)
    with pytest.raises(SourceHTTPError, match=r"^typeform\.responses: gave up after 4 attempts: response body is not "
                                              rf"valid JSON \({tf.base_url}{NPS}\?") as failed:
        run(sleeps=[])
    no_secret(str(failed.value))
    assert nothing_landed(db)
    recovers(db, expected)


def test_a_page_that_times_out_once_is_asked_again_and_the_run_lands_in_full(db, monkeypatch, small_pages, caplog):
    # The held page never answers while the client waits: its read timeout, generous as it is,
    # runs out, and the next attempt gets the page.
    release = threading.Event()
    held = Fault("hold", path_contains=NPS, release=release)
    with serving(typeform, monkeypatch, timeout=[30, 8]) as sim:
        expected = clean_run(db, sim)
        on_request(sim, 2, held)
        try:
            with caplog.at_level(logging.WARNING, logger="ingest.http"):
                run(sleeps=[])
        finally:
            release.set()
    assert held.reached.is_set()
    assert "typeform.responses: timed out; retry 1/3" in caplog.text
    assert landed(db) == expected
    assert batches_add_up(db) == [(len(expected), len(expected), 0)]
    assert watermark(db) == END


# -- pages served twice, pages that shrink --------------------------------------------------


def serve_first_page_again(sim: Simulator, path: str, times: int) -> None:
    """The first page on `path` as the API sends it; then that very page for the next `times` requests."""
    first: dict[str, Reply] = {}

    def keep(reply: Reply) -> Reply:
        first["page"] = copy.deepcopy(reply)
        return reply

    sim.inject(Fault("edit", path_contains=path, edit=keep))
    sim.inject(Fault("edit", path_contains=path, edit=lambda _: copy.deepcopy(first["page"])), times=times)


def test_typeform_serving_the_same_page_again_fails_at_once_rather_than_loop(db, tf):
    expected = clean_run(db, tf)
    serve_first_page_again(tf, NPS, times=50)
    with pytest.raises(ValueError, match=rf"^typeform\.responses: form 'rNPS2026': the page before response \w+ "
                                         rf"ends with that same response .*\({tf.base_url}{NPS}\)$") as failed:
        run(sleeps=[])
    no_secret(str(failed.value))
    assert len(statuses(tf, NPS)) == 2
    assert nothing_landed(db)
    tf.clear_faults()
    recovers(db, expected)


def test_hubspot_serving_the_same_list_page_again_fails_at_once_rather_than_loop(db, monkeypatch, small_pages):
    with serving(hubspot, monkeypatch) as sim:
        expected = clean_run(db, sim, hubspot)
        serve_first_page_again(sim, CONTACTS, times=50)
        with pytest.raises(ValueError, match=r"^hubspot\.contacts: the page after '\w+=*' says the next one is after "
                                             rf".* again .*\({sim.base_url}{CONTACTS}\)$"):
            run(hubspot, sleeps=[])
        assert len(statuses(sim, CONTACTS)) == 2
        assert nothing_landed(db, hubspot)
        sim.clear_faults()
        recovers(db, expected, hubspot)


def test_records_served_again_on_the_next_page_of_an_export_land_once_and_count_as_superseded(
        db, monkeypatch, small_pages):
    with serving(zendesk, monkeypatch) as sim:
        expected = clean_run(db, sim, zendesk)
        first: list[dict] = []

        def keep(reply: Reply) -> Reply:
            first.extend(copy.deepcopy(reply.body["tickets"]))
            return reply

        def glue(reply: Reply) -> Reply:  # page 1 again, in front of page 2, under page 2's cursor
            return Reply(reply.status, {**reply.body, "tickets": copy.deepcopy(first) + reply.body["tickets"]},
                         reply.headers)

        sim.inject(Fault("edit", path_contains=TICKETS, edit=keep))
        sim.inject(Fault("edit", path_contains=TICKETS, edit=glue))
        result = run(zendesk)
    assert len(first) == 5
    assert landed(db, zendesk) == expected
    assert (result.fetched, result.landed, result.rejected) == (len(expected) + 5, len(expected), 5)
    assert batches_add_up(db) == [(len(expected) + 5, len(expected), 5)]
    assert db.execute("select count(*), sum(copies) from raw._rejected where reason like 'superseded%'").fetchone() == (
        5, 5)
    assert watermark(db, zendesk) == END


def test_a_record_deleted_between_two_pages_of_a_cursor_export_costs_no_other_record(db, monkeypatch, small_pages):
    with serving(zendesk, monkeypatch) as sim:
        expected = clean_run(db, sim, zendesk)
        deleted: list[dict] = []

        def delete_first(reply: Reply) -> Reply:
            deleted.append(reply.body["tickets"][0])
            return Reply(reply.status, {**reply.body, "tickets": reply.body["tickets"][1:]}, reply.headers)

        on_request(sim, 2, Fault("edit", path_contains=TICKETS, edit=delete_first))
        result = run(zendesk)
    gone = str(deleted[0]["id"])
    assert landed(db, zendesk) == {key: record for key, record in expected.items() if key != gone}
    assert (result.fetched, result.landed, result.rejected) == (len(expected) - 1, len(expected) - 1, 0)
    assert batches_add_up(db) == [(len(expected) - 1, len(expected) - 1, 0)]
    assert watermark(db, zendesk) == END


def test_a_typeform_response_deleted_while_paging_past_it_fails_the_run_instead_of_stopping_short(db, tf):
    # `before=<token>` of a response deleted meanwhile: the API answers an empty page. Stopping
    # there would land only the newest page and move the cursor over the older responses.
    expected = clean_run(db, tf)
    on_request(tf, 2, Fault("reply", path_contains=NPS, reply=Reply(200, {"total_items": 0, "page_count": 1,
                                                                           "items": []})))
    with pytest.raises(ValueError, match=r"^typeform\.responses: form 'rNPS2026': the page before response \w+ is "
                                         rf"empty, but .* said more followed .*\({tf.base_url}{NPS}\)$") as failed:
        run(sleeps=[])
    no_secret(str(failed.value))
    assert nothing_landed(db)
    recovers(db, expected)


# -- clocks ---------------------------------------------------------------------------------


def test_a_record_stamped_in_the_future_lands_and_the_cursor_stops_at_the_window_end(db, tf):
    expected = clean_run(db, tf)
    future = "2026-03-12T08:00:00Z"  # the source's clock two days ahead of the window's end

    def ahead(reply: Reply) -> Reply:
        items = copy.deepcopy(reply.body["items"])
        items[0]["submitted_at"] = future
        return Reply(reply.status, {**reply.body, "items": items}, reply.headers)

    tf.inject(Fault("edit", path_contains=NPS, edit=ahead))
    first = run()
    rows = dict(db.execute("select record_key, record_updated_at from raw.typeform_responses").fetchall())
    stamped = [key for key, at in rows.items() if at == datetime(2026, 3, 12, 8, tzinfo=UTC)]
    assert len(stamped) == 1 and set(rows) == set(expected)
    assert watermark(db) == END  # from the interval, never from a record's clock
    # The next night reads on from the cursor; nothing is read twice into a second row.
    second = run(window=Window(END, END + DAY))
    assert set(landed(db)) == set(expected)
    assert (first.fetched, first.landed) == (len(expected), len(expected))
    assert (second.inserted, second.updated) == (0, 0)
    batches_add_up(db)
    assert watermark(db) == END + DAY


def test_a_runner_clock_behind_the_sources_loses_nothing_and_the_cursor_follows_the_interval(db, monkeypatch,
                                                                                           small_pages):
    # The API's clock (which serves all but its last minute) is an hour past the window's end; the
    # runner's is three hours behind it.
    api = ZendeskApi(COMPANY, EMAIL, TOKENS[zendesk], clock=lambda: (END + timedelta(hours=1)).timestamp())
    with serving(zendesk, monkeypatch, api=api):
        behind = source(zendesk)
        behind.clock = lambda: END - timedelta(hours=2)
        run(zendesk, Window(None, END - DAY), src=behind)
        assert watermark(db, zendesk) == END - DAY
        run(zendesk, Window(END - DAY, END), src=behind)
    everything = {str(ticket["id"]): ticket for ticket in api.records("tickets")}
    assert landed(db, zendesk) == everything
    batches_add_up(db)
    assert watermark(db, zendesk) == END


# -- credentials refused --------------------------------------------------------------------

REFUSED_PATH = {typeform: NPS, zendesk: TICKETS, hubspot: CONTACTS,
                trustpilot: f"/v1/private/business-units/{DEFAULT_BUSINESS_UNIT_ID}/reviews"}
# Trustpilot's API key is first sent to the token endpoint, which refuses the sign-in there; the
# connector words that refusal itself, naming the fields of the sign-in.
REFUSED_KEY_AT = {**REFUSED_PATH, trustpilot: TOKEN_PATH}
REFUSED_KEY_SAYS = {trustpilot: "trustpilot.reviews: connection cxloop_trustpilot: Trustpilot refused the "
                                "business-user sign-in (password grant, HTTP 401)"}
MODULES = [typeform, zendesk, hubspot, trustpilot]


def module_id(module: ModuleType) -> str:
    return module.__name__.split(".")[-1]


@pytest.mark.parametrize("module", MODULES, ids=module_id)
def test_a_401_fails_at_once_naming_the_connection_and_never_retries(db, monkeypatch, module, caplog):
    wrong = f"wrong-{TOKENS[module]}"
    caplog.set_level(logging.DEBUG)
    with serving(module, monkeypatch, password=wrong) as sim, pytest.raises(SourceHTTPError) as failed:
        run(module, sleeps=[])
    message = str(failed.value)
    stream = STREAM[module]
    assert message.startswith(REFUSED_KEY_SAYS.get(module, f"{stream.source}.{stream.name}: HTTP 401"))
    assert f"connection {module.CONN_ID}" in message
    assert f"({sim.base_url}{REFUSED_KEY_AT[module]}" in message
    assert [seen.status for seen in sim.requests] == [401]
    assert wrong not in message and wrong not in caplog.text
    assert failed.value.status == 401
    assert nothing_landed(db, module)


@pytest.mark.parametrize("module", MODULES, ids=module_id)
def test_a_403_fails_at_once_naming_the_connection_and_never_retries(db, monkeypatch, module):
    with serving(module, monkeypatch) as sim:
        sim.inject(Fault("reply", path_contains=REFUSED_PATH[module],
                         reply=Reply(403, {"error": "Forbidden", "description": "no access to this"})))
        with pytest.raises(SourceHTTPError) as failed:
            run(module, sleeps=[])
    message = str(failed.value)
    assert message.startswith(f"{STREAM[module].source}.{STREAM[module].name}: HTTP 403")
    assert f"connection {module.CONN_ID}" in message
    assert f"({sim.base_url}{REFUSED_PATH[module]}" in message
    # Trustpilot signs in once before its first private call; nothing else but the refused call.
    assert [seen.status for seen in sim.requests if seen.path == TOKEN_PATH] == ([200] if module is trustpilot else [])
    assert [seen.status for seen in sim.requests if seen.path != TOKEN_PATH] == [403]
    no_secret(message, sim)
    assert nothing_landed(db, module)
