"""The Zendesk connector against its simulator, through the runner and the real warehouse."""

from __future__ import annotations

import base64
import json
import logging
import math
from datetime import UTC, datetime, timedelta

import pytest

from ingest import runner, zendesk
from ingest.connections import get_connection
from ingest.http import SourceHTTPError
from ingest.streams import Window
from simulators.company import Company
from simulators.server import Fault, first
from simulators.zendesk import ZendeskApi
from tests.shop import serving_zendesk

COMPANY = Company(customers=40, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
END = COMPANY.end
MIDDLE = END - timedelta(days=10)
DAY = timedelta(days=1)
EMAIL, TOKEN = "agent@cxloop.example", "zd-demo-token"
RETRY = {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}
# The exported streams; the reference lists read whole every run are tests/test_zendesk_schedules.py's.
STREAMS = {stream.name: stream for stream in zendesk.STREAMS if stream.name not in zendesk.FULL_REFRESH}
PATHS = {"tickets": "/incremental/tickets/", "users": "/incremental/users/",
         "ticket_metrics": "/incremental/tickets/", "satisfaction_ratings": "/satisfaction_ratings",
         "sla_policies": "/slas/policies", "ticket_metric_events": "/incremental/ticket_metric_events",
         "ticket_comments": "/incremental/ticket_events"}
# The field each stream's records change with; metric events and comments only arrive.
CHANGED = {"ticket_metric_events": "time", "ticket_comments": "created_at"}
# The ticket export serves two streams; the metrics stream is the one asking for the sideload.
SIDELOADED = {"ticket_metrics": ["metric_sets"], "ticket_comments": ["comment_events"]}


def serve(api: ZendeskApi, monkeypatch, password: str = TOKEN):
    return serving_zendesk(api, monkeypatch, login=EMAIL, password=password, extra={"retry": RETRY})


@pytest.fixture
def api():
    return ZendeskApi(COMPANY, EMAIL, TOKEN)


@pytest.fixture
def sim(api, monkeypatch):
    with serve(api, monkeypatch) as server:
        yield server


def source() -> zendesk.ZendeskSource:
    return zendesk.from_connection(get_connection(zendesk.CONN_ID))


def run(name, start, end, *, src=None, **kwargs):
    return runner.run_stream(src or source(), STREAMS[name], Window(start, end), **kwargs)


def landed(db, name) -> dict[str, str]:
    """Landed records of a stream: key -> the record's `updated_at`, or a tombstone's deletion time.

    The export serves a deleted ticket with its `updated_at` at the deletion, so either way this
    matches what the API serves.
    """
    changed = CHANGED.get(name, "updated_at")
    return dict(db.execute(f"select record_key, coalesce(record->>'{changed}', record->>'_deleted_at') "
                           f"from raw.zendesk_{name}").fetchall())


def served(api, name, as_of=None) -> list[dict]:
    """What the API serves of a stream's records: a comment is a child of a ticket event."""
    if name == "ticket_comments":
        return [child for event in api.records("ticket_events", as_of) for child in event["child_events"]
                if child["event_type"] in zendesk.COMMENT_EVENT_TYPES]
    return api.records(name, as_of)


def expected(api, name, as_of=None) -> dict[str, str]:
    return {str(r["id"]): r[CHANGED.get(name, "updated_at")] for r in served(api, name, as_of)}


def basic_auth(password: str = TOKEN) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}/token:{password}".encode()).decode()}


def requests_of(server, name):
    return [r for r in server.requests if PATHS[name] in r.path and r.query.get("include") == SIDELOADED.get(name)]


def test_a_first_run_lands_every_ticket_user_metric_and_rating_exactly_once(db, sim, api):
    for name in STREAMS:
        result = run(name, END - DAY, END)
        assert landed(db, name) == expected(api, name), name
        assert result.fetched == result.landed == len(served(api, name)), name
        assert result.rejected == 0


def test_the_export_follows_after_cursor_until_end_of_stream_even_past_an_empty_last_page(db, sim, api, monkeypatch):
    users = api.records("users")
    size = next(n for n in range(3, len(users)) if len(users) % n == 0)
    monkeypatch.setattr(zendesk, "EXPORT_PAGE_SIZE", size)
    for name in ("tickets", "users", "ticket_metrics"):
        total = len(api.records(name))
        result = run(name, END - DAY, END)
        seen = requests_of(sim, name)
        # A short page ends the export; a full one means one more request, which may come back empty.
        assert len(seen) == total // size + 1, name
        assert seen[0].query["start_time"] == [str(zendesk.EARLIEST_START_TIME)]
        assert all("cursor" in r.query and "start_time" not in r.query for r in seen[1:])
        assert all(r.query["per_page"] == [str(size)] for r in seen)
        assert result.fetched == total
    assert len(users) % size == 0  # so the users export did end on an empty page


