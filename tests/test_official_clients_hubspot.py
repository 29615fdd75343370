"""The HubSpot simulator read through HubSpot's own Python client, as the live API would be.

The official client sends what HubSpot's API expects (repeated query parameters, typed search
bodies, the v4 batch read) and parses what it answers into its models, so a simulator that is
more lenient than HubSpot, or answers in another shape, fails here before a connector relies on it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import hubspot
import pytest
import requests
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest
from urllib3.util.retry import Retry

from simulators.company import Company
from simulators.hubspot import HubSpotApi
from simulators.server import Simulator

COMPANY = Company(customers=60, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
TOKEN = "hs-official-client-token-4411"
EDITED = COMPANY.end - timedelta(days=1)
ALWAYS = {"hs_object_id", "createdate", "lastmodifieddate"}


@pytest.fixture
def api() -> HubSpotApi:
    return HubSpotApi(COMPANY, token=TOKEN)


@pytest.fixture
def sim(api):
    with Simulator(api) as server:
        yield server


@pytest.fixture
def client(sim) -> hubspot.Client:
    return hubspot.Client.create(access_token=TOKEN, host=sim.base_url)


def search(client: hubspot.Client, kind: str, **request) -> tuple[int, list]:
    """Every page of one search, as (total, records); `after` goes back as the client received it."""
    api = getattr(client.crm, kind).search_api
    records, after, total = [], None, None
    while True:
        page = api.do_search(public_object_search_request=PublicObjectSearchRequest(after=after, **request))
        total = page.total if total is None else total
        records += page.results
        if not page.paging or not page.paging.next:
            return total, records
        after = page.paging.next.after


def where(client: hubspot.Client, kind: str, *filters: dict, **request) -> list[str]:
    """The ids one filter group finds, in the order the search returns them."""
    return [r.id for r in search(client, kind, filter_groups=[{"filters": list(filters)}], limit=200, **request)[1]]


def ids_of(api: HubSpotApi, kind: str, keep) -> list[str]:
    return [i for i, record in api.objects[kind].items() if keep(record["properties"])]


def first_contacts(api: HubSpotApi, count: int) -> list[str]:
    return list(api.objects["contacts"])[:count]


# -- list endpoint ------------------------------------------------------------------------------


def test_list_pages_carry_only_the_asked_properties_and_every_asked_association(api, sim, client):
    contacts, after = [], None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=7, after=after, properties=["email", "lifecyclestage"],
                                                      associations=["companies", "deals"])
        contacts += page.results
        if not page.paging:
            break
        after = page.paging.next.after
    # The client repeats each list parameter rather than joining it with commas.
    assert sim.requests[0].query["properties"] == ["email", "lifecyclestage"]
    assert sim.requests[0].query["associations"] == ["companies", "deals"]
    assert [c.id for c in contacts] == list(api.objects["contacts"])
    for contact in contacts:
        truth = api.objects["contacts"][contact.id]["properties"]
        assert contact.properties == {name: truth[name] for name in ALWAYS | {"email", "lifecyclestage"}}
        assert [a.id for a in contact.associations["companies"].results] == [truth_company(api, contact.id)]
    deals = client.crm.deals.basic_api.get_page(limit=100, associations=["contacts"]).results
    deals_by_contact: dict[str, list[str]] = {}
    for deal in deals:
        deals_by_contact.setdefault(deal.associations["contacts"].results[0].id, []).append(deal.id)
    assert deals_by_contact
    assert {c.id: sorted(a.id for a in c.associations["deals"].results)
            for c in contacts if c.associations and "deals" in c.associations} == \
        {contact: sorted(found) for contact, found in deals_by_contact.items()}


def truth_company(api: HubSpotApi, contact_id: str) -> str:
    """The contact's company, read from the other side: the company whose members include it."""
    body = api.handle("GET", "/crm/v3/objects/companies", {"limit": ["100"], "associations": ["contacts"]},
                      {"Authorization": f"Bearer {TOKEN}"}, b"").body
    return next(c["id"] for c in body["results"]
                if contact_id in [a["id"] for a in c.get("associations", {}).get("contacts", {}).get("results", [])])


def test_a_list_read_without_properties_returns_the_objects_default_set(client):
    deal = client.crm.deals.basic_api.get_page(limit=1).results[0]
    assert set(deal.properties) == {"amount", "closedate", "createdate", "dealname", "dealstage",
                                    "hs_lastmodifieddate", "hs_object_id", "pipeline"}


