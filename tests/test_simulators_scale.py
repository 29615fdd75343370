"""What lets the HubSpot, Trustpilot and Typeform simulators serve a million-customer company.

They hold a compact index, never the records: a page regenerates only its own records from the
seed, identically whatever the page size; they answer as of a moment, so a day's window holds
the records created that day plus the older ones edited that day.
"""

from __future__ import annotations

import base64
import gc
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import requests

from simulators import trustpilot as trustpilot_module
from simulators.company import FORMS, Company
from simulators.hubspot import MODIFIED, HubSpotApi
from simulators.server import Simulator
from simulators.trustpilot import DEFAULT_BUSINESS_UNIT_ID, TOKEN_PATH, TrustpilotApi
from simulators.typeform import TypeformApi

COMPANY = Company(seed=5, customers=400, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
BIGGER = Company(seed=5, customers=3000, end=COMPANY.end, days=30)
DAY = timedelta(days=1)
LAST_DAY = COMPANY.end - DAY
BEARER = {"Authorization": "Bearer hs-demo-token"}
KINDS = ["contacts", "companies", "deals"]
REVIEWS = f"/v1/private/business-units/{DEFAULT_BUSINESS_UNIT_ID}/reviews"


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def listed(api: HubSpotApi, kind: str, limit: int = 100) -> list[dict]:
    records, query = [], {"limit": [str(limit)], "associations": ["companies,contacts,deals"]}
    while True:
        reply = api.handle("GET", f"/crm/v3/objects/{kind}", query, BEARER, b"")
        assert reply.status == 200
        records += reply.body["results"]
        if "paging" not in reply.body:
            return records
        query = {**query, "after": [reply.body["paging"]["next"]["after"]]}


def searched(api: HubSpotApi, kind: str, start: datetime, end: datetime, limit: int = 200) -> list[dict]:
    records, after = [], 0
    filters = [{"propertyName": MODIFIED[kind], "operator": "GTE", "value": ms(start)},
               {"propertyName": MODIFIED[kind], "operator": "LTE", "value": str(int(ms(end)) - 1)}]
    while True:
        request = {"filterGroups": [{"filters": filters}], "limit": limit, "after": after}
        reply = api.handle("POST", f"/crm/v3/objects/{kind}/search", {}, BEARER, json.dumps(request).encode())
        assert reply.status == 200
        records += reply.body["results"]
        if "paging" not in reply.body:
            return records
        after = int(reply.body["paging"]["next"]["after"])


def signed_in(api: TrustpilotApi) -> dict[str, str]:
    """Headers for the private reviews endpoint: a business user's token from the password grant."""
    basic = base64.b64encode(f"{api.api_key}:{api.api_secret}".encode()).decode()
    form = urlencode({"grant_type": "password", "username": api.username, "password": api.password}).encode()
    reply = api.handle("POST", TOKEN_PATH, {}, {"Authorization": f"Basic {basic}",
                                                "Content-Type": "application/x-www-form-urlencoded"}, form)
    assert reply.status == 200, reply.body
    return {"Authorization": f"Bearer {reply.body['access_token']}"}


def ids(records: list[dict]) -> set[str]:
    return {r["id"] for r in records}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def edited_on_the_last_day(api: HubSpotApi, kind: str) -> list[dict]:
    return [r for r in api.objects[kind].values() if at(r["createdAt"]) < LAST_DAY <= at(r["updatedAt"])]


@pytest.mark.parametrize("kind", KINDS)
def test_hubspot_serves_the_same_records_whatever_the_page_size(kind):
    api = HubSpotApi(COMPANY)
    assert listed(api, kind, limit=7) == listed(api, kind, limit=100)
    everything = searched(api, kind, COMPANY.start, COMPANY.end, limit=200)
    assert searched(api, kind, COMPANY.start, COMPANY.end, limit=3) == everything
    assert ids(everything) == set(api.objects[kind])


def test_one_seed_serves_the_same_bytes_from_fresh_simulators_and_another_seed_does_not():
    twin = Company(seed=COMPANY.seed, customers=COMPANY.customers, end=COMPANY.end, days=COMPANY.days)
    other = Company(seed=COMPANY.seed + 1, customers=COMPANY.customers, end=COMPANY.end, days=COMPANY.days)

    def served(company: Company) -> str:
        hubspot = {kind: listed(HubSpotApi(company), kind) for kind in KINDS}
        return json.dumps([hubspot, TrustpilotApi(company).reviews(), list(company.typeform_responses())],
                          ensure_ascii=False)

    assert served(twin) == served(COMPANY)
    assert served(other) != served(COMPANY)


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_edited_on_the_last_day_is_in_that_days_window_and_in_no_earlier_one(kind):
    api = HubSpotApi(COMPANY)
    edited = ids(edited_on_the_last_day(api, kind))
    assert edited, f"the test company should have {kind} edited on its last day"
    last_day = ids(searched(api, kind, LAST_DAY, COMPANY.end))
    assert edited <= last_day
    assert last_day == {i for i, r in api.objects[kind].items() if at(r["updatedAt"]) >= LAST_DAY}
    assert not edited & ids(searched(api, kind, COMPANY.start - DAY, LAST_DAY))


@pytest.mark.parametrize("kind", KINDS)
def test_moving_as_of_back_serves_a_records_earlier_version_in_its_earlier_window(kind):
    api = HubSpotApi(COMPANY)
    latest = edited_on_the_last_day(api, kind)[0]
    api.as_of = at(latest["updatedAt"])
    earlier = api.objects[kind][latest["id"]]
    assert at(earlier["updatedAt"]) < at(latest["updatedAt"])
    assert {k: v for k, v in earlier["properties"].items() if k != MODIFIED[kind]} != \
        {k: v for k, v in latest["properties"].items() if k != MODIFIED[kind]}
    assert latest["id"] in ids(searched(api, kind, COMPANY.start, LAST_DAY))
    assert latest["id"] not in ids(searched(api, kind, LAST_DAY, COMPANY.end))


def test_deals_move_one_stage_at_a_time_and_close_with_the_stage_that_closes_them():
    api = HubSpotApi(COMPANY)
    stages = {pipeline["id"]: pipeline["stages"] for pipeline in api.pipelines}

    def step(properties: dict) -> int:
        """Open stages in their display order, then one step for every closing stage."""
        pipeline = stages[properties["pipeline"]]
        stage = next(s for s in pipeline if s["id"] == properties["dealstage"])
        opened = [s["id"] for s in pipeline if s["metadata"]["isClosed"] == "false"]
        return len(opened) if stage["metadata"]["isClosed"] == "true" else opened.index(stage["id"])

    for deal in edited_on_the_last_day(api, "deals"):
        api.as_of = at(deal["updatedAt"])
        before = api.objects["deals"][deal["id"]]["properties"]
        api.as_of = COMPANY.end
        after = deal["properties"]
        assert before["pipeline"] == after["pipeline"]
        assert step(after) == step(before) + 1
        closed = step(after) == len([s for s in stages[after["pipeline"]] if s["metadata"]["isClosed"] == "false"])
        assert after["closedate"] == (deal["updatedAt"] if closed else None)


def test_a_days_window_holds_about_one_percent_of_records_new_and_old():
    company = Company(seed=3, customers=3000, end=COMPANY.end, days=90)
    api = HubSpotApi(company)
    for kind in KINDS:
        day = searched(api, kind, company.end - DAY, company.end)
        share = len(day) / len(api.objects[kind])
        assert 0.005 < share < 0.03, (kind, share)
        created_that_day = [r for r in day if at(r["createdAt"]) >= company.end - DAY]
        assert 0 < len(created_that_day) < len(day), kind


def test_a_page_regenerates_only_its_own_records(monkeypatch):
    hubspot = HubSpotApi(COMPANY)
    made: list[int] = []
    generate = hubspot._contacts
    monkeypatch.setattr(hubspot, "_contacts", lambda row, *rest: made.append(row) or generate(row, *rest))
    reply = hubspot.handle("GET", "/crm/v3/objects/contacts", {"limit": ["10"]}, BEARER, b"")
    assert made == [int(r["id"]) - 1001 for r in reply.body["results"]] and len(made) == 10
    made.clear()
    request = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                              "value": ms(COMPANY.start)}]}], "limit": 5, "after": 5}
    reply = hubspot.handle("POST", "/crm/v3/objects/contacts/search", {}, BEARER, json.dumps(request).encode())
    assert len(made) == len(reply.body["results"]) == 5 and reply.body["total"] == len(hubspot.objects["contacts"])

    reviews: list[int] = []
    review = trustpilot_module._review
    trustpilot = TrustpilotApi(COMPANY)
    business_user = signed_in(trustpilot)
    monkeypatch.setattr(trustpilot_module, "_review", lambda c, plan, position, *rest: reviews.append(position)
                        or review(c, plan, position, *rest))
    page = trustpilot.handle("GET", REVIEWS, {"perPage": ["10"], "page": ["2"]}, business_user, b"")
    assert len(page.body["reviews"]) == len(reviews) == 10

    responses: list[int] = []
    response = Company.typeform_response
    monkeypatch.setattr(Company, "typeform_response", lambda c, ordinal: responses.append(ordinal)
                        or response(c, ordinal))
    page = TypeformApi(COMPANY).handle("GET", f"/forms/{FORMS[0]}/responses", {"page_size": ["10"]},
                                       {"Authorization": "Bearer tf-demo-token"}, b"")
    assert len(page.body["items"]) == len(responses) == 10 and page.body["total_items"] > 10