def test_ticket_metrics_are_the_ticket_exports_sideload_and_the_metrics_list_is_never_called(db, sim, api):
    for name in STREAMS:
        run(name, END - DAY, END)
    assert not [r for r in sim.requests if "/ticket_metrics" in r.path]
    metric_requests = requests_of(sim, "ticket_metrics")
    assert metric_requests and all(r.path == "/api/v2/incremental/tickets/cursor.json" for r in metric_requests)
    # The tickets stream asks for no sideload it would not land.
    assert all("include" not in r.query for r in requests_of(sim, "tickets"))
    assert landed(db, "ticket_metrics") == expected(api, "ticket_metrics")


def test_a_metric_changed_on_the_last_day_lands_on_the_night_that_covers_it(db, sim, api):
    last_night = END - DAY
    latest = expected(api, "ticket_metrics")
    changed = {key: updated for key, updated in latest.items()
               if expected(api, "ticket_metrics", last_night).get(key) != updated}
    assert any(updated >= last_night.strftime("%Y-%m-%dT%H:%M:%SZ") for updated in changed.values())
    api.as_of = last_night
    run("ticket_metrics", last_night - DAY, last_night)
    assert landed(db, "ticket_metrics") == expected(api, "ticket_metrics", last_night)
    api.as_of = END
    sim.requests.clear()
    result = run("ticket_metrics", last_night, END)
    assert landed(db, "ticket_metrics") == latest
    # The night read only the tickets the export holds from its start: what changed, not every metric.
    start_time = int((last_night - zendesk.EXPORT_LOOKBACK).timestamp())
    assert requests_of(sim, "ticket_metrics")[0].query["start_time"] == [str(start_time)]
    exported = [t for t in api.records("tickets") if t["generated_timestamp"] >= start_time]
    assert result.fetched == len(exported) < len(api.records("ticket_metrics"))
    assert result.inserted + result.updated == len(changed)


def test_the_ratings_list_follows_page_after_until_has_more_is_false(db, sim, api, monkeypatch):
    monkeypatch.setattr(zendesk, "LIST_PAGE_SIZE", 7)
    total = len(api.records("satisfaction_ratings"))
    result = run("satisfaction_ratings", END - DAY, END)
    seen = requests_of(sim, "satisfaction_ratings")
    assert len(seen) == max(1, math.ceil(total / 7))
    assert all(r.query["page[size]"] == ["7"] for r in seen)
    assert "page[after]" not in seen[0].query
    assert all("page[after]" in r.query for r in seen[1:])
    assert result.fetched == total


def test_a_full_last_list_page_with_has_more_false_is_the_last_request(db, sim, api, monkeypatch):
    total = len(api.records("satisfaction_ratings"))
    size = next(n for n in range(2, total + 1) if total % n == 0)
    monkeypatch.setattr(zendesk, "LIST_PAGE_SIZE", size)
    result = run("satisfaction_ratings", END - DAY, END)
    assert len(requests_of(sim, "satisfaction_ratings")) == total // size
    assert result.fetched == total


def test_an_empty_list_page_with_has_more_false_ends_the_stream(db, sim, api):
    # No rating is created after the company's end: the one page is empty.
    result = run("satisfaction_ratings", END, END + DAY, backfill=True)
    assert (result.fetched, result.landed) == (0, 0)
    [request] = requests_of(sim, "satisfaction_ratings")
    assert request.query["start_time"] == [str(int(END.timestamp()))]
    assert request.query["end_time"] == [str(int((END + DAY).timestamp()) - 1)]


def test_an_incremental_run_after_updates_lands_the_latest_version_of_each_record_once(db, sim, api):
    api.as_of = MIDDLE
    for name in STREAMS:
        run(name, MIDDLE - DAY, MIDDLE)
        assert landed(db, name) == expected(api, name), name
    before = {name: expected(api, name) for name in STREAMS}
    api.as_of = END
    sim.requests.clear()
    for name in STREAMS:
        result = run(name, MIDDLE, END)
        latest = expected(api, name)
        assert landed(db, name) == latest, name
        new = latest.keys() - before[name].keys()
        changed = {key for key, updated in before[name].items() if latest[key] != updated}
        if name == "sla_policies":
            assert not new and not changed  # set up before the company's period
        else:  # the ten days did change things; metric events and comments only arrive
            only_arrive = ("satisfaction_ratings", "ticket_metric_events", "ticket_comments")
            assert new and (changed or name in only_arrive), name
        assert (result.inserted, result.updated, result.rejected) == (len(new), len(changed), 0), name
    assert requests_of(sim, "tickets")[0].query["start_time"] == [
        str(int((MIDDLE - zendesk.EXPORT_LOOKBACK).timestamp()))]
    ratings = requests_of(sim, "satisfaction_ratings")[0].query
    assert ratings["start_time"] == [str(int((MIDDLE - zendesk.RATING_CHANGE_LOOKBACK).timestamp()))]
    assert ratings["end_time"] == [str(int(END.timestamp()) - 1)]


