"""Deal pipelines, owners, line items and products: from the API to won revenue, owners and wallets.

The connector half runs against the simulator; the model half on a hand-built CRM whose only
pipeline is one the portal added, so its stage ids are numbers and no stage is `closedwon`.
Two nights: the first checks the marts to the cent, the second edits a stage's probability and
renames an owner, and a full refresh must then agree with what the night built.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from expectations import gate
from ingest import hubspot, runner, warehouse
from ingest.connections import get_connection
from ingest.streams import Window
from simulators.company import Company
from simulators.hubspot import PIPELINES, HubSpotApi
from tests.shop import (
    at,
    contact,
    customer_of,
    deal,
    empty_warehouse,
    land,
    line_item,
    owner,
    pipeline,
    product,
    response,
    serving_hubspot,
)
from tests.shop import dbt as run_dbt

COMPANY = Company(customers=60, end=datetime(2026, 3, 10, tzinfo=UTC), days=30)
TOKEN = "hs-test-token-4321"
NEW_STREAMS = ["deal_pipelines", "owners", "line_items", "products"]

# The portal's own pipeline: numeric ids, one closed stage whose probability is not yet set right.
CUSTOM = "81234567"
OPEN, SIGNED, LOST, PENDING = "1001", "1002", "1003", "1004"


def custom_pipeline(pending_probability: str, updated: str | None = None) -> dict:
    return pipeline(CUSTOM, [(OPEN, False, "0.3"), (SIGNED, True, "1.0"), (LOST, True, "0.0"),
                             (PENDING, True, pending_probability)], updated)


# -- the connector against the simulator ---------------------------------------------------------

@pytest.fixture
def api():
    return HubSpotApi(COMPANY, token=TOKEN)


@pytest.fixture
def sim(api, monkeypatch):
    with serving_hubspot(api, TOKEN, monkeypatch) as server:
        yield server


def run(name: str, start: datetime | None, end: datetime = COMPANY.end):
    source = hubspot.from_connection(get_connection("cxloop_hubspot"))
    stream = next(s for s in hubspot.STREAMS if s.name == name)
    return runner.run_stream(source, stream, Window(start, end))


def raw(db, stream: str) -> dict[str, dict]:
    return {key: record for key, record in db.execute(f"select record_key, record from raw.hubspot_{stream}")}


def test_the_new_streams_come_after_the_old_ones_in_the_catalogue_and_the_connector():
    assert tuple(s.name for s in hubspot.STREAMS) == (
        "contacts", "companies", "deals", "deal_pipelines", "owners", "line_items", "products")
    assert tuple(s.name for s in runner.streams_of("hubspot")) == tuple(s.name for s in hubspot.STREAMS)


def test_pipelines_and_owners_land_whole_and_a_rerun_lands_nothing(db, api, sim):
    assert run("deal_pipelines", None).landed == len(PIPELINES)
    assert run("owners", None).landed == len(api.owners)
    pipelines = raw(db, "deal_pipelines")
    assert pipelines["34567891"]["stages"][2]["metadata"] == {
        "isClosed": "true", "probability": "1.0"}
    assert {r["firstName"] for r in raw(db, "owners").values()} == {"Ana", "Tomasz", "Grace", "Liam"}
    # Neither endpoint filters on a date: an incremental window reads them whole, and nothing moved.
    for stream in ("deal_pipelines", "owners"):
        again = run(stream, COMPANY.end - timedelta(days=1))
        assert again.fetched > 0 and again.inserted == again.updated == 0
    assert [r.path for r in sim.requests if "owners" in r.path] == ["/crm/v3/owners"] * 2
    assert all(r.query.get("limit") == ["500"] for r in sim.requests if "owners" in r.path)


def test_a_stage_edited_without_touching_its_pipeline_relands_the_pipeline(db, api, sim):
    run("deal_pipelines", None)
    stage = api.pipelines[0]["stages"][1]
    stage["metadata"]["probability"], stage["updatedAt"] = "0.5", "2026-03-09T10:00:00Z"
    result = run("deal_pipelines", COMPANY.end - timedelta(days=1))
    assert (result.inserted, result.updated) == (0, 1)
    assert raw(db, "deal_pipelines")["default"]["stages"][1]["metadata"]["probability"] == "0.5"


def test_line_items_carry_their_deal_whether_listed_or_searched_and_products_their_category(db, api, sim):
    run("line_items", None)
    listed = raw(db, "line_items")
    assert set(listed) == set(api.objects["line_items"])
    db.execute("truncate raw.hubspot_line_items")
    run("line_items", COMPANY.start - timedelta(days=1))
    assert raw(db, "line_items") == listed
    per_deal: dict[str, list[dict]] = {}
    for record in listed.values():
        per_deal.setdefault(record["associations"]["deals"]["results"][0]["id"], []).append(record)
    deals = api.objects["deals"]
    assert set(per_deal) == set(deals)
    for deal_id, items in per_deal.items():
        assert 1 <= len(items) <= 3
        assert sum(int(i["properties"]["amount"]) for i in items) == int(deals[deal_id]["properties"]["amount"])
    run("products", None)
    categories = {r["properties"]["product_category"] for r in raw(db, "products").values()}
    assert categories == {"software", "services", "support", "hardware"}
    assert {i["properties"]["hs_product_id"] for i in listed.values()} <= set(raw(db, "products"))


def test_the_simulated_company_wins_deals_in_its_numeric_pipeline_and_in_the_default_one(db, api, sim):
    for stream in ("deals", *NEW_STREAMS):
        # The simulated records pass their stream's suite: the demo's gate lets them through.
        assert gate.validate_batch(run(stream, None).batch_id).outcome == "passed", stream
    run_dbt("run", "--select", "stg_hubspot__deal_stages", "stg_hubspot__deals")
    won = dict(db.execute("select pipeline, sum(amount) from staging.stg_hubspot__deals where is_won "
                          "group by pipeline").fetchall())
    assert set(won) == {"default", "34567891"} and all(amount > 0 for amount in won.values())
    assert db.execute("select count(*) from staging.stg_hubspot__deals where stage_outcome is null").fetchone() == (0,)


# -- the models on a hand-built CRM --------------------------------------------------------------

def land_the_crm() -> None:
    """Alice and Dan work at two large accounts, Bob buys alone; every deal is in the custom pipeline."""
    land("hubspot", "deal_pipelines", [custom_pipeline("0.5")])
    land("hubspot", "owners", [owner("o1", "Ana", "Ruiz", "Ana.Ruiz@Example.com"),
                               owner("o2", "Tomasz", "Nowak", "tomasz.nowak@example.com")])
    land("hubspot", "contacts", [contact("1", "alice@example.com", company="900", owner="o1"),
                                 contact("2", "bob@example.org", owner="o2"),
                                 contact("3", "dan@example.net", company="901", owner="o1")])
    land("hubspot", "companies", [
        {"id": company_id, "createdAt": at(1, 9, month=2), "updatedAt": at(1, 9, month=2),
         "properties": {"name": name, "annualrevenue": "30000000"}}
        for company_id, name in (("900", "Acme Ltd"), ("901", "Bolt plc"))])
    land("hubspot", "deals", [
        deal("d1", "1", 1000, SIGNED, at(1, 10), company="900", pipeline=CUSTOM),
        deal("d2", "2", 500, SIGNED, at(2, 10), pipeline=CUSTOM),
        deal("d3", "3", 300, LOST, at(2, 11), company="901", pipeline=CUSTOM),
        deal("d4", "3", 400, SIGNED, at(3, 11), company="901", pipeline=CUSTOM),
        deal("d5", "1", 250, OPEN, at(3, 12), company="900", pipeline=CUSTOM),
        deal("d6", "2", 200, PENDING, at(4, 10), pipeline=CUSTOM),
    ])
    land("hubspot", "products", [product("p1", "Core licence", "Software"), product("p2", "Onboarding", "services"),
                                 product("p3", "Premium support", "support")])
    land("hubspot", "line_items", [line_item("li1", "d1", 600, "p1"), line_item("li2", "d1", 400, "p2"),
                                   line_item("li3", "d2", 500, "p1"), line_item("li4", "d3", 300, "p3")])
    # Alice is a detractor: an alert her owner must follow up.
    land("typeform", "responses", [response("r1", at(5, 10), "alice@example.com", nps=2)])


@pytest.fixture(scope="module")
def crm(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_crm()
    run_dbt("build")
    with warehouse.connect(warehouse_session, autocommit=True) as db:
        yield db


def arr(db, contact_id: str) -> Decimal:
    return db.execute("select arr_or_deal_value from marts.customer_health where customer_id = %s",
                      (customer_of(db, "hubspot", contact_id),)).fetchone()[0]


def owner_of(db, contact_id: str) -> tuple:
    return db.execute("select owner_id, owner_name, owner_email from marts.dim_customer where customer_id = %s",
                      (customer_of(db, "hubspot", contact_id),)).fetchone()


def wallet(db) -> list[tuple]:
    names = {customer_of(db, "hubspot", c): name for c, name in (("1", "alice"), ("2", "bob"), ("3", "dan"))}
    rows = db.execute("select customer_id, product_category, segment, won_amount, share_of_wallet, "
                      "segment_buyer_share, is_cross_sell_gap from marts.customer_wallet").fetchall()
    return sorted((names[customer], *rest) for customer, *rest in rows)


def test_night_1_a_pipeline_of_numeric_stage_ids_wins_by_its_stage_metadata(crm):
    outcomes = dict(crm.execute("select deal_id, stage_outcome from staging.stg_hubspot__deals").fetchall())
    assert outcomes == {"d1": "won", "d2": "won", "d3": "lost", "d4": "won", "d5": "open", "d6": "closed_unknown"}
    assert (arr(crm, "1"), arr(crm, "2"), arr(crm, "3")) == (Decimal("1000.00"), Decimal("500.00"),
                                                              Decimal("400.00"))
    assert crm.execute("select month, sum(won_deal_amount) from marts.cx_revenue_monthly "
                       "where won_deal_amount > 0 group by month").fetchall() == [
        (datetime(2026, 3, 1).date(), Decimal("1900.00"))]
    # A closed stage that is neither won nor lost closes its deal without a win (d3 and d6).
    assert crm.execute("select touchpoint_type, count(*) from marts.fct_touchpoints "
                       "where touchpoint_type in ('deal_won', 'deal_lost') group by 1 order by 1").fetchall() == [
        ("deal_lost", 2), ("deal_won", 3)]


def test_night_1_owners_names_reach_dim_customer_and_the_alerts(crm):
    assert owner_of(crm, "1") == owner_of(crm, "3") == ("o1", "Ana Ruiz", "ana.ruiz@example.com")
    assert owner_of(crm, "2") == ("o2", "Tomasz Nowak", "tomasz.nowak@example.com")
    assert crm.execute("select owner, owner_name, owner_email from marts.cx_alerts").fetchall() == [
        ("o1", "Ana Ruiz", "ana.ruiz@example.com")]


def test_night_1_the_wallet_splits_won_line_items_by_category_and_names_the_segments_gaps(crm):
    no, yes = False, True
    assert wallet(crm) == [
        # Alice and Dan are enterprise: of the two, one bought software, one services, one a deal
        # without line items. Alice's lost deal (Dan's, d3) and open deal count for nothing.
        ("alice", "services", "enterprise", Decimal("400.00"), Decimal("0.4000"), Decimal("0.5000"), no),
        ("alice", "software", "enterprise", Decimal("600.00"), Decimal("0.6000"), Decimal("0.5000"), no),
        ("alice", "support", "enterprise", Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000"), no),
        ("alice", "uncategorised", "enterprise", Decimal("0.00"), Decimal("0.0000"), Decimal("0.5000"), no),
        ("bob", "services", "no_account", Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000"), no),
        ("bob", "software", "no_account", Decimal("500.00"), Decimal("1.0000"), Decimal("1.0000"), no),
        ("bob", "support", "no_account", Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000"), no),
        ("bob", "uncategorised", "no_account", Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000"), no),
        ("dan", "services", "enterprise", Decimal("0.00"), Decimal("0.0000"), Decimal("0.5000"), yes),
        ("dan", "software", "enterprise", Decimal("0.00"), Decimal("0.0000"), Decimal("0.5000"), yes),
        ("dan", "support", "enterprise", Decimal("0.00"), Decimal("0.0000"), Decimal("0.0000"), no),
        ("dan", "uncategorised", "enterprise", Decimal("400.00"), Decimal("1.0000"), Decimal("0.5000"), no),
    ]
    # A customer's wallet adds up to the revenue customer_health puts behind them.
    assert crm.execute("select count(*) from marts.customer_health as health inner join ("
                       " select customer_id, sum(won_amount) as won from marts.customer_wallet group by 1) as w"
                       " using (customer_id) where health.arr_or_deal_value <> w.won").fetchone() == (0,)


MODELS = ["staging.stg_hubspot__deal_stages", "staging.stg_hubspot__deals", "marts.dim_customer",
          "marts.cx_alerts", "marts.customer_health", "marts.customer_wallet", "marts.fct_touchpoints"]


def test_night_2_a_stage_made_won_and_a_renamed_owner_reach_the_marts_as_a_full_refresh_does(crm):
    # The admin sets the pending stage's probability to 1: Bob's deal d6 is won now, untouched.
    land("hubspot", "deal_pipelines", [custom_pipeline("1.0", updated=at(6, 9))])
    land("hubspot", "owners", [owner("o1", "Ana", "Ruiz-Lopez", "ana.ruiz-lopez@example.com", updated=at(6, 9))])
    run_dbt("build")

    assert crm.execute("select stage_outcome, is_won from staging.stg_hubspot__deals "
                       "where deal_id = 'd6'").fetchone() == ("won", True)
    assert arr(crm, "2") == Decimal("700.00")
    assert owner_of(crm, "3") == ("o1", "Ana Ruiz-Lopez", "ana.ruiz-lopez@example.com")
    assert crm.execute("select owner_name from marts.cx_alerts").fetchall() == [("Ana Ruiz-Lopez",)]
    assert ("bob", "uncategorised", "no_account", Decimal("200.00"), Decimal("0.2857"), Decimal("1.0000"),
            False) in wallet(crm)

    night = {model: sorted(crm.execute(f"select * from {model}").fetchall(), key=repr) for model in MODELS}
    run_dbt("build", "--full-refresh")
    for model in MODELS:
        assert sorted(crm.execute(f"select * from {model}").fetchall(), key=repr) == night[model], model
