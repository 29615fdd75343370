"""The Zendesk simulator regenerates records on demand: what that must not change, and what it must cost.

Driven through `ZendeskApi.handle()`, without HTTP or a warehouse: these pin the simulator's own
guarantees (same records whatever the paging or memory strategy, changes visible on the day they
are made, an index that holds no record), which the connector tests rely on.
"""

from __future__ import annotations

import base64
import gc
import json
import types
from datetime import UTC, datetime, timedelta

import pytest

from simulators import zendesk
from simulators.company import Company
from simulators.zendesk import ZendeskApi

COMPANY = Company(seed=3, customers=200, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
END = COMPANY.end
DAY = timedelta(days=1)
AUTH = {"Authorization": "Basic " + base64.b64encode(b"agent@cxloop.example/token:zd-demo-token").decode()}
# A wall clock well after the company's end, so that no record is inside the embargoed last minute.
LATER = (END + 30 * DAY).timestamp()


def simulator(company: Company = COMPANY) -> ZendeskApi:
    return ZendeskApi(company, clock=lambda: LATER)


def get(api: ZendeskApi, path: str, query: dict[str, str]) -> dict:
    reply = api.handle("GET", path, {name: [value] for name, value in query.items()}, AUTH, b"")
    assert reply.status == 200, reply.body
    return reply.body


def export(api: ZendeskApi, resource: str, start: datetime, per_page: int, include: str | None = None) -> dict:
    """Every array of the export from `start`, concatenated over its pages."""
    path = f"/api/v2/incremental/{resource}/cursor.json"
    extra = {"per_page": str(per_page), **({"include": include} if include else {})}
    query = {"start_time": str(int(start.timestamp())), **extra}
    arrays: dict[str, list] = {}
    while True:
        body = get(api, path, query)
        for name in (resource, "metric_sets"):
            if name in body:
                arrays.setdefault(name, []).extend(body[name])
        if body["end_of_stream"]:
            return arrays
        query = {"cursor": body["after_cursor"], **extra}


def listed(api: ZendeskApi, resource: str, size: int) -> list[dict]:
    query = {"page[size]": str(size)}
    records: list[dict] = []
    while True:
        body = get(api, f"/api/v2/{resource}", query)
        records.extend(body[resource])
        if not body["meta"]["has_more"]:
            return records
        query = {"page[size]": str(size), "page[after]": body["meta"]["after_cursor"]}


def offset_listed(api: ZendeskApi, resource: str, per_page: int) -> list[dict]:
    records: list[dict] = []
    for number in range(1, zendesk.OFFSET_RECORD_LIMIT // per_page + 1):
        body = get(api, f"/api/v2/{resource}", {"page": str(number), "per_page": str(per_page)})
        records.extend(body[resource])
        assert body["count"] == len(api.records(resource))
        if body["next_page"] is None:
            return records
    raise AssertionError(f"{resource} has more records than offset pagination reaches")


def text(records: list[dict]) -> str:
    return json.dumps(records, ensure_ascii=False)


def test_the_exports_serve_the_same_bytes_whatever_the_page_size():
    api = simulator()
    everything = datetime.fromtimestamp(1, tz=UTC)
    for resource, include in (("tickets", "metric_sets"), ("users", None)):
        pages = [export(api, resource, everything, size, include) for size in (1, 7, 1000)]
        assert pages[0] == pages[1] == pages[2], resource
        assert text(pages[0][resource]) == text(api.records(resource)), resource
    assert text(pages[0]["users"]) == text(export(simulator(), "users", everything, 13)["users"])


def test_the_lists_serve_the_same_bytes_whatever_the_page_size():
    api = simulator()
    for resource in ("ticket_metrics", "satisfaction_ratings"):
        expected = text(api.records(resource))
        assert [text(listed(api, resource, size)) for size in (1, 13, 100)] == [expected] * 3, resource
        assert text(offset_listed(api, resource, 30)) == expected, resource


def test_the_same_seed_gives_the_same_records_whatever_was_served_before_and_another_seed_does_not():
    fresh = {name: text(simulator().records(name)) for name in zendesk.RESOURCES}
    replayed = simulator()
    # Views as of many other moments push the first ones out of the cache; rebuilt, they must not differ.
    for hours in range(0, 24 * (zendesk.CACHED_VIEWS + 2), 24):
        for name in zendesk.RESOURCES:
            replayed.records(name, END - timedelta(hours=hours))
    assert {name: text(replayed.records(name)) for name in zendesk.RESOURCES} == fresh
    other = ZendeskApi(Company(seed=4, customers=200, end=END, days=30))
    # SLA policies are the account's configuration, not drawn from the seed.
    assert all(text(other.records(name)) != fresh[name] for name in zendesk.RESOURCES if name != "sla_policies")
    assert text(other.records("sla_policies")) == fresh["sla_policies"]


@pytest.mark.parametrize(("resource", "moment_of"), [
    ("tickets", lambda record: record["generated_timestamp"]),
    ("users", lambda record: int(datetime.fromisoformat(record["updated_at"]).timestamp())),
])
def test_a_record_changed_on_the_last_day_is_in_that_days_export_and_not_in_the_day_befores(resource, moment_of):
    api = simulator()
    before = {r["id"]: r for r in api.records(resource, END - DAY)}
    latest = {r["id"]: r for r in api.records(resource)}
    changed = {key: record for key, record in latest.items() if before.get(key) != record}
    assert any(key in before for key in changed)  # updates to older records, not only new ones

    last_day = {r["id"]: r for r in export(api, resource, END - DAY, 100)[resource]}
    # The night's change is exactly the records whose version became visible during the day.
    assert last_day == {key: r for key, r in latest.items() if moment_of(r) >= (END - DAY).timestamp()}
    assert changed.keys() <= last_day.keys()

    api.as_of = END - DAY
    day_before = {r["id"]: r for r in export(api, resource, END - 2 * DAY, 100)[resource]}
    assert day_before and not [key for key, record in changed.items() if day_before.get(key) == record]


def test_a_metric_set_changed_on_the_last_day_is_sideloaded_with_its_ticket_on_that_day_only():
    api = simulator()
    before = {r["ticket_id"]: r for r in api.records("ticket_metrics", END - DAY)}
    changed = {r["ticket_id"]: r for r in api.records("ticket_metrics") if before.get(r["ticket_id"]) != r}
    page = export(api, "tickets", END - DAY, 50, include="metric_sets")
    sideloaded = {metric["ticket_id"]: metric for metric in page["metric_sets"]}
    assert changed and {key: sideloaded.get(key) for key in changed} == changed
    api.as_of = END - DAY
    earlier = export(api, "tickets", END - 2 * DAY, 50, include="metric_sets")["metric_sets"]
    assert not [metric for metric in earlier if changed.get(metric["ticket_id"]) == metric]


def test_each_ticket_of_an_export_page_comes_with_its_own_metric_set_as_the_metrics_list_serves_it():
    api = simulator()
    metrics = {r["ticket_id"]: r for r in api.records("ticket_metrics")}
    body = get(api, "/api/v2/incremental/tickets/cursor.json", {"start_time": "1", "include": "metric_sets"})
    assert body["tickets"] and [m["ticket_id"] for m in body["metric_sets"]] == [t["id"] for t in body["tickets"]]
    assert body["metric_sets"] == [metrics[t["id"]] for t in body["tickets"]]
    assert "include=metric_sets" in body["after_url"]
    plain = get(api, "/api/v2/incremental/tickets/cursor.json", {"start_time": "1"})
    assert "metric_sets" not in plain and plain["tickets"] == body["tickets"]


def test_ids_are_dealt_in_creation_order_and_a_metric_set_shares_its_tickets_position():
    api = simulator()
    tickets = sorted(api.records("tickets"), key=lambda t: t["id"])
    assert [t["id"] for t in tickets] == list(range(zendesk.FIRST_TICKET_ID, zendesk.FIRST_TICKET_ID + len(tickets)))
    assert [t["created_at"] for t in tickets] == sorted(t["created_at"] for t in tickets)
    assert all(m["id"] - zendesk.FIRST_METRIC_ID == m["ticket_id"] - zendesk.FIRST_TICKET_ID
               for m in api.records("ticket_metrics"))
    ratings = api.records("satisfaction_ratings")
    assert [r["created_at"] for r in ratings] == sorted(r["created_at"] for r in ratings)
    assert [r["id"] for r in ratings] == list(range(zendesk.FIRST_RATING_ID, zendesk.FIRST_RATING_ID + len(ratings)))


def test_a_page_regenerates_its_own_records_and_no_others(monkeypatch):
    api = simulator()
    api.records("tickets"), api.records("users")  # the index and views are built before counting
    built: list[tuple[str, int]] = []
    ticket_at, user_at = ZendeskApi._ticket_at, ZendeskApi._user_at

    def count_ticket(self, j, moment, **parts):
        built.append(("ticket", j))
        return ticket_at(self, j, moment, **parts)

    def count_user(self, index, moment):
        built.append(("user", index))
        return user_at(self, index, moment)

    monkeypatch.setattr(ZendeskApi, "_ticket_at", count_ticket)
    monkeypatch.setattr(ZendeskApi, "_user_at", count_user)
    body = get(api, "/api/v2/incremental/tickets/cursor.json", {"start_time": "1", "per_page": "5",
                                                                 "include": "metric_sets"})
    get(api, "/api/v2/incremental/tickets/cursor.json", {"cursor": body["after_cursor"], "per_page": "5"})
    get(api, "/api/v2/incremental/users/cursor.json", {"start_time": "1", "per_page": "4"})
    assert [kind for kind, _ in built] == ["ticket"] * 10 + ["user"] * 4
    assert len(set(built)) == 14


def test_building_the_api_generates_nothing_until_the_first_request(monkeypatch):
    streams: list[tuple] = []
    rng = Company.rng

    def counting(self, *parts):
        streams.append(parts)
        return rng(self, *parts)

    monkeypatch.setattr(Company, "rng", counting)
    api = ZendeskApi(Company(seed=3, customers=10**7, end=END, days=30))
    assert streams == []
    assert api.handle("GET", "/api/v2/incremental/tickets/cursor.json", {"start_time": ["1"]}, {}, b"").status == 401
    assert streams == []  # refused before any work


def _reachable(root: object) -> list[object]:
    """Objects reachable from `root`'s own state, not through its class, functions or modules."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    seen, queue, found = {id(root)}, [root], []
    while queue:
        item = queue.pop()
        found.append(item)
        for referent in gc.get_referents(item):
            if id(referent) not in seen and not isinstance(referent, skip):
                seen.add(id(referent))
                queue.append(referent)
    return found


def test_the_simulator_keeps_no_record_after_serving_the_whole_history():
    api = simulator()
    everything = datetime.fromtimestamp(1, tz=UTC)
    served = export(api, "tickets", everything, 100, "metric_sets")
    served.update(export(api, "users", everything, 100))
    served["satisfaction_ratings"] = listed(api, "satisfaction_ratings", 100)
    assert all(served.values())
    kept = [item for item in _reachable(api) if isinstance(item, dict) and "url" in item]
    assert kept == []
    # What it does keep is the index: arrays of numbers, a few per record version.
    assert api._index is not None and len(api._views) == 3


def test_the_version_shown_is_the_last_made_among_those_generated_before_the_moment():
    # Background processing can make a later change visible before an earlier one (lags differ).
    api = simulator(Company(seed=9, customers=150, end=END, days=20))
    index = api._index_built()
    j, earlier, later = next((j, a, b) for j in range(index.tickets) for a, b in _pairs(index.ticket(j).events)
                             if b.generated < a.generated)
    moment = datetime.fromtimestamp(later.generated + 1, tz=UTC)
    assert later.generated + 1 <= earlier.generated  # at `moment` only the later change is visible
    ticket_id = index.ticket(j).ticket_id
    [shown] = [t for t in api.records("tickets", moment) if t["id"] == ticket_id]
    assert (shown["generated_timestamp"], shown["updated_at"]) == (later.generated, zendesk._at(later.at))


def _pairs(events: list) -> list[tuple]:
    return [(a, b) for i, a in enumerate(events) for b in events[i + 1:]]


def test_a_page_of_metric_events_regenerates_only_its_own_tickets_events(monkeypatch):
    api = simulator()
    index = api._index_built()  # the ticket index is built before counting; the events' view is not
    made: list[int] = []
    plan = zendesk._Index.metric_event_plan

    def count_plan(self, j):
        made.append(j)
        return plan(self, j)

    monkeypatch.setattr(zendesk._Index, "metric_event_plan", count_plan)
    path = "/api/v2/incremental/ticket_metric_events.json"
    middle = int((END - 10 * DAY).timestamp())
    for start in ("1", str(middle)):
        made.clear()
        body = get(api, path, {"start_time": start, "per_page": "5"})
        served = {event["ticket_id"] for event in body["ticket_metric_events"]}
        # Each ticket of the page once, and no other, the view's build included: a page costs its own events.
        assert served and sorted(index.ticket(j).ticket_id for j in made) == sorted(served)
        assert body["count"] < 20


def test_the_metric_event_index_places_and_numbers_events_as_each_ticket_makes_them():
    api = simulator(Company(seed=9, customers=150, end=END, days=20))
    index = api._index_built()
    expected = []
    for j in range(index.tickets):
        ticket_plan, events = index.metric_event_plan(j)
        offset = ticket_plan.ticket_id - zendesk.FIRST_TICKET_ID
        first_id = zendesk.FIRST_METRIC_EVENT_ID + offset * zendesk.EVENTS_PER_TICKET
        expected += [(event.time, first_id + n) for n, event in enumerate(events)]
    expected.sort()
    assert any(event.type == "breach" for j in range(index.tickets) for event in index.metric_event_plan(j)[1])
    for moment in (END, END - 3 * DAY, END + 30 * DAY):
        view = api._view("ticket_metric_events", moment)
        cut = int(moment.timestamp())
        assert [view.key(i) for i in range(len(view))] == [key for key in expected if key[0] < cut]


def test_the_metric_event_export_serves_the_same_events_whatever_the_page_size():
    api = simulator()
    path = "/api/v2/incremental/ticket_metric_events.json"
    served = []
    for size in (7, 1000):
        events: dict[int, dict] = {}
        query = {"start_time": "1", "per_page": str(size)}
        while True:
            body = get(api, path, query)
            events.update((event["id"], event) for event in body["ticket_metric_events"])
            if body["count"] < size:
                break
            query = {"start_time": str(body["end_time"]), "per_page": str(size)}
        served.append(list(events.values()))
    assert text(served[0]) == text(served[1]) == text(api.records("ticket_metric_events"))