def test_a_rating_changed_after_it_landed_is_caught_by_re_reading_its_creation(db, sim, api):
    changed = next(r for r in api.records("satisfaction_ratings") if r["updated_at"] != r["created_at"])
    api.as_of = datetime.fromisoformat(changed["updated_at"])  # just before the customer changes it
    run("satisfaction_ratings", api.as_of - DAY, api.as_of)
    assert landed(db, "satisfaction_ratings")[str(changed["id"])] == changed["created_at"]
    first_watermark = api.as_of
    api.as_of = END
    result = run("satisfaction_ratings", first_watermark, END)
    assert landed(db, "satisfaction_ratings") == expected(api, "satisfaction_ratings")
    assert result.updated >= 1
    # The filter is on creation, which lies before the saved cursor: only the lookback reaches it.
    assert datetime.fromisoformat(changed["created_at"]) < first_watermark


def test_a_ticket_changed_after_the_window_still_lands_in_its_latest_version(db, sim, api):
    api.as_of = END
    result = run("tickets", MIDDLE - DAY, MIDDLE)
    later = {k for k, updated in expected(api, "tickets").items() if updated >= MIDDLE.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert later and later <= landed(db, "tickets").keys()
    assert result.fetched == len(api.records("tickets"))


def test_rerunning_the_same_interval_changes_nothing(db, sim, api):
    for name in STREAMS:
        run(name, END - DAY, END)
    for name in STREAMS:
        again = run(name, END - DAY, END)
        assert (again.inserted, again.updated, again.rejected) == (0, 0, 0), name
        assert landed(db, name) == expected(api, name)


def test_a_429_is_waited_out_for_its_retry_after_and_a_5xx_is_retried(db, sim, api):
    sim.inject(Fault("status", status=429, retry_after=0.05))
    sim.inject(Fault("status", status=503))
    result = run("tickets", END - DAY, END)
    assert landed(db, "tickets") == expected(api, "tickets")
    assert result.rejected == 0
    assert [r.status for r in sim.requests[:3]] == [429, 503, 200]


def test_the_incremental_export_rate_limit_is_respected(db, monkeypatch):
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=2, rate_window_seconds=0.3)
    users = len(limited.records("users"))
    monkeypatch.setattr(zendesk, "EXPORT_PAGE_SIZE", math.ceil(users / 3))
    with serve(limited, monkeypatch) as server:
        result = run("users", END - DAY, END)
    statuses = [r.status for r in server.requests]
    assert 429 in statuses
    assert statuses.count(200) == users // math.ceil(users / 3) + 1
    assert landed(db, "users") == expected(limited, "users")
    assert result.fetched == users


def test_the_limiter_answers_429_with_retry_after_and_rate_limit_headers():
    now = [1_800_000_000.0]
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=2, clock=lambda: now[0])
    auth = basic_auth()

    def export():
        return limited.handle("GET", "/api/v2/incremental/users/cursor.json", {"start_time": ["1"]}, auth, b"")

    first, second = export(), export()
    assert (first.status, first.headers["X-Rate-Limit-Remaining"], second.headers["X-Rate-Limit-Remaining"]) == (
        200, "1", "0")
    now[0] += 20
    third = export()
    assert third.status == 429
    assert third.headers == {"Retry-After": "40", "X-Rate-Limit": "2", "X-Rate-Limit-Remaining": "0"}
    now[0] += 40
    assert export().status == 200


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_lands(db, sim, api, name):
    sim.inject(Fault("malformed_record", path_contains=PATHS[name]))
    result = run(name, END - DAY, END)
    total = len(served(api, name))
    assert (result.fetched, result.landed, result.rejected) == (total, total - 1, 1)
    reason, original = db.execute("select reason, original from raw._rejected").fetchone()
    assert reason == "no natural key: missing 'id'"
    assert json.loads(original)[CHANGED.get(name, "updated_at")]
    assert len(landed(db, name)) == total - 1


