"""The marts on a small hand-built dataset: every KPI against a value worked out by hand here.

The records are landed through the real loader, shaped as each API returns them, then
`dbt build` runs (models and their tests) against the test session's warehouse.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

import pytest

from ingest import runner, warehouse
from tests.shop import (
    HISTORY_MARTS,
    MARTS,
    at,
    customer_of,
    dbt,
    deal,
    empty_warehouse,
    land,
    land_the_shop,
    metrics,
    response,
    snapshot,
    ticket,
    zendesk_user,
)

pytestmark = pytest.mark.integration

@pytest.fixture(scope="module")
def shop(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_shop()
    dbt("build", "--full-refresh")
    with warehouse.connect(warehouse_session, autocommit=True) as conn:
        yield conn


def test_nps_per_day_is_100_minus_100_and_0_and_a_day_without_answers_has_no_row(shop):
    rows = shop.execute("select date, channel, responses, promoters, passives, detractors, nps "
                        "from marts.kpi_nps_daily order by date, channel").fetchall()
    assert rows == [
        (date(2026, 3, 1), "in_person", 1, 1, 0, 0, Decimal("100.00")),
        (date(2026, 3, 1), "survey", 3, 3, 0, 0, Decimal("100.00")),
        (date(2026, 3, 2), "survey", 3, 0, 0, 3, Decimal("-100.00")),
        (date(2026, 3, 3), "survey", 4, 1, 2, 1, Decimal("0.00")),
    ]


def test_csat_is_the_top_two_boxes_and_zendesk_good_over_good_plus_bad(shop):
    rows = shop.execute("select date, source, channel, ratings, satisfied, csat_pct "
                        "from marts.kpi_csat_daily order by date, source, channel").fetchall()
    assert rows == [
        (date(2026, 3, 2), "zendesk", "chat", 1, 1, Decimal("100.00")),
        (date(2026, 3, 2), "zendesk", "email", 2, 1, Decimal("50.00")),
        (date(2026, 3, 4), "typeform", "survey", 3, 2, Decimal("66.67")),
    ]


def test_ces_averages_effort_where_7_is_very_easy_and_counts_5_to_7_as_low_effort(shop):
    rows = shop.execute("select date, channel, responses, effort_total, low_effort, avg_effort, low_effort_pct "
                        "from marts.kpi_ces_daily").fetchall()
    assert rows == [(date(2026, 3, 4), "survey", 3, 14, 2, Decimal("4.67"), Decimal("66.67"))]


def test_support_counts_backlog_and_median_times_per_day_and_channel(shop):
    # The shop's tickets have no priority and no group: one series per channel, priority 'none',
    # group 0. Zendesk counted their business minutes as calendar ones, so the medians agree.
    rows = shop.execute("select date, channel, priority, group_id, tickets_created, tickets_solved, backlog_open, "
                        "median_first_reply_minutes, median_full_resolution_minutes, "
                        "median_first_reply_business_minutes, median_full_resolution_business_minutes, reopened "
                        "from marts.kpi_support_daily order by date, channel").fetchall()
    assert rows == [
        (date(2026, 3, 1), "email", "none", 0, 2, 0, 2, Decimal("60.0"), None, Decimal("60.0"), None, 0),
        (date(2026, 3, 2), "chat", "none", 0, 1, 1, 0, Decimal("10.0"), Decimal("300.0"), Decimal("10.0"),
         Decimal("300.0"), 1),
        (date(2026, 3, 2), "email", "none", 0, 0, 1, 1, None, Decimal("1500.0"), None, Decimal("1500.0"), 0),
    ]


def test_reviews_per_day_platform_and_language(shop):
    rows = shop.execute("select date, platform, language, reviews, stars_total, avg_stars, negative_reviews "
                        "from marts.kpi_reviews_daily order by language").fetchall()
    assert rows == [
        (date(2026, 3, 1), "trustpilot", "en", 2, 6, Decimal("3.00"), 1),
        (date(2026, 3, 1), "trustpilot", "pl", 1, 4, Decimal("4.00"), 0),
    ]


def test_identity_resolution_matches_email_case_and_spaces_phone_formats_and_the_crm_link(shop):
    alice = customer_of(shop, "hubspot", "1")
    assert [customer_of(shop, "zendesk", "70"), customer_of(shop, "typeform", "r1"),
            customer_of(shop, "typeform", "r5")] == [alice] * 3
    bob = customer_of(shop, "hubspot", "2")
    assert customer_of(shop, "zendesk", "71") == bob
    assert customer_of(shop, "files", "offline_surveys:P-1") == bob
    dan = customer_of(shop, "hubspot", "3")
    assert customer_of(shop, "zendesk", "72") == dan
    carol = customer_of(shop, "trustpilot", "c1")
    assert customer_of(shop, "typeform", "r2") == carol
    assert len({alice, bob, carol, dan}) == 4

    matched = dict(((s, i), m) for s, i, m in shop.execute(
        "select source, source_id, matched_on from marts.bridge_customer_source").fetchall())
    assert matched[("zendesk", "70")] == "email"
    assert matched[("zendesk", "71")] == "phone"
    assert matched[("zendesk", "72")] == matched[("hubspot", "3")] == "crm_link"
    assert matched[("typeform", "r3")] == "unmatched"
    # The id is the hash of the earliest-seen record: Alice's CRM contact (created in February).
    assert alice == "cus_" + hashlib.md5(b"hubspot:1").hexdigest()[:16]


def test_records_with_no_usable_key_are_customers_of_their_own(shop):
    strangers = ["r3", "r6", "r7", "r8", "r9", "r10", "r11", "s1", "s2", "s3"]
    ids = {customer_of(shop, "typeform", token) for token in strangers}
    assert len(ids) == len(strangers)
    # Alice, Bob, Carol, Dan, ten anonymous respondents and two reviewers with no email.
    assert shop.execute("select count(*) from marts.dim_customer").fetchone() == (16,)
    alice = shop.execute("select email, full_name, company_name, country, latest_nps_category "
                         "from marts.dim_customer where customer_id = %s", (customer_of(shop, "hubspot", "1"),))
    assert alice.fetchone() == ("alice@example.com", "F1 L1", "Acme Ltd", "GB", "detractor")


def test_customer_health_names_each_risk_and_the_revenue_behind_the_customer(shop):
    def health(source: str, source_id: str) -> tuple:
        return shop.execute("select health_score, churn_risk, risk_reasons, open_tickets, last_nps, arr_or_deal_value "
                            "from marts.customer_health where customer_id = %s",
                            (customer_of(shop, source, source_id),)).fetchone()

    assert health("hubspot", "1") == (40, "high", [
        "Detractor at the last NPS survey (scored 0)", "1 open support ticket(s)",
        "Bad support satisfaction rating in the last 90 days"], 1, 0, Decimal("1000.00"))
    assert health("hubspot", "2") == (100, "low", [], 0, 10, Decimal("500.00"))
    assert health("typeform", "s3") == (70, "medium", [
        "Bad support satisfaction rating in the last 90 days", "High effort reported in the last 90 days"],
        0, None, Decimal("0.00"))


def test_revenue_by_nps_category_per_month(shop):
    rows = shop.execute("select month, nps_category, customers, won_deal_amount, revenue_at_risk "
                        "from marts.cx_revenue_monthly order by month, nps_category").fetchall()
    assert rows == [
        (date(2026, 2, 1), "none", 3, Decimal("0.00"), Decimal("0.00")),
        (date(2026, 3, 1), "detractor", 4, Decimal("1000.00"), Decimal("1000.00")),
        (date(2026, 3, 1), "none", 6, Decimal("0.00"), Decimal("0.00")),
        (date(2026, 3, 1), "passive", 2, Decimal("0.00"), Decimal("0.00")),
        (date(2026, 3, 1), "promoter", 4, Decimal("500.00"), Decimal("0.00")),
    ]


def test_alerts_for_detractors_bad_csat_low_stars_and_high_effort_stay_open_without_a_follow_up(shop):
    rows = shop.execute("select touchpoint_id, reason, owner, is_open from marts.cx_alerts order by touchpoint_id")
    assert rows.fetchall() == [
        ("trustpilot:review:v2", "low_star_review", None, True),
        ("typeform:ces_survey:s3", "high_effort", None, True),
        ("typeform:csat_survey:s3", "bad_csat", None, True),
        ("typeform:nps_survey:r5", "detractor", "o1", True),
        ("typeform:nps_survey:r6", "detractor", None, True),
        ("typeform:nps_survey:r7", "detractor", None, True),
        ("typeform:nps_survey:r9", "detractor", None, True),
        # Raised 08:00; an agent commented on Alice's ticket at 09:00, which is not a follow-up.
        ("zendesk:support_rating:2", "bad_csat", "o1", True),
    ]


def test_touchpoints_carry_channel_journey_stage_scale_and_sentiment(shop):
    rows = shop.execute("select touchpoint_id, channel, journey_stage, score, score_scale, sentiment "
                        "from marts.fct_touchpoints where touchpoint_id in "
                        "('zendesk:support_ticket:3', 'zendesk:support_rating:2', 'trustpilot:review:v3', "
                        " 'hubspot:deal_closed:d1', 'files:nps_survey:offline_surveys:P-1') order by 1").fetchall()
    assert rows == [
        ("files:nps_survey:offline_surveys:P-1", "in_person", "loyalty_advocacy", Decimal("10.00"), "0-10", "positive"),
        ("hubspot:deal_closed:d1", "email", "purchase", None, None, None),
        ("trustpilot:review:v3", "review_site", "loyalty_advocacy", Decimal("4.00"), "1-5", "positive"),
        ("zendesk:support_rating:2", "email", "support", Decimal("0.00"), "good_bad", "negative"),
        ("zendesk:support_ticket:3", "chat", "support", None, None, None),
    ]


def test_bi_role_reads_the_marts_and_nothing_else(shop):
    def can_read(table: str) -> bool:
        return shop.execute("select has_table_privilege('cxloop_bi', %s, 'select')", (table,)).fetchone()[0]

    assert can_read("marts.kpi_nps_daily") and can_read("marts.dim_customer")
    assert not can_read("staging.stg_typeform__responses")
    assert not can_read("raw.typeform_responses")
    assert shop.execute("select has_schema_privilege('cxloop_bi', 'marts', 'usage'), "
                        "has_schema_privilege('cxloop_bi', 'raw', 'usage')").fetchone() == (True, False)


def test_docs_site_is_generated_and_every_mart_column_is_described_under_an_enforced_contract(shop):
    target = runner.dbt_target_path()
    (target / "static_index.html").unlink(missing_ok=True)
    dbt("docs", "generate", "--static")
    assert (target / "static_index.html").stat().st_size > 0
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    marts = {node["name"]: node for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["schema"] == "marts"}
    assert sorted(marts) == sorted(MARTS + HISTORY_MARTS)
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"], name
        assert node["description"].strip(), name
        built = catalog["nodes"][node["unique_id"]]["columns"]
        assert set(node["columns"]) == set(built), name
        assert all(column["description"].strip() for column in node["columns"].values()), name


def test_headline_kpis_re_aggregate_the_marts_counts(shop):
    from scripts.headline import headline_lines

    lines = [" ".join(line.split()) for line in headline_lines(shop)]
    assert lines == [
        "NPS +9.1 (11 answers)",  # 5 promoters, 4 detractors
        "CSAT 66.7% (6 ratings, top two boxes / good)",
        "CES (1-7, 7 = very easy) 4.67 (3 answers)",
        "Median first reply 30 min",  # of 30, 90 and 10
        "Average stars 3.33 (3 reviews)",
        "High churn risk 1 of 16 customers",
        "Deal value at high risk 1,000 (won deals of those customers)",
        "Revenue at risk 1,000 (won revenue from current detractors)",
        "Open CX alerts 8",
    ]


def test_mart_suites_pass_on_the_shop_and_fail_the_run_on_a_kpi_out_of_range(shop):
    from expectations import gate

    validations = gate.validate_marts()
    assert sorted((v.suite, v.outcome) for v in validations) == [
        ("mart_customer_health", "passed"), ("mart_kpi_ces_daily", "passed"), ("mart_kpi_csat_daily", "passed"),
        ("mart_kpi_nps_daily", "passed"), ("mart_kpi_reviews_daily", "passed"), ("mart_kpi_support_daily", "passed")]
    shop.execute("update marts.kpi_nps_daily set nps = 150, promoters = 4 where date = '2026-03-03'")
    try:
        with pytest.raises(gate.MartCheckFailed) as failed:
            gate.validate_marts()
        assert "expect_column_values_to_be_between on nps: observed 1" in str(failed.value)
        assert "promoters + passives + detractors = responses" in str(failed.value)
        assert shop.execute("select suite, outcome from audit.validation_runs where batch_id is null "
                            "and outcome = 'failed'").fetchall() == [("mart_kpi_nps_daily", "failed")]
    finally:
        shop.execute("update marts.kpi_nps_daily set nps = 0, promoters = 1 where date = '2026-03-03'")


# Last: it changes the shop the tests above read.
def test_a_rerun_an_incremental_run_after_updates_and_a_full_refresh_agree(shop):
    before = snapshot(shop)
    dbt("build")
    assert snapshot(shop) == before

    # Ticket 2 gets solved; a new Zendesk user ties Carol (by email) to Dan (by the CRM link),
    # so touchpoints built earlier must move to the merged customer; a new NPS answer arrives.
    land("zendesk", "tickets", [{**ticket(2, 70, "email", at(1, 12), "solved"), "updated_at": at(5, 9)}])
    land("zendesk", "ticket_metrics", [metrics(2, 90, at(5, 9), 5700, 0, last_comment=at(5, 9))])
    land("zendesk", "users", [zendesk_user(73, "CAROL@example.com", external_id="3")])
    land("typeform", "responses", [response("r12", at(5, 10), "dan@a.example", nps=10)])
    # A lost deal is won after all: its close is one touchpoint, now of the other type.
    land("hubspot", "deals", [deal("d3", "3", 300, "closedwon", at(5, 11))])
    dbt("build")
    incremental = snapshot(shop)
    assert incremental != before
    assert customer_of(shop, "trustpilot", "c1") == customer_of(shop, "hubspot", "3")
    carol_review = shop.execute("select customer_id from marts.fct_touchpoints "
                                "where touchpoint_id = 'trustpilot:review:v1'").fetchone()[0]
    assert carol_review == customer_of(shop, "hubspot", "3")
    assert shop.execute("select touchpoint_type from marts.fct_touchpoints "
                        "where touchpoint_id = 'hubspot:deal_closed:d3'").fetchall() == [("deal_won",)]

    dbt("build", "--full-refresh")
    assert snapshot(shop) == incremental
