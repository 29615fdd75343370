"""The score bands live in one place: edit the score_scales seed and every mart follows it.

On the hand-built shop of test_models, NPS promoters become 10 only and detractors 0-5 (the
seed's 0-10 row); the daily NPS, the customer's latest category, health reasons, revenue by
category and the detractor alerts all move together, with no other edit.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ingest import warehouse
from tests.shop import customer_of, dbt, land_the_shop

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shop(warehouse_session):
    with warehouse.connect(warehouse_session, autocommit=True) as conn:
        for schema in warehouse.SCHEMAS:
            conn.execute(f'drop schema if exists "{schema}" cascade')
        land_the_shop()
        dbt("build")
        # As an analyst would edit seeds/score_scales.csv and reseed: the seeded table itself.
        conn.execute("update staging.score_scales set positive_from = 10, negative_to = 5 where score_scale = '0-10'")
        dbt("build", "--full-refresh", "--exclude", "resource_type:seed")
        yield conn


def test_daily_nps_counts_promoters_and_detractors_by_the_seed(shop):
    rows = shop.execute("select date, responses, promoters, passives, detractors, nps from marts.kpi_nps_daily "
                        "where channel = 'survey' order by date").fetchall()
    assert rows == [
        (date(2026, 3, 1), 3, 2, 1, 0, Decimal("66.67")),    # 10, 9, 10: the 9 is a passive now
        (date(2026, 3, 2), 3, 0, 1, 2, Decimal("-66.67")),   # 0, 6, 3: the 6 is a passive now
        (date(2026, 3, 3), 4, 0, 3, 1, Decimal("-25.00")),   # 9, 5, 7, 8
    ]


def test_customers_categories_health_and_revenue_follow_the_seed(shop):
    carol = customer_of(shop, "trustpilot", "c1")  # her last NPS answer was a 9
    assert shop.execute("select latest_nps_category from marts.dim_customer where customer_id = %s",
                        (carol,)).fetchone() == ("passive",)
    assert shop.execute("select risk_reasons from marts.customer_health where customer_id = %s",
                        (carol,)).fetchone() == (["Passive at the last NPS survey (scored 9)"],)
    # March: 10s are promoters (r3, Bob), 9s and the 6 join the 7s and 8s as passives.
    assert shop.execute("select nps_category, customers from marts.cx_revenue_monthly where month = '2026-03-01' "
                        "and nps_category <> 'none' order by 1").fetchall() == [
        ("detractor", 3), ("passive", 5), ("promoter", 2)]


def test_detractor_alerts_follow_the_seed(shop):
    detractors = shop.execute("select touchpoint_id from marts.cx_alerts where reason = 'detractor' "
                              "order by 1").fetchall()
    assert detractors == [("typeform:nps_survey:r5",), ("typeform:nps_survey:r7",), ("typeform:nps_survey:r9",)]