def test_a_wrong_api_token_fails_naming_zendesk_and_never_showing_the_token(db, api, monkeypatch, caplog):
    wrong = "zd-wrong-token-5f2a9c"
    caplog.set_level(logging.DEBUG)
    with serve(api, monkeypatch, password=wrong) as server, pytest.raises(SourceHTTPError) as failure:
        run("tickets", END - DAY, END)
    message = str(failure.value)
    assert message.startswith("zendesk.tickets: HTTP 401")
    assert "API token" in message and zendesk.CONN_ID in message
    assert wrong not in message and wrong not in caplog.text
    assert [r.status for r in server.requests] == [401]
    # The run's transaction rolled back: no rows, no cursor, no batch (the tables are the migrations').
    assert db.execute("select (select count(*) from raw.zendesk_tickets), (select count(*) from raw._state), "
                      "(select count(*) from audit.load_batches)").fetchone() == (0, 0, 0)


def test_a_change_held_back_as_the_most_recent_minute_is_caught_by_the_next_run(db, monkeypatch):
    now = [0.0]
    clocked = ZendeskApi(COMPANY, EMAIL, TOKEN, clock=lambda: now[0])
    # A ticket whose last change was made 20 s before a window ends, and a run starting 5 s after.
    ticket = next(t for t in clocked.records("tickets") if t["generated_timestamp"] < (END - 2 * DAY).timestamp())
    window_end = datetime.fromtimestamp(ticket["generated_timestamp"] + 20, tz=UTC)
    with serve(clocked, monkeypatch):
        clocked.as_of, now[0] = window_end + timedelta(seconds=5), window_end.timestamp() + 5
        run("tickets", window_end - DAY, window_end)
        assert str(ticket["id"]) not in landed(db, "tickets")
        clocked.as_of, now[0] = END, END.timestamp() + 3600
        run("tickets", window_end, END)
    assert landed(db, "tickets")[str(ticket["id"])] == ticket["updated_at"]


def test_a_window_ending_now_never_asks_for_the_most_recent_minute(db, monkeypatch):
    now = END + timedelta(hours=1)
    clocked = ZendeskApi(COMPANY, EMAIL, TOKEN, clock=lambda: now.timestamp())
    with serve(clocked, monkeypatch) as server:
        src = source()
        src.clock = lambda: now
        result = run("tickets", now - timedelta(seconds=30), now, src=src, backfill=True)
    [request] = [r for r in server.requests if PATHS["tickets"] in r.path]
    assert request.query["start_time"] == [str(int((now - zendesk.RECENT_GUARD).timestamp()))]
    assert result.fetched == 0  # nothing changed in the last hour of the simulated account


def test_the_simulator_refuses_a_start_time_inside_the_last_minute_and_a_page_size_over_100(api):
    auth = basic_auth()
    recent = str(int(datetime.now(UTC).timestamp()) - 30)
    reply = api.handle("GET", "/api/v2/incremental/tickets/cursor.json", {"start_time": [recent]}, auth, b"")
    assert reply.status == 400 and "Too recent start_time" in reply.body["description"]
    reply = api.handle("GET", "/api/v2/ticket_metrics", {"page[size]": ["101"]}, auth, b"")
    assert reply.status == 400
    assert api.handle("GET", "/api/v2/ticket_metrics", {}, {}, b"").status == 401


def test_landed_batches_pass_the_zendesk_quality_suites(db, sim):
    from expectations import gate

    for name in STREAMS:
        result = run(name, END - DAY, END)
        assert gate.validate_batch(result.batch_id).outcome == "passed", name


def test_the_limiter_rounds_a_fractional_wait_up_to_whole_seconds():
    now = [1_800_000_000.0]
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, incremental_per_minute=1, rate_window_seconds=0.3,
                         clock=lambda: now[0])
    query = {"start_time": ["1"]}
    assert limited.handle("GET", "/api/v2/incremental/users/cursor.json", query, basic_auth(), b"").status == 200
    refused = limited.handle("GET", "/api/v2/incremental/users/cursor.json", query, basic_auth(), b"")
    assert (refused.status, refused.headers["Retry-After"]) == (429, "1")