def test_comma_separated_and_repeated_list_parameters_read_the_same(sim, client):
    by_client = client.crm.deals.basic_api.get_page(limit=5, properties=["dealname", "amount"],
                                                    associations=["companies", "contacts"])
    by_commas = requests.get(f"{sim.base_url}/crm/v3/objects/deals", timeout=5, headers={
        "Authorization": f"Bearer {TOKEN}"}, params={"limit": 5, "properties": "dealname,amount",
                                                     "associations": "companies,contacts"}).json()
    assert [r.to_dict()["properties"] for r in by_client.results] == [r["properties"] for r in by_commas["results"]]
    assert [{k: [a.id for a in v.results] for k, v in r.associations.items()} for r in by_client.results] == \
        [{k: [a["id"] for a in v["results"]] for k, v in r["associations"].items()} for r in by_commas["results"]]
    assert all(set(r["associations"]) == {"companies", "contacts"} for r in by_commas["results"])


def test_a_property_the_portal_has_but_the_record_lacks_comes_back_null_and_an_unknown_one_not_at_all(client):
    company = client.crm.companies.basic_api.get_page(limit=1, properties=["country", "no_such_property"]).results[0]
    assert company.properties == {"country": None, "createdate": company.properties["createdate"],
                                  "hs_lastmodifieddate": company.properties["hs_lastmodifieddate"],
                                  "hs_object_id": company.id}


# -- search: filters ----------------------------------------------------------------------------


def test_search_returns_only_the_asked_properties_plus_the_three_hubspot_always_adds(api, client):
    total, contacts = search(client, "contacts", properties=["firstname"], limit=3)
    # Every live contact (search never finds the archived ones).
    assert total == len(api.objects["contacts"]) and contacts
    assert all(set(c.properties) == ALWAYS | {"firstname"} for c in contacts)
    _, defaults = search(client, "contacts", limit=3)
    assert all(set(c.properties) == {"createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                                     "lastname"} for c in defaults)


def test_hs_object_id_compares_as_a_number_not_as_text(api, client):
    everyone = list(api.objects["contacts"])  # ids 1001..1060: as text "1001" < "999" and "1060" < "200"
    assert sorted(where(client, "contacts", {"propertyName": "hs_object_id", "operator": "GT", "value": "999"}),
                  key=int) == everyone
    assert where(client, "contacts", {"propertyName": "hs_object_id", "operator": "LT", "value": "200"}) == []
    assert where(client, "contacts", {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "1008",
                                      "highValue": "1011"}, sorts=[{"propertyName": "hs_object_id"}]) == \
        ["1008", "1009", "1010", "1011"]


def test_in_and_not_in_match_a_string_property_only_through_lowercase_values(api, client):
    one, two = first_contacts(api, 2)
    api.touch("contacts", one, EDITED, lastname="Zephyrson")
    api.touch("contacts", two, EDITED, lastname="Quillfeather")
    found = where(client, "contacts", {"propertyName": "lastname", "operator": "IN",
                                       "values": ["zephyrson", "quillfeather"]})
    assert sorted(found) == sorted([one, two])
    assert where(client, "contacts", {"propertyName": "lastname", "operator": "IN", "values": ["Zephyrson"]}) == []
    rest = where(client, "contacts", {"propertyName": "lastname", "operator": "NOT_IN",
                                      "values": ["zephyrson", "quillfeather"]})
    assert sorted(rest) == sorted(set(api.objects["contacts"]) - {one, two})


def test_eq_ignores_case_on_text_but_not_on_an_enumeration(api, client):
    one, two, three = first_contacts(api, 3)
    api.touch("contacts", one, EDITED, lifecyclestage="evangelist", firstname="Orla")
    api.touch("contacts", two, EDITED, lifecyclestage="evangelist")
    api.touch("contacts", three, EDITED, firstname="ORLA")
    assert sorted(where(client, "contacts", {"propertyName": "lifecyclestage", "operator": "EQ",
                                             "value": "evangelist"})) == sorted([one, two])
    assert where(client, "contacts", {"propertyName": "lifecyclestage", "operator": "EQ",
                                      "value": "Evangelist"}) == []
    assert sorted(where(client, "contacts", {"propertyName": "firstname", "operator": "EQ", "value": "orla"})) == \
        sorted([one, three])
    others = where(client, "contacts", {"propertyName": "lifecyclestage", "operator": "NEQ", "value": "evangelist"})
    assert sorted(others) == sorted(set(api.objects["contacts"]) - {one, two})


def test_has_property_and_not_has_property_split_records_on_whether_a_value_is_set(api, client):
    one, two = first_contacts(api, 2)
    api.touch("contacts", one, EDITED, phone="")
    api.touch("contacts", two, EDITED, phone="")
    without = where(client, "contacts", {"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"})
    assert sorted(without) == sorted(ids_of(api, "contacts", lambda p: not p.get("phone")))
    assert {one, two} <= set(without)
    with_phone = where(client, "contacts", {"propertyName": "phone", "operator": "HAS_PROPERTY"})
    assert sorted(with_phone) == sorted(set(api.objects["contacts"]) - set(without))


def test_contains_token_matches_a_wildcard_and_not_contains_token_the_rest(api, client):
    one, two = first_contacts(api, 2)
    api.touch("contacts", one, EDITED, email="ana@cxloop-test.io")
    api.touch("contacts", two, EDITED, email="bo.lind@cxloop-test.io")
    found = where(client, "contacts", {"propertyName": "email", "operator": "CONTAINS_TOKEN",
                                       "value": "*@cxloop-test.io"})
    assert sorted(found) == sorted([one, two])
    assert where(client, "contacts", {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "lind"}) == [two]
    rest = where(client, "contacts", {"propertyName": "email", "operator": "NOT_CONTAINS_TOKEN",
                                      "value": "*@cxloop-test.io"})
    assert sorted(rest) == sorted(set(api.objects["contacts"]) - {one, two})


def test_a_number_property_compares_as_a_number(api, client):
    found = where(client, "deals", {"propertyName": "amount", "operator": "GTE", "value": "5000"},
                  {"propertyName": "amount", "operator": "LT", "value": "20000"})
    expected = ids_of(api, "deals", lambda p: 5000 <= float(p["amount"]) < 20000)
    assert expected and sorted(found) == sorted(expected)


def test_filter_groups_are_or_ed_and_filters_inside_one_are_and_ed(api, client):
    one, two, three = first_contacts(api, 3)
    api.touch("contacts", one, EDITED, lifecyclestage="evangelist")
    total, found = search(client, "contacts", limit=200, filter_groups=[
        {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "evangelist"}]},
        {"filters": [{"propertyName": "hs_object_id", "operator": "IN", "values": [two, three]},
                     {"propertyName": "hs_object_id", "operator": "NEQ", "value": three}]}])
    assert total == 2 and sorted(r.id for r in found) == sorted([one, two])