def test_serving_every_page_leaves_the_simulator_no_bigger():
    api = HubSpotApi(BIGGER)
    query = {"limit": ["100"], "associations": ["companies"]}
    tracemalloc.start()
    try:
        first = api.handle("GET", "/crm/v3/objects/contacts", query, BEARER, b"")  # builds the index
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        served, after = len(json.dumps(first.body)), first.body["paging"]["next"]["after"]
        while after:
            body = api.handle("GET", "/crm/v3/objects/contacts", {**query, "after": [after]}, BEARER, b"").body
            served += len(json.dumps(body))
            after = body.get("paging", {}).get("next", {}).get("after")
        del first, body
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert served > 1_000_000
    assert grown < served / 100, (grown, served)


def test_typeform_responses_only_arrive_and_never_change():
    api = TypeformApi(COMPANY)
    auth = {"Authorization": "Bearer tf-demo-token"}

    def everything() -> dict[str, dict]:
        items = []
        for form in FORMS:
            items += api.handle("GET", f"/forms/{form}/responses", {"page_size": ["1000"]}, auth, b"").body["items"]
        return {r["token"]: r for r in items}

    now = everything()
    api.as_of = LAST_DAY
    yesterday = everything()
    assert yesterday.items() <= now.items()
    assert set(now) - set(yesterday) == {t for t, r in now.items() if r["submitted_at"] >= "2026-03-09T00:00:00Z"}
    assert len(now) > len(yesterday)