def test_the_exports_answer_with_and_without_json_and_read_documented_parameters(api):
    def export(path, **query):
        return api.handle("GET", path, {k: [v] for k, v in query.items()}, basic_auth(), b"")

    tickets = api.records("tickets")
    everything = export("/api/v2/incremental/tickets/cursor", start_time="1")
    assert everything.status == 200 and everything.body["tickets"] == tickets
    # Documented examples send empty values for the parameters they leave at their defaults.
    assert export("/api/v2/incremental/tickets/cursor.json", start_time="1", cursor="", per_page="",
                  support_type_scope="").body["tickets"] == tickets
    # No ticket of this account is an AI agent's.
    ai = export("/api/v2/incremental/tickets.json", start_time="1", support_type_scope="ai_agent").body
    assert (ai["tickets"], ai["count"], ai["end_of_stream"]) == ([], 0, True)
    assert export("/api/v2/incremental/tickets/cursor.json", start_time="1",
                  support_type_scope="robots").status == 400
    assert export("/api/v2/incremental/users/cursor.json", start_time="1", per_page="0").status == 400
    assert export("/api/v2/incremental/users.json", per_page="1001", start_time="1").status == 400
    # The time-based export has no cursor: start_time is what it pages by.
    assert export("/api/v2/incremental/tickets.json", cursor=everything.body["after_cursor"]).body == {
        "error": "InvalidValue", "description": "start_time is required"}


def test_a_time_based_page_ends_at_its_last_second_and_sideloads_metric_sets(api):
    tickets = api.records("tickets")
    page = api.handle("GET", "/api/v2/incremental/tickets", {"start_time": ["1"], "per_page": ["5"],
                                                             "include": ["metric_sets"]}, basic_auth(), b"").body
    assert page["tickets"] == tickets[:5] and page["count"] == 5 and page["end_of_stream"] is False
    assert page["end_time"] == tickets[4]["generated_timestamp"]
    assert [m["ticket_id"] for m in page["metric_sets"]] == [t["id"] for t in tickets[:5]]
    assert page["next_page"].endswith(
        f"/api/v2/incremental/tickets?start_time={page['end_time']}&per_page=5&include=metric_sets")


def test_a_time_based_page_of_one_second_moves_past_it_rather_than_repeat_it(api):
    ticket = api.records("tickets")[3]
    second = ticket["generated_timestamp"]
    page = api.handle("GET", "/api/v2/incremental/tickets.json", {"start_time": [str(second)], "per_page": ["1"]},
                      basic_auth(), b"").body
    assert page["tickets"] == [ticket]
    assert page["end_time"] == second + 1


# -- SLA policies, ticket metric events, business minutes ----------------------------------------


def test_sla_policies_and_metric_events_land_with_exact_counts(db, sim, api):
    policies = run("sla_policies", END - DAY, END)
    events = run("ticket_metric_events", END - DAY, END)
    assert (policies.fetched, policies.landed, policies.rejected) == (2, 2, 0)
    assert (events.fetched, events.landed, events.rejected) == (675, 675, 0)
    assert landed(db, "ticket_metric_events") == expected(api, "ticket_metric_events")
    assert set(landed(db, "sla_policies")) == {"360000001", "360000002"}
    assert [r.path for r in requests_of(sim, "sla_policies")] == ["/api/v2/slas/policies"]
    first = requests_of(sim, "ticket_metric_events")[0]
    assert (first.path, first.query) == ("/api/v2/incremental/ticket_metric_events",
                                         {"start_time": [str(zendesk.EARLIEST_START_TIME)]})


def test_metric_events_follow_one_tickets_timeline_and_its_policy(api):
    # Ticket 10026, high priority: opened Friday 27 Feb 13:21:24, first reply Saturday 12:11:37,
    # solved Saturday 14:35:47, reopened Sunday 06:37:49 and solved again 08:30:04. Its policy
    # ("Urgent and high") sets 240 and 1440 business minutes; Friday's 218 business minutes
    # (13:21:24 to 17:00) are all it ever spends, so nothing is breached.
    events = [(e["time"], e["metric"], e["type"], e.get("sla", e.get("status")))
              for e in api.records("ticket_metric_events") if e["ticket_id"] == 10026]
    policy = {"id": 360_000_001, "title": "Urgent and high", "description": "Tickets that cannot wait"}
    opened, replied, solved = "2026-02-27T13:21:24Z", "2026-02-28T12:11:37Z", "2026-02-28T14:35:47Z"
    reopened, solved_again = "2026-03-01T06:37:49Z", "2026-03-01T08:30:04Z"
    assert events == [
        (opened, "reply_time", "activate", None),
        (opened, "resolution_time", "activate", None),
        (opened, "agent_work_time", "activate", None),
        (opened, "requester_wait_time", "activate", None),
        (opened, "reply_time", "apply_sla",
         {"target": 240, "target_in_seconds": 14400, "business_hours": True, "policy": policy}),
        (opened, "resolution_time", "apply_sla",
         {"target": 1440, "target_in_seconds": 86400, "business_hours": True, "policy": policy}),
        (replied, "reply_time", "fulfill", None),
        (replied, "reply_time", "update_status", {"calendar": 1370, "business": 218}),
        (solved, "agent_work_time", "fulfill", None),
        (solved, "requester_wait_time", "fulfill", None),
        (solved, "resolution_time", "fulfill", None),
        (solved, "resolution_time", "update_status", {"calendar": 1514, "business": 218}),
        (reopened, "agent_work_time", "activate", None),
        (reopened, "requester_wait_time", "activate", None),
        (reopened, "resolution_time", "activate", None),
        (solved_again, "agent_work_time", "fulfill", None),
        (solved_again, "requester_wait_time", "fulfill", None),
        (solved_again, "resolution_time", "fulfill", None),
        (solved_again, "resolution_time", "update_status", {"calendar": 2588, "business": 218}),
    ]