def test_a_modified_date_window_in_epoch_milliseconds_finds_what_was_edited_in_it(api, client):
    one = first_contacts(api, 1)[0]
    api.touch("contacts", one, EDITED, lifecyclestage="evangelist")
    start, end = int(EDITED.timestamp() * 1000), int((EDITED + timedelta(seconds=1)).timestamp() * 1000)
    assert where(client, "contacts", {"propertyName": "lastmodifieddate", "operator": "BETWEEN",
                                      "value": str(start), "highValue": str(end - 1)}) == [one]


def test_an_unknown_operator_is_a_400_with_hubspots_error_body(client):
    with pytest.raises(ApiException) as refused:
        # A plain body: the client's own models would refuse the operator before sending it.
        client.crm.contacts.search_api.do_search(public_object_search_request={"filterGroups": [{"filters": [
            {"propertyName": "email", "operator": "STARTS_WITH", "value": "ana"}]}]})
    assert refused.value.status == 400
    body = json.loads(refused.value.body)
    assert set(body) == {"status", "message", "correlationId", "category"}
    assert (body["status"], body["category"]) == ("error", "VALIDATION_ERROR")
    assert '"STARTS_WITH"' in body["message"] and "NOT_CONTAINS_TOKEN" in body["message"]


def test_more_filters_than_hubspot_allows_is_a_validation_error(client):
    filters = [{"propertyName": "hs_object_id", "operator": "GT", "value": str(n)} for n in range(7)]
    with pytest.raises(ApiException) as refused:
        search(client, "contacts", filter_groups=[{"filters": filters}])
    assert refused.value.status == 400 and json.loads(refused.value.body)["category"] == "VALIDATION_ERROR"


# -- search: order and paging -------------------------------------------------------------------


