"""The HubSpot connector against its simulator, through the runner and the real warehouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest import hubspot, runner
from ingest.connections import get_connection
from ingest.streams import Window
from simulators.company import Company
from simulators.hubspot import HubSpotApi
from simulators.server import Fault
from tests.shop import serving_hubspot

COMPANY = Company(customers=60, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
TOKEN = "hs-test-token-9876"
END = COMPANY.end
DAY = timedelta(days=1)


@pytest.fixture
def api():
    return HubSpotApi(COMPANY, token=TOKEN)


@pytest.fixture
def sim(api, monkeypatch):
    with serving_hubspot(api, TOKEN, monkeypatch) as server:
        yield server


def source() -> hubspot.HubSpotSource:
    return hubspot.from_connection(get_connection("cxloop_hubspot"))


def stream(name: str):
    return next(s for s in hubspot.STREAMS if s.name == name)


def run(name: str, start, end, src=None, *, backfill: bool = False):
    return runner.run_stream(src or source(), stream(name), Window(start, end), backfill=backfill)


def raw(db, kind: str) -> dict[str, dict]:
    return {key: record for key, record in db.execute(f"select record_key, record from raw.hubspot_{kind}")}


def live(rows: dict[str, dict]) -> set[str]:
    return {key for key, record in rows.items() if "_deleted_at" not in record}


def tombstoned(rows: dict[str, dict]) -> set[str]:
    return {key for key, record in rows.items() if "_deleted_at" in record}


def archived_in(api, kind, start, end) -> set[str]:
    return {i for i, r in api.archived[kind].items()
            if (start is None or start <= datetime.fromisoformat(r["archivedAt"])) and
            datetime.fromisoformat(r["archivedAt"]) < end}


def modified_in(api, kind, start, end) -> set[str]:
    return {i for i, r in api.objects[kind].items()
            if start <= datetime.fromisoformat(r["updatedAt"]) < end}


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals"])
def test_full_load_lands_every_record_once_through_the_list_endpoint(db, api, sim, kind, monkeypatch):
    monkeypatch.setattr(hubspot, "LIST_LIMIT", 7)
    result = run(kind, None, END)
    # Every live record, and a tombstone for every record archived before the first run.
    assert live(raw(db, kind)) == set(api.objects[kind])
    assert tombstoned(raw(db, kind)) == set(api.archived[kind])
    assert result.fetched == result.landed == len(api.objects[kind]) + len(api.archived[kind])
    pages = [r for r in sim.requests if r.path == f"/crm/v3/objects/{kind}" and "archived" not in r.query]
    assert len(pages) == -(-len(api.objects[kind]) // 7)
    assert "after" not in pages[0].query and all("after" in p.query for p in pages[1:])


def test_list_and_search_attach_the_same_associations(db, api, sim):
    run("deals", None, END)
    listed = raw(db, "deals")
    db.execute("truncate raw.hubspot_deals")
    run("deals", COMPANY.start - DAY, END)
    searched = raw(db, "deals")
    assert searched == listed
    some = next(iter(listed.values()))
    assert set(some["associations"]) == {"companies", "contacts"}


def test_incremental_search_lands_only_what_changed_and_the_latest_version_wins(db, api, sim):
    run("contacts", None, END - 5 * DAY)
    contact_id = next(iter(api.objects["contacts"]))
    api.touch("contacts", contact_id, END - DAY, lifecyclestage="evangelist")
    sim.requests.clear()
    result = run("contacts", END - 5 * DAY, END)
    assert result.fetched == len(modified_in(api, "contacts", END - 5 * DAY, END)) + \
        len(archived_in(api, "contacts", END - 5 * DAY, END))
    assert raw(db, "contacts")[contact_id]["properties"]["lifecyclestage"] == "evangelist"
    search = json.loads(next(r for r in sim.requests if r.path.endswith("/search")).body)
    filters = search["filterGroups"][0]["filters"]
    assert filters[0] == {"propertyName": "lastmodifieddate", "operator": "GTE",
                          "value": str(int((END - 5 * DAY).timestamp() * 1000))}
    assert filters[1]["value"] == str(int(END.timestamp() * 1000) - 1)
    assert live(raw(db, "contacts")) == set(api.objects["contacts"])


def test_hitting_the_search_cap_splits_the_window_and_misses_nothing(db, api, sim, monkeypatch):
    api.search_cap = 12
    monkeypatch.setattr(hubspot, "SEARCH_LIMIT", 5)
    src = source()
    src.search_cap = 12
    # A backfill reads exactly its interval, so with no cursor yet this goes through search.
    result = run("contacts", COMPANY.start - DAY, END, src, backfill=True)
    assert live(raw(db, "contacts")) == set(api.objects["contacts"])
    assert result.fetched == len(api.objects["contacts"]) + len(api.archived["contacts"])
    searches = [r for r in sim.requests if r.path.endswith("/search")]
    assert len(searches) > len(api.objects["contacts"]) // 5
    assert all(r.status == 200 for r in sim.requests)


def test_a_window_too_narrow_to_split_continues_past_the_cap_by_object_id(db, api, sim, monkeypatch):
    moment = END - DAY
    for contact_id in api.objects["contacts"]:
        api.touch("contacts", contact_id, moment)  # a bulk import: every record in one second
    api.search_cap = 12
    monkeypatch.setattr(hubspot, "SEARCH_LIMIT", 5)
    src = source()
    src.search_cap = 12
    result = run("contacts", moment, moment + timedelta(milliseconds=500), src, backfill=True)
    assert result.fetched == len(api.objects["contacts"])
    assert set(raw(db, "contacts")) == set(api.objects["contacts"])
    assert any("hs_object_id" in r.body.decode() and '"GT"' in r.body.decode() for r in sim.requests)


def test_a_429_with_and_without_retry_after_is_survived(db, api, sim):
    sim.inject(Fault("status", status=429, retry_after=0.05))
    sim.inject(Fault("status", status=429))
    run("companies", None, END)
    assert set(raw(db, "companies")) == set(api.objects["companies"])
    assert [r.status for r in sim.requests[:3]] == [429, 429, 200]


def test_a_5xx_is_retried(db, api, sim):
    sim.inject(Fault("status", status=502))
    run("companies", None, END)
    assert set(raw(db, "companies")) == set(api.objects["companies"])


def test_a_malformed_record_is_rejected_with_its_reason_and_the_rest_lands(db, api, sim):
    sim.inject(Fault("malformed_record"))
    result = run("companies", None, END)
    assert (result.fetched, result.landed, result.rejected) == (len(api.objects["companies"]),
                                                                len(api.objects["companies"]) - 1, 1)
    assert db.execute("select reason from raw._rejected").fetchall() == [("no natural key: missing 'id'",)]


def test_rerunning_the_same_interval_changes_nothing(db, api, sim):
    run("deals", END - 10 * DAY, END)
    again = run("deals", END - 10 * DAY, END)
    assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)


def test_a_wrong_token_fails_clearly_without_leaking_any_token(db, api, sim, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_HUBSPOT", json.dumps({
        "conn_type": "http", "host": sim.base_url, "password": "wrong-token-12345"}))
    with pytest.raises(Exception, match="hubspot.contacts: HTTP 401") as caught:
        run("contacts", None, END)
    assert "wrong-token-12345" not in str(caught.value) and TOKEN not in str(caught.value)


def test_the_simulator_refuses_to_page_past_its_cap_like_hubspot(api):
    api.search_cap = 10
    reply = api.handle("POST", "/crm/v3/objects/contacts/search", {}, {"Authorization": f"Bearer {TOKEN}"},
                       json.dumps({"limit": 5, "after": 8}).encode())
    assert reply.status == 400


@pytest.mark.parametrize("kind", ["contacts", "companies", "deals"])
def test_the_connector_asks_for_every_property_so_raw_rows_hold_them_all(db, api, sim, kind):
    # HubSpot returns only the properties a read names: one left out of the request is lost.
    run(kind, None, END)
    listed = raw(db, kind)
    run(kind, COMPANY.start - DAY, END, backfill=True)
    for rows in (listed, raw(db, kind)):
        for object_id, record in api.objects[kind].items():
            assert rows[object_id]["properties"].items() >= record["properties"].items()


def test_associations_past_one_batch_read_page_are_all_followed(db, api, sim, monkeypatch):
    api.association_page_size = 2
    monkeypatch.setitem(hubspot.ASSOCIATIONS, "companies", ["contacts"])
    run("companies", None, END)
    listed = {key: record["associations"]["contacts"] for key, record in raw(db, "companies").items()
              if "associations" in record}
    assert any(len(block["results"]) > 2 for block in listed.values())
    db.execute("truncate raw.hubspot_companies")
    run("companies", COMPANY.start - DAY, END, backfill=True)
    searched = {key: record["associations"]["contacts"] for key, record in raw(db, "companies").items()
                if "associations" in record}
    assert searched == listed
    batch_reads = [json.loads(r.body) for r in sim.requests if r.path.endswith("/batch/read")]
    assert any("after" in item for read in batch_reads for item in read["inputs"])


# -- deletions and merges ------------------------------------------------------------------------


def test_a_contact_archived_after_it_was_landed_is_replaced_by_its_tombstone_in_the_next_run(db, api, sim):
    archived = max(api.archived["contacts"].values(), key=lambda r: r["archivedAt"])
    archived_at = datetime.fromisoformat(archived["archivedAt"])
    api.as_of = archived_at  # the moment before it is archived
    run("contacts", None, archived_at)
    assert raw(db, "contacts")[archived["id"]]["properties"]["email"] == archived["properties"]["email"]

    api.as_of = END
    result = run("contacts", archived_at, END)
    assert raw(db, "contacts")[archived["id"]] == {"id": archived["id"], "_deleted_at": archived["archivedAt"]}
    assert result.deleted == 1
    assert db.execute("select deleted from audit.load_batches where batch_id = %s",
                      (result.batch_id,)).fetchone() == (1,)


def test_records_archived_before_the_window_are_not_landed_again_and_the_archived_list_is_read_lean(db, api, sim):
    run("contacts", None, END - DAY)
    assert archived_in(api, "contacts", None, END - DAY) and not archived_in(api, "contacts", END - DAY, END)
    sim.requests.clear()
    result = run("contacts", END - DAY, END)
    assert result.deleted == 0
    assert result.fetched == len(modified_in(api, "contacts", END - DAY, END))
    archived_reads = [r.query for r in sim.requests if r.query.get("archived") == ["true"]]
    assert archived_reads == [{"limit": ["100"], "archived": ["true"]}]


def test_the_survivor_of_a_merge_lands_again_with_the_merged_ids_and_the_merged_contact_is_not_tombstoned(
        db, api, sim):
    api.merge_share = 0.2  # before the first request builds the index: enough merges to pick from
    survivor = next(r for r in api.objects["contacts"].values() if r["properties"]["hs_merged_object_ids"])
    merged_ids = survivor["properties"]["hs_merged_object_ids"].split(";")
    merged_at = datetime.fromisoformat(survivor["updatedAt"])
    assert not set(merged_ids) & (set(api.objects["contacts"]) | set(api.archived["contacts"]))
    api.as_of = merged_at
    run("contacts", None, merged_at)
    before_merge = raw(db, "contacts")
    assert before_merge[survivor["id"]]["properties"]["hs_merged_object_ids"] is None

    api.as_of = END
    result = run("contacts", merged_at, END)
    rows = raw(db, "contacts")
    assert rows[survivor["id"]]["properties"]["hs_merged_object_ids"] == ";".join(merged_ids)
    assert db.execute("select record -> 'properties' ->> 'hs_merged_object_ids' from raw.hubspot_contacts "
                      "where record_key = %s", (survivor["id"],)).fetchone() == (";".join(merged_ids),)
    # The merged-away contacts keep what was landed of them: the warehouse maps them to the survivor.
    assert {i: rows.get(i) for i in merged_ids} == {i: before_merge.get(i) for i in merged_ids}
    assert result.deleted == len(archived_in(api, "contacts", merged_at, END))