def test_a_missed_target_is_a_breach_at_the_moment_it_was_missed(api):
    from simulators.zendesk import add_business_minutes

    breaches = [e for e in api.records("ticket_metric_events") if e["type"] == "breach"]
    assert breaches
    for breach in breaches:
        applied = next(e for e in api.records("ticket_metric_events") if e["ticket_id"] == breach["ticket_id"]
                       and e["metric"] == breach["metric"] and e["type"] == "apply_sla")
        sla, start = applied["sla"], int(datetime.fromisoformat(applied["time"]).timestamp())
        deadline = add_business_minutes(start, sla["target"]) if sla["business_hours"] else start + sla["target"] * 60
        assert int(datetime.fromisoformat(breach["time"]).timestamp()) == deadline
        fulfilled = [e["time"] for e in api.records("ticket_metric_events") if e["ticket_id"] == breach["ticket_id"]
                     and e["metric"] == breach["metric"] and e["type"] == "fulfill"]
        assert not fulfilled or fulfilled[-1] > breach["time"]


def test_business_minutes_add_up_monday_to_friday_nine_to_five():
    from simulators.zendesk import add_business_minutes, business_minutes

    friday = int(datetime(2026, 2, 27, 13, 21, 24, tzinfo=UTC).timestamp())
    assert add_business_minutes(friday, 240) == int(datetime(2026, 3, 2, 9, 21, 24, tzinfo=UTC).timestamp())
    assert add_business_minutes(friday, 1440) == int(datetime(2026, 3, 4, 13, 21, 24, tzinfo=UTC).timestamp())
    assert business_minutes(friday, add_business_minutes(friday, 1440)) == 1440