def test_search_pages_in_the_requested_sort_order_past_the_first_page(api, client):
    total, found = search(client, "contacts", limit=7, sorts=[{"propertyName": "createdate",
                                                                "direction": "DESCENDING"}])
    created = {i: r["createdAt"] for i, r in api.objects["contacts"].items()}
    assert total == len(found) == len(created)
    assert [r.id for r in found] == sorted(created, key=lambda i: (-datetime.fromisoformat(created[i]).timestamp(),
                                                                   int(i)))


def test_search_sorts_on_a_text_property_ignoring_case_with_ties_in_id_order(api, client):
    total, found = search(client, "contacts", limit=9, properties=["lastname"],
                          sorts=[{"propertyName": "lastname", "direction": "ASCENDING"}])
    lastnames = {i: r["properties"]["lastname"] for i, r in api.objects["contacts"].items()}
    assert [r.id for r in found] == sorted(lastnames, key=lambda i: (lastnames[i].casefold(), int(i)))
    assert [r.properties["lastname"] for r in found] == sorted(lastnames.values(), key=str.casefold)


def test_search_without_a_sort_returns_the_oldest_created_first(api, client):
    _, found = search(client, "deals", limit=50)
    created = {i: r["createdAt"] for i, r in api.objects["deals"].items()}
    assert [r.id for r in found] == sorted(created, key=lambda i: (created[i], int(i)))


def test_search_refuses_more_than_one_sorting_rule(client):
    with pytest.raises(ApiException) as refused:
        search(client, "contacts", sorts=[{"propertyName": "createdate"}, {"propertyName": "hs_object_id"}])
    assert refused.value.status == 400


# -- v4 associations ----------------------------------------------------------------------------


def test_the_v4_batch_read_pages_each_records_associations(api, client):
    api.association_page_size = 2
    companies = client.crm.companies.basic_api.get_page(limit=100, associations=["contacts"]).results
    members = {c.id: [a.id for a in c.associations["contacts"].results] for c in companies if c.associations}
    assert any(len(m) > 2 for m in members.values())
    read: dict[str, list[str]] = {}
    inputs = [PublicFetchAssociationsBatchRequest(id=i) for i in members]
    rounds = 0
    while inputs:
        rounds += 1
        body = client.crm.associations.v4.batch_api.get_page(
            "companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=inputs))
        assert body.status == "COMPLETE"
        inputs = []
        for result in body.results:
            read.setdefault(result._from.id, []).extend(to.to_object_id for to in result.to)
            assert len(result.to) <= 2
            if result.paging:
                inputs.append(PublicFetchAssociationsBatchRequest(id=result._from.id, after=result.paging.next.after))
    assert read == members
    assert rounds == -(-max(len(m) for m in members.values()) // 2)


def test_the_v4_batch_read_names_hubspots_association_type(client):
    request = BatchInputPublicFetchAssociationsBatchRequest(inputs=[PublicFetchAssociationsBatchRequest(id="5000000")])
    body = client.crm.associations.v4.batch_api.get_page("deals", "contacts", request)
    kinds = {(t.category, t.type_id) for r in body.results for to in r.to for t in to.association_types}
    assert kinds == {("HUBSPOT_DEFINED", 3)}


# -- rate limits --------------------------------------------------------------------------------


def first_page(client: hubspot.Client) -> list:
    return client.crm.contacts.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
        limit=1)).results


def test_a_secondly_limit_reaches_the_client_as_a_429_with_hubspots_body(api, client):
    api.secondly_limit = 1
    first_page(client)
    with pytest.raises(ApiException) as refused:
        first_page(client)
    assert refused.value.status == 429
    body = json.loads(refused.value.body)
    assert (body["status"], body["category"], body["errorType"], body["policyName"]) == \
        ("error", "RATE_LIMITS", "RATE_LIMIT", "SECONDLY")
    assert body["correlationId"] and refused.value.headers["X-HubSpot-RateLimit-Secondly-Remaining"] == "0"


def test_the_clients_retry_setting_rides_out_a_secondly_limit(api, sim):
    api.secondly_limit = 1
    # Search is a POST, which urllib3 does not retry unless told to.
    retry = Retry(total=4, status_forcelist=[429], allowed_methods=None, backoff_factor=0.6,
                  respect_retry_after_header=True)
    client = hubspot.Client.create(access_token=TOKEN, host=sim.base_url, retry=retry)
    first, second = first_page(client), first_page(client)
    assert first[0].id == second[0].id
    statuses = [r.status for r in sim.requests]
    assert statuses[0] == 200 and statuses[-1] == 200 and 429 in statuses
