"""Identity resolution people can trust: no merge on a shared phone, overrides, stable ids, a report.

A hand-built shop over two nights. Night 1: Ann and Ben share a landline; Cara has one email in
the CRM and another at the help desk, linked by her contact id; a survey answered from Ann's
address; an anonymous survey and a help-desk user with no keys; Dan as a survey (dan@x) and as a
help-desk user (dan.d@y), not yet linked. Night 2: Dan's CRM contact arrives and links both; an
analyst splits the survey from Ann and merges the anonymous survey with the help-desk user.
"""

from __future__ import annotations

import pytest

from ingest import warehouse
from tests.shop import MARTS, at, contact, customer_of, dbt, land, response, snapshot, zendesk_user

pytestmark = pytest.mark.integration

LANDLINE = "+44 20 7946 1000"


def resolution(conn, source: str, source_id: str) -> tuple[str, bool, bool]:
    return conn.execute("select matched_on, held_apart, detached from intermediate.int_customers_resolved "
                        "where source = %s and source_id = %s", (source, source_id)).fetchone()


def quality(conn) -> dict[tuple[str, str], int]:
    return {(metric, detail): value for metric, detail, value in
            conn.execute("select metric, detail, value from marts.identity_quality").fetchall()}


def created(record: dict, day: int) -> dict:
    """The record as first seen on March `day` (identity anchors a customer on its earliest record)."""
    stamp = at(day, 9)
    if "properties" in record:
        return {**record, "createdAt": stamp, "updatedAt": stamp}
    return {**record, "created_at": stamp, "updated_at": stamp}


@pytest.fixture(scope="module")
def night_1(warehouse_session):
    with warehouse.connect(warehouse_session, autocommit=True) as conn:
        for schema in warehouse.SCHEMAS:
            conn.execute(f'drop schema if exists "{schema}" cascade')
        land("hubspot", "contacts", [
            created(contact("h1", "ann@home.example", LANDLINE), 1),
            created(contact("h2", "ben@home.example", LANDLINE), 2),
            created(contact("c5", "cara@work.example"), 3),
        ])
        land("zendesk", "users", [
            created(zendesk_user(500, "cara.personal@mail.example", external_id="c5"), 4),
            created(zendesk_user(501, None), 5),
            created(zendesk_user(502, "dan.d@y.example"), 7),
        ])
        land("typeform", "responses", [
            response("t-shared", at(6, 10), "Ann@Home.example", nps=3),
            response("t-anon", at(6, 11), nps=10),
            response("t-dan", at(6, 12), "dan@x.example", nps=9),
        ])
        dbt("build")
        state = {record: customer_of(conn, *record) for record in [
            ("hubspot", "h1"), ("typeform", "t-shared"), ("zendesk", "502"), ("typeform", "t-dan"),
            ("typeform", "t-anon")]}
        yield conn, state


@pytest.fixture(scope="module")
def night_2(night_1):
    conn, before = night_1
    # Dan's CRM contact: dan@x like his survey, and the help-desk user now carries its id.
    land("hubspot", "contacts", [created(contact("c7", "dan@x.example"), 8)])
    land("zendesk", "users", [{**created(zendesk_user(502, "dan.d@y.example", external_id="c7"), 7),
                               "updated_at": at(8, 10)}])
    # As an analyst edits seeds/identity_overrides.csv and reseeds: the seeded table itself.
    conn.execute("""insert into staging.identity_overrides values
        ('split', 'hubspot', 'h1', 'typeform', 't-shared', 'a colleague answered from Ann''s address'),
        ('merge', 'zendesk', '501', 'typeform', 't-anon', 'the agent confirmed it by phone')""")
    dbt("build", "--exclude", "resource_type:seed")
    return conn, before


def test_two_people_with_different_emails_and_one_phone_stay_two_customers(night_1):
    conn, _ = night_1
    ann, ben = customer_of(conn, "hubspot", "h1"), customer_of(conn, "hubspot", "h2")
    assert ann != ben
    assert resolution(conn, "hubspot", "h2") == ("unmatched", True, False)
    emails = dict(conn.execute("select customer_id, email from marts.dim_customer where customer_id in (%s, %s)",
                               (ann, ben)).fetchall())
    assert emails == {ann: "ann@home.example", ben: "ben@home.example"}