def test_a_trustpilot_edit_shows_only_once_it_is_made():
    api = TrustpilotApi(BIGGER)
    edited = [r for r in api.reviews() if r["updatedAt"] and at(r["updatedAt"]) >= LAST_DAY]
    assert edited, "the test company should have reviews edited on its last day"
    api.as_of = LAST_DAY
    earlier = {r["id"]: r for r in api.reviews()}
    for review in edited:
        assert at(review["createdAt"]) >= LAST_DAY - 14 * DAY  # within an edit lookback of its creation
        assert earlier[review["id"]] == {**review, "updatedAt": None,
                                         "companyReply": earlier[review["id"]]["companyReply"]}


def test_the_request_log_keeps_only_the_latest_requests():
    with Simulator(TypeformApi(COMPANY), log_limit=10) as server:
        for number in range(1, 26):
            requests.get(f"{server.base_url}/forms/{FORMS[0]}/responses", params={"page_size": number},
                         headers={"Authorization": "Bearer tf-demo-token"}, timeout=5)
    assert len(server.requests) <= 10
    assert server.requests[-1].query["page_size"] == ["25"]


def test_associations_agree_in_both_directions():
    api = HubSpotApi(COMPANY)

    def links(kind: str, other: str) -> set[tuple[str, str]]:
        return {(record["id"], linked["id"]) for record in listed(api, kind)
                for linked in record.get("associations", {}).get(other, {}).get("results", [])}

    for kind, other in [("contacts", "companies"), ("deals", "companies"), ("deals", "contacts")]:
        forward = links(kind, other)
        assert forward and forward == {(b, a) for a, b in links(other, kind)}, (kind, other)
