"""Incremental nights cost what changed and end where a full refresh does, on every mart.

Five nights on the hand-built shop of test_models: people merge and split, a key crosses the
shared-key cap, an old ticket reopens, an account wins a deal, the newest interaction moves
past the 90-day line, a CRM owner changes, sources delete records and merge two contacts, and a
night brings nothing. After each night the
marts say what the change means; after the last, `dbt build --full-refresh` gives the same
rows on every mart.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest import warehouse
from ingest.streams import tombstone
from tests.shop import (
    MARTS,
    at,
    contact,
    customer_of,
    deal,
    empty_warehouse,
    land,
    land_the_shop,
    metrics,
    response,
    review,
    snapshot,
    ticket,
    zendesk_user,
)
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

# Four holders of one key are still people (Alice's email has four); a fifth makes it a shared line.
VARS = ["--vars", "{identity_key_max_records: 4}"]
SHARED_LINE = "+44 1632 960000"


def dbt(*args: str) -> None:
    run_dbt(*args, *VARS)


def file_record(record_id: str, email: str | None, phone: str, day: int) -> dict:
    return {"_key": f"offline_surveys:{record_id}", "_updated_at": at(day, 14), "_dataset": "offline_surveys",
            "_file": "offline_survey_2.jsonl", "response_id": record_id, "answered_at": at(day, 14), "nps": 8,
            "channel": "in_person", "email": email, "phone": phone}


def resolved_in_last_build(conn) -> set[tuple[str, str]]:
    return set(conn.execute(
        "select source, source_id from intermediate.int_customers_resolved "
        "where resolved_at = (select max(started_at) from audit.dbt_builds)").fetchall())


@pytest.fixture(scope="module")
def conn(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_shop()
    dbt("build")
    with warehouse.connect(warehouse_session, autocommit=True) as db:
        yield db


def test_night_2_merges_splits_reopens_and_re_matches_only_the_people_it_touches(conn):
    alice, bob, carol, dan = (customer_of(conn, *record) for record in
                              [("hubspot", "1"), ("hubspot", "2"), ("trustpilot", "c1"), ("hubspot", "3")])
    # A new help-desk user is Carol by email and Dan by the CRM link: one person now.
    land("zendesk", "users", [zendesk_user(73, "CAROL@example.com", external_id="3")])
    # Bob's help-desk user was Bob by phone only; the number changes, so that user is someone else.
    land("zendesk", "users", [{**zendesk_user(71, None, "+48 999 000 111"), "updated_at": at(6, 9)}])
    # Ticket 1, solved on 03-02, reopens and is solved again on 03-06.
    land("zendesk", "tickets", [{**ticket(1, 70, "email", at(1, 8), "solved"), "updated_at": at(6, 10)}])
    land("zendesk", "ticket_metrics", [metrics(1, 30, at(6, 10), 7200, 1, last_comment=at(6, 10))])
    # Alice's account wins a deal with no contact on it.
    land("hubspot", "deals", [{**deal("d4", "1", 700, "closedwon", at(6, 11), company="900"),
                               "associations": {"companies": {"results": [{"id": "900"}]}}}])
    land("typeform", "responses", [response("r13", at(6, 10), "bob@example.org", nps=10),
                                   response("r14", at(1, 16), nps=0)])
    # Three in-store answers that left only a phone, the same one: one person, as far as anyone can tell.
    land("files", "records", [file_record(f"F-{n}", None, SHARED_LINE, 6) for n in (1, 2, 3)])
    dbt("build")

    assert customer_of(conn, "trustpilot", "c1") == customer_of(conn, "zendesk", "73") == dan
    assert carol != dan and conn.execute("select count(*) from marts.dim_customer where customer_id = %s",
                                         (carol,)).fetchone() == (0,)
    assert customer_of(conn, "zendesk", "71") not in (bob, alice)
    assert customer_of(conn, "typeform", "r13") == bob
    assert len({customer_of(conn, "files", f"offline_surveys:F-{n}") for n in (1, 2, 3)}) == 1
    # Only the records of the people a change touched were matched again.
    assert resolved_in_last_build(conn) == {
        ("zendesk", "73"), ("trustpilot", "c1"), ("typeform", "r2"), ("hubspot", "3"), ("zendesk", "72"),
        ("zendesk", "71"), ("hubspot", "2"), ("files", "offline_surveys:P-1"), ("typeform", "r13"),
        ("typeform", "r14"), ("files", "offline_surveys:F-1"), ("files", "offline_surveys:F-2"),
        ("files", "offline_surveys:F-3"),
    }
    support = dict(((d, c, p, g), (created, solved)) for d, c, p, g, created, solved in conn.execute(
        "select date, channel, priority, group_id, tickets_created, tickets_solved "
        "from marts.kpi_support_daily").fetchall())
    assert support[(date(2026, 3, 2), "email", "none", 0)] == (0, 0)
    assert support[(date(2026, 3, 6), "email", "none", 0)] == (0, 1)
    assert conn.execute("select responses, detractors from marts.kpi_nps_daily "
                        "where date = '2026-03-01' and channel = 'survey'").fetchone() == (4, 1)
    assert conn.execute("select arr_or_deal_value from marts.customer_health where customer_id = %s",
                        (alice,)).fetchone() == (Decimal("1700.00"),)


def test_night_3_a_fifth_holder_unshares_a_line_and_the_90_day_line_moves(conn):
    land("files", "records", [file_record(f"F-{n}", None, SHARED_LINE, 7) for n in (4, 5)])
    # A review a hundred days on: everyone else has been quiet for 90 days now.
    land("trustpilot", "reviews", [{**review("v4", "c9", 5, "en"), "createdAt": "2026-06-20T12:00:00Z"}])
    # Alice's CRM contact changes owner after her alerts were raised: the alerts name the new
    # owner, and stay open (a CRM change is not a follow-up).
    land("hubspot", "contacts", [{**contact("1", " Alice@Example.com ", "+44 20 7946 0001", company="900",
                                            owner="o3"), "updatedAt": "2026-06-21T09:00:00Z"}])
    dbt("build")

    shared = {customer_of(conn, "files", f"offline_surveys:F-{n}") for n in range(1, 6)}
    assert len(shared) == 5
    bob = customer_of(conn, "hubspot", "2")
    assert conn.execute("select risk_reasons from marts.customer_health where customer_id = %s",
                        (bob,)).fetchone() == (["No interaction in the last 90 days"],)
    alice_alerts = conn.execute("select owner, is_open from marts.cx_alerts where customer_id = %s",
                                (customer_of(conn, "hubspot", "1"),)).fetchall()
    assert alice_alerts and set(alice_alerts) == {("o3", True)}


def test_night_4_records_deleted_at_the_source_leave_every_mart_and_merged_contacts_are_one_customer(conn):
    deleted = at(22, 9, month=6)
    land("zendesk", "tickets", [tombstone({"id": 2}, deleted)])           # Alice's open email ticket
    land("trustpilot", "reviews", [tombstone({"id": "v2"}, deleted)])     # 1 star, 03-01, English
    # 03-06's only NPS answer by survey (in-store answers remain); every CES answer, all on 03-04.
    land("typeform", "responses", [tombstone({"token": token}, deleted) for token in ("r13", "s1", "s2", "s3")])
    # Dan's CRM contact is merged into Alice's: HubSpot lists it on the survivor and stops serving it.
    merged = contact("1", " Alice@Example.com ", "+44 20 7946 0001", company="900", owner="o3")
    merged["properties"]["hs_merged_object_ids"] = "3"
    land("hubspot", "contacts", [{**merged, "updatedAt": "2026-06-22T11:00:00Z"}])
    dbt("build")

    assert conn.execute("select source, stream, record_key from staging.stg_cxloop__deleted_records "
                        "order by 1, 3").fetchall() == [
        ("trustpilot", "reviews", "v2"), ("typeform", "responses", "r13"), ("typeform", "responses", "s1"),
        ("typeform", "responses", "s2"), ("typeform", "responses", "s3"), ("zendesk", "tickets", "2")]
    assert conn.execute("select count(*) from staging.stg_zendesk__tickets where ticket_id = 2").fetchone() == (0,)
    assert conn.execute("select touchpoint_id from marts.fct_touchpoints where touchpoint_id in "
                        "('zendesk:support_ticket:2', 'zendesk:support_rating:2', 'trustpilot:review:v2', "
                        "'typeform:nps_survey:r13')").fetchall() == []
    # The deleted ticket was the email channel's only open one and one of 03-01's two.
    email = conn.execute("select date, tickets_created, backlog_open from marts.kpi_support_daily "
                         "where channel = 'email' order by date").fetchall()
    assert email[0] == (date(2026, 3, 1), 1, 1) and email[-1][2] == 0
    assert conn.execute("select language, reviews, stars_total from marts.kpi_reviews_daily "
                        "where date = '2026-03-01' order by language").fetchall() == [("en", 1, 5), ("pl", 1, 4)]
    assert conn.execute("select channel, responses from marts.kpi_nps_daily where date = '2026-03-06'"
                        ).fetchall() == [("in_person", 3)]
    # A day that lost every answer is gone, not left at its old count.
    assert conn.execute("select count(*) from marts.kpi_ces_daily").fetchone() == (0,)
    assert conn.execute("select count(*) from marts.kpi_csat_daily where date = '2026-03-04'").fetchone() == (0,)
    alice = customer_of(conn, "hubspot", "1")
    assert customer_of(conn, "hubspot", "3") == customer_of(conn, "zendesk", "72") == alice


def test_night_5_without_changes_changes_nothing_and_a_full_refresh_agrees_on_every_mart(conn):
    before = snapshot(conn)
    dbt("build")
    assert snapshot(conn) == before
    assert resolved_in_last_build(conn) == set()

    dbt("build", "--full-refresh")
    rebuilt = snapshot(conn)
    assert sorted(rebuilt) == sorted(MARTS)
    for mart in MARTS:
        assert rebuilt[mart] == before[mart], mart