def test_one_person_with_two_emails_linked_by_the_help_desks_external_id_is_one_customer(night_1):
    conn, _ = night_1
    assert customer_of(conn, "zendesk", "500") == customer_of(conn, "hubspot", "c5")
    assert resolution(conn, "zendesk", "500") == ("crm_link", False, False)


def test_the_quality_report_shows_who_was_held_apart_and_how_records_matched(night_1):
    conn, _ = night_1
    report = quality(conn)
    assert report[("customers", "all")] == 7
    assert report[("records", "all")] == 9
    assert report[("held_apart_customers", "all")] == 2  # Ann (her contact and her survey) and Ben
    assert report[("held_apart_records", "all")] == 3
    assert {detail: value for (metric, detail), value in report.items() if metric == "records_matched_on"} == {
        "email": 2, "crm_link": 2, "unmatched": 5}
    assert {detail: value for (metric, detail), value in report.items() if metric == "customers_by_records"} == {
        "1": 5, "2-3": 2}


def test_the_demo_prints_the_reports_headline(night_1):
    from scripts.summary import identity_lines

    conn, _ = night_1
    assert identity_lines(conn) == [
        "7 customers from 9 records; matched on email 2, crm_link 2, phone 0, manual 0, unmatched 5",
        "held apart (a shared phone, different emails): 2 customers, 3 records",
        "keys shared past the cap: phone 0, email 0, crm_link 0 (0 records)",
        "overrides applied: merge 0, split 0; naming no record: 0",
    ]


def test_a_manual_split_separates_a_wrong_automatic_match(night_1, night_2):
    conn, before = night_2
    assert before[("typeform", "t-shared")] == before[("hubspot", "h1")]
    assert customer_of(conn, "typeform", "t-shared") != customer_of(conn, "hubspot", "h1")
    assert customer_of(conn, "hubspot", "h1") == before[("hubspot", "h1")]  # Ann keeps her id
    assert resolution(conn, "typeform", "t-shared") == ("unmatched", False, True)


def test_a_manual_merge_joins_two_records_with_no_shared_key(night_2):
    conn, _ = night_2
    assert customer_of(conn, "zendesk", "501") == customer_of(conn, "typeform", "t-anon")
    assert resolution(conn, "typeform", "t-anon")[0] == "manual"
    assert quality(conn)[("overrides_applied", "merge")] == 1
    assert quality(conn)[("overrides_applied", "split")] == 1


def test_a_merge_of_two_customers_keeps_the_earlier_id_and_records_the_other(night_2):
    conn, before = night_2
    dan = customer_of(conn, "typeform", "t-dan")
    assert dan == before[("typeform", "t-dan")]  # his survey (03-06) is his earliest record
    assert customer_of(conn, "zendesk", "502") == customer_of(conn, "hubspot", "c7") == dan
    history = set(conn.execute("select old_customer_id, current_customer_id, why, records_moved "
                               "from marts.customer_id_history").fetchall())
    assert history == {
        (before[("zendesk", "502")], dan, "merged", 1),
        (before[("hubspot", "h1")], customer_of(conn, "typeform", "t-shared"), "split", 1),
        # The anonymous survey joined the help-desk user, whose record is older.
        (before[("typeform", "t-anon")], customer_of(conn, "zendesk", "501"), "merged", 1),
    }
    # A BI join on the help-desk user's old id still finds Dan.
    assert conn.execute("select count(*) from marts.dim_customer where customer_id = %s",
                        (before[("zendesk", "502")],)).fetchone() == (0,)


def test_the_next_full_refresh_gives_the_same_marts_and_keeps_the_history(night_2):
    conn, _ = night_2
    incremental = snapshot(conn)
    history = conn.execute("select * from marts.customer_id_history").fetchall()
    dbt("build", "--full-refresh", "--exclude", "resource_type:seed")
    rebuilt = snapshot(conn)
    for mart in MARTS:
        assert rebuilt[mart] == incremental[mart], mart
    assert conn.execute("select * from marts.customer_id_history").fetchall() == history