def test_a_second_run_over_the_next_day_lands_only_the_new_metric_events(db, sim, api):
    next_day = MIDDLE + DAY
    api.as_of = MIDDLE
    first = run("ticket_metric_events", MIDDLE - DAY, MIDDLE)
    assert landed(db, "ticket_metric_events") == expected(api, "ticket_metric_events", MIDDLE)
    api.as_of = next_day
    sim.requests.clear()
    second = run("ticket_metric_events", MIDDLE, next_day)
    events = api.records("ticket_metric_events", next_day)
    new = [e for e in events if e["time"] >= MIDDLE.strftime("%Y-%m-%dT%H:%M:%SZ")]
    reread = [e for e in events if e["time"] >= (MIDDLE - zendesk.EXPORT_LOOKBACK).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert first.inserted == len(events) - len(new)
    assert (second.fetched, second.inserted, second.updated, second.rejected) == (len(reread), len(new), 0, 0)
    assert len(new) == 20
    assert requests_of(sim, "ticket_metric_events")[0].query["start_time"] == [
        str(int((MIDDLE - zendesk.EXPORT_LOOKBACK).timestamp()))]
    assert landed(db, "ticket_metric_events") == expected(api, "ticket_metric_events", next_day)


def test_metric_event_pages_move_on_from_end_time_and_land_a_repeated_second_once(db, sim, api, monkeypatch):
    import simulators.zendesk as simulated

    monkeypatch.setattr(simulated, "EXPORT_MAX_PER_PAGE", 7)
    monkeypatch.setattr(zendesk, "TIME_EXPORT_PAGE_SIZE", 7)
    result = run("ticket_metric_events", END - DAY, END)
    seen = requests_of(sim, "ticket_metric_events")
    assert len(seen) > 675 // 7
    # Each page starts at the last one's end_time, whose second it serves again: none lands twice.
    assert (result.landed, result.rejected) == (675, 0)
    assert result.fetched == 675
    assert landed(db, "ticket_metric_events") == expected(api, "ticket_metric_events")


def test_business_minutes_land_beside_calendar_minutes(db, sim):
    from ingest import warehouse

    run("ticket_metrics", END - DAY, END)
    warehouse.run_dbt(["run", "--select", "stg_zendesk__ticket_metrics"])
    # Ticket 10026 (above): Friday 13:21:24 to Saturday 12:11:37 is 1370 calendar minutes and
    # 218 business ones (Friday until 17:00); first solved Saturday 14:35:47 (1514, still 218),
    # last on Sunday 08:30:04 (2588, still 218).
    assert db.execute("select first_reply_minutes, first_reply_business_minutes, full_resolution_minutes, "
                      "full_resolution_business_minutes, first_resolution_minutes, "
                      "first_resolution_business_minutes from staging.stg_zendesk__ticket_metrics "
                      "where ticket_id = 10026").fetchall() == [(1370, 218, 2588, 218, 1514, 218)]


def test_new_streams_stage_with_their_tests(db, sim):
    from ingest import warehouse

    for name in ("tickets", "sla_policies", "ticket_metric_events"):
        run(name, END - DAY, END)
    # The comments' model reads the deletion ledger: it is built with them.
    warehouse.run_dbt(["build", "--select", "path:models/staging/zendesk", "stg_cxloop__deleted_records"])
    assert db.execute("select count(*), count(*) filter (where event_type = 'apply_sla' and sla_policy_id is null) "
                      "from staging.stg_zendesk__ticket_metric_events").fetchone() == (675, 0)
    assert db.execute("select title, match_position, jsonb_array_length(targets) from "
                      "staging.stg_zendesk__sla_policies order by match_position").fetchall() == [
        ("Urgent and high", 1, 4), ("Standard", 2, 3)]


# -- deleted tickets -------------------------------------------------------------------------------


def deleted_list_requests(server):
    return [r for r in server.requests if r.path == "/api/v2/deleted_tickets"]


def raw_ticket(db, ticket_id: int):
    return db.execute("select record from raw.zendesk_tickets where record_key = %s", (str(ticket_id),)).fetchone()[0]


class ExportMissingDeletions(ZendeskApi):
    """An account whose ticket export shows no deletion: only the deleted tickets list can tell."""

    def handle(self, method, path, query, headers, body):
        if path.startswith("/api/v2/incremental/"):
            query = {**query, "exclude_deleted": ["true"]}
        return super().handle(method, path, query, headers, body)


def test_a_ticket_deleted_after_it_landed_is_landed_as_a_tombstone_by_the_next_run(db, sim, api):
    # The seed deletes one ticket of this account, three days before its end.
    [deleted] = [t for t in api.records("tickets") if t["status"] == "deleted"]
    assert (deleted["id"], deleted["updated_at"]) == (10033, "2026-03-07T18:52:30Z")
    before = datetime(2026, 3, 7, tzinfo=UTC)
    api.as_of = before
    run("tickets", before - DAY, before)
    assert raw_ticket(db, 10033)["status"] == "solved"
    api.as_of = END
    sim.requests.clear()
    result = run("tickets", before, END)
    # Only the key and the deletion time are kept: the subject, the requester and the rest are gone.
    assert raw_ticket(db, 10033) == {"id": 10033, "_deleted_at": "2026-03-07T18:52:30Z"}
    assert (result.deleted, result.rejected) == (1, 0)
    assert db.execute("select deleted, rejected from audit.load_batches where batch_id = %s",
                      (result.batch_id,)).fetchone() == (1, 0)
    # The deleted tickets list shows the same deletion: it is landed once, from the export.
    [listed] = deleted_list_requests(sim)
    assert listed.query == {"sort_by": ["deleted_at"], "sort_order": ["desc"], "page[size]": ["100"]}
    assert "exclude_deleted" not in requests_of(sim, "tickets")[0].query
    rerun = run("tickets", before, END)
    assert (rerun.inserted, rerun.updated, rerun.deleted, rerun.rejected) == (0, 0, 0, 0)


def test_exclude_deleted_true_leaves_deleted_tickets_out_of_both_exports_and_its_next_pages(api):
    def export(path, **query):
        return api.handle("GET", path, {k: [v] for k, v in query.items()}, basic_auth(), b"").body

    tickets = api.records("tickets")
    live = [t for t in tickets if t["status"] != "deleted"]
    assert len(live) == len(tickets) - 1
    for path in ("/api/v2/incremental/tickets/cursor.json", "/api/v2/incremental/tickets.json"):
        assert export(path, start_time="1")["tickets"] == tickets
        assert export(path, start_time="1", exclude_deleted="false")["tickets"] == tickets
        assert export(path, start_time="1", exclude_deleted="true")["tickets"] == live
    page = export("/api/v2/incremental/tickets/cursor.json", start_time="1", per_page="5", exclude_deleted="true")
    assert page["after_url"].endswith("&per_page=5&exclude_deleted=true")


def test_the_deleted_tickets_list_serves_the_last_30_days_sorted_as_asked_by_cursor_and_by_offset():
    api = ZendeskApi(COMPANY, EMAIL, TOKEN, deleted_share=0.2)
    auth = basic_auth()

    def pages(**query):
        """Every entry of the list, following next links (cursor) or page numbers (offset)."""
        query = {k: [v] for k, v in query.items()}
        entries = []
        while True:
            body = api.handle("GET", "/api/v2/deleted_tickets.json", query, auth, b"").body
            entries += body["deleted_tickets"]
            if "meta" in body and body["meta"]["has_more"]:
                query = {**query, "page[after]": [body["meta"]["after_cursor"]]}
            elif "next_page" in body and body["next_page"]:
                query = {**query, "page": [str(int(first(query, "page", "1")) + 1)]}
            else:
                return entries

    listed = api.deleted_tickets()
    # A share of 20% deletes these eight of the account's 48 tickets, the first on 20 February.
    assert [(e["id"], e["deleted_at"]) for e in listed][:2] == [(10008, "2026-02-20T19:30:16Z"),
                                                                  (10011, "2026-02-24T21:53:07Z")]
    assert len(listed) == 8
    assert listed[0] == {"id": 10008, "subject": "Świetny produkt", "actor": {"id": 9100003, "name": "Claire Dubois"},
                         "deleted_at": "2026-02-20T19:30:16Z", "previous_state": "closed"}
    newest_first = sorted(listed, key=lambda e: e["deleted_at"], reverse=True)
    assert pages(sort_by="deleted_at", sort_order="desc", **{"page[size]": "3"}) == newest_first
    assert pages(sort_by="id", sort_order="desc", per_page="3") == listed[::-1]
    assert pages(**{"page[size]": "100"}) == pages(per_page="2") == listed  # by id, ascending, by default
    # Deletions older than 30 days are scrubbed: 20 days on, only those since 28 February are listed.
    api.as_of = END + 20 * DAY
    assert pages(per_page="100") == [e for e in listed if e["deleted_at"] >= "2026-02-28"]
    refused = api.handle("GET", "/api/v2/deleted_tickets", {"sort_by": ["subject"]}, auth, b"")
    assert (refused.status, refused.body["error"]) == (400, "InvalidValue")


def test_the_deleted_tickets_list_allows_its_documented_10_requests_a_minute():
    now = [1_800_000_000.0]
    limited = ZendeskApi(COMPANY, EMAIL, TOKEN, deleted_tickets_per_minute=10, clock=lambda: now[0])
    statuses = [limited.handle("GET", "/api/v2/deleted_tickets", {}, basic_auth(), b"").status for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    # Counted apart from the incremental exports.
    assert limited.handle("GET", "/api/v2/incremental/users.json", {"start_time": ["1"]}, basic_auth(),
                          b"").status == 200


def test_the_deleted_tickets_list_catches_deletions_the_export_missed_newest_first_down_to_the_window(
        db, monkeypatch):
    api = ExportMissingDeletions(COMPANY, EMAIL, TOKEN, deleted_share=0.2)
    monkeypatch.setattr(zendesk, "LIST_PAGE_SIZE", 2)
    first_night = END - 2 * DAY
    with serve(api, monkeypatch) as server:
        api.as_of = first_night
        first_run = run("tickets", first_night - DAY, first_night)
        # No start on a first run: the whole list, seven deletions by then, two a page.
        assert len(deleted_list_requests(server)) == 4
        assert first_run.deleted == 7
        server.requests.clear()
        api.as_of = END
        second_run = run("tickets", first_night, END)
    # Newest first, 9 March's deletion and then one of 7 March, before the window: no further page.
    [listed] = deleted_list_requests(server)
    assert listed.query == {"sort_by": ["deleted_at"], "sort_order": ["desc"], "page[size]": ["2"]}
    assert (second_run.deleted, second_run.rejected) == (1, 0)
    assert raw_ticket(db, 10045) == {"id": 10045, "_deleted_at": "2026-03-09T16:12:51Z"}
    assert db.execute("select count(*) from raw.zendesk_tickets where record ? '_deleted_at'").fetchone() == (8,)
