"""kpi_topics_daily and cx_topic_drivers: what customers write about, and what each topic does to NPS and CSAT.

A hand-built set of survey answers, a review and a ticket whose texts the starter taxonomy maps
to one topic each (or none), run through nights as the DAG runs them: `dbt build` of staging and
intermediate, the enrichment step, `dbt build` of the rest. Every expected figure is worked out
by hand next to the data.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from dags.cxloop_nightly import BUILD_AFTER_ENRICHMENT, BUILD_BEFORE_ENRICHMENT
from enrichment import analyse, sentiment, topics
from ingest import warehouse
from ingest.streams import tombstone
from tests.shop import at, empty_warehouse, land, response, review, ticket, zendesk_user
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

BILLING = "The invoice was wrong again, they billed me twice this month."
BILLING_AGAIN = "The payment page kept failing and my card was charged twice."
DELIVERY = "My parcel arrived quickly and the courier was lovely."
DELIVERY_AGAIN = "Delivery was fast, the parcel came the next morning."
NO_TOPIC = "Everything was fine, thank you."
LOST_PARCEL = "Terrible, the courier lost my parcel."
FRENCH_DELIVERY = "Le colis est arrivé en retard, très déçu."
POLISH_DELIVERY = "Przesyłka dotarła szybko, polecam."
NEW_BILLING = "I was charged twice for my subscription and nobody fixed the invoice."

TOPICS_DAILY = "select * from marts.kpi_topics_daily order by date, topic, source, language"
DRIVERS = "select * from marts.cx_topic_drivers order by month, topic"


def answered(token: str, submitted: str, text: str, **scores: int) -> dict:
    """A Typeform response whose one open answer is `text`, as the API and the connector give it."""
    record = response(token, submitted, **scores)
    record["_metrics"]["verbatim"] = text
    record["answers"] = [{"field": {"id": "why", "type": "long_text", "ref": "why"}, "type": "text", "text": text}]
    return record


# Read once, like the lexicons: the taxonomy a module's nights analyse under.
TAXONOMY = topics.load_taxonomy()


def night(conn) -> None:
    run_dbt(*BUILD_BEFORE_ENRICHMENT)
    analyse.analyse_pending(conn, TAXONOMY)
    run_dbt(*BUILD_AFTER_ENRICHMENT)


def drivers_row(month: str, topic: str, nps: tuple, month_nps: tuple, nps_without: str | None,
                nps_impact: str | None, csat: tuple, month_csat: tuple, csat_without: str | None,
                csat_impact: str | None) -> tuple:
    """A row of cx_topic_drivers, its figures written as the mart rounds them."""
    def dec(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    responses, promoters, passives, detractors, score = nps
    month_responses, month_promoters, month_passives, month_detractors, month_score = month_nps
    ratings, satisfied, pct = csat
    month_ratings, month_satisfied, month_pct = month_csat
    return (month, topic, responses, promoters, passives, detractors, dec(score),
            month_responses, month_promoters, month_passives, month_detractors, dec(month_score),
            dec(nps_without), dec(nps_impact), ratings, satisfied, dec(pct), month_ratings, month_satisfied,
            dec(month_pct), dec(csat_without), dec(csat_impact))


def rows(conn, sql: str) -> list[tuple]:
    return [tuple(str(v) if i == 0 else v for i, v in enumerate(row)) for row in conn.execute(sql).fetchall()]


@pytest.fixture(scope="module")
def conn(warehouse_session):
    # This process reads each lexicon once (sentiment.load_lexicon is cached), so every night here
    # analyses under the lexicons it started with, whatever happens to the files meanwhile; a new
    # version would re-analyse every text, which is another night than the ones specified here.
    started_with = sentiment.lexicon_version()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sentiment, "lexicon_version", lambda: started_with)
        yield from _nights(warehouse_session)


def _nights(warehouse_session):
    empty_warehouse(warehouse_session)
    land("typeform", "responses", [
        # February: one promoter with nothing in particular to say, one CSAT rating of 1 about delivery.
        answered("p1", at(10, 9, month=2), NO_TOPIC, nps=10),
        answered("q1", at(10, 10, month=2), LOST_PARCEL, csat=1),
        # March, 10 NPS answers: promoters r1–r5, passives r6–r7, detractors r8–r10.
        # NPS = 100 × (5 − 3) / 10 = 20.00.
        answered("r1", at(2, 9), DELIVERY, nps=10),
        answered("r2", at(2, 10), DELIVERY_AGAIN, nps=9),
        answered("r8", at(2, 11), BILLING, nps=2),
        answered("r3", at(3, 9), NO_TOPIC, nps=10),
        answered("r4", at(3, 10), NO_TOPIC, nps=10),
        answered("r5", at(3, 11), NO_TOPIC, nps=9),
        answered("r6", at(3, 12), NO_TOPIC, nps=8),
        answered("r7", at(3, 13), "Great shop, the delivery came early.", nps=7),
        answered("r9", at(3, 14), BILLING_AGAIN, nps=4),
        answered("r10", at(4, 9), BILLING, nps=6),
        # March, 4 CSAT ratings: satisfied s2, s3 -> 50.00.
        answered("s1", at(5, 9), BILLING, csat=2),
        answered("s2", at(5, 10), DELIVERY, csat=5),
        answered("s3", at(5, 11), NO_TOPIC, csat=4),
        answered("s4", at(5, 12), BILLING_AGAIN, csat=1),
    ])
    # No survey answers, so topics but no drivers: a French 2-star review, a Polish ticket.
    land("trustpilot", "reviews", [{**review("v1", "c1", 2, "fr"), "createdAt": at(6, 9), "text": FRENCH_DELIVERY}])
    land("zendesk", "users", [zendesk_user(80, "ola@example.pl")])
    land("zendesk", "tickets", [{**ticket(20, 80, "email", at(7, 10), "open"), "description": POLISH_DELIVERY}])
    with warehouse.connect(warehouse_session) as db:
        db.autocommit = True
        night(db)
        yield db


FIRST_NIGHT_TOPICS = [
    # date, topic, source, language, mentions, positive, negative, neutral
    ("2026-02-10", "delivery", "typeform", "en", 1, 0, 1, 0),      # q1: CSAT 1
    ("2026-03-02", "billing", "typeform", "en", 1, 0, 1, 0),       # r8: detractor
    ("2026-03-02", "delivery", "typeform", "en", 2, 2, 0, 0),      # r1, r2: promoters
    ("2026-03-03", "billing", "typeform", "en", 1, 0, 1, 0),       # r9
    ("2026-03-03", "delivery", "typeform", "en", 1, 0, 0, 1),      # r7: passive
    ("2026-03-04", "billing", "typeform", "en", 1, 0, 1, 0),       # r10
    ("2026-03-05", "billing", "typeform", "en", 2, 0, 2, 0),       # s1, s4: CSAT 2 and 1
    ("2026-03-05", "delivery", "typeform", "en", 1, 1, 0, 0),      # s2: CSAT 5
    ("2026-03-06", "delivery", "trustpilot", "fr", 1, 0, 1, 0),    # 2 stars
    ("2026-03-07", "delivery", "zendesk", "pl", 1, 1, 0, 0),       # no rating: the text's own sentiment
]

FEBRUARY_DELIVERY = drivers_row(
    # No NPS answer mentions delivery: removing nothing leaves the month's 100.00, impact 0.
    # The one CSAT rating does: nothing is left without it.
    "2026-02-01", "delivery", (0, 0, 0, 0, None), (1, 1, 0, 0, "100.00"), "100.00", "0.00",
    (1, 0, "0.00"), (1, 0, "0.00"), None, None)


def test_topic_mentions_are_counted_per_day_source_and_detected_language_with_their_sentiment(conn):
    # The answers without a topic (r3–r6, s3, p1) and the review's title ("t") are in no row.
    assert rows(conn, TOPICS_DAILY) == FIRST_NIGHT_TOPICS


def test_detractors_writing_about_billing_cost_march_51_nps_points(conn):
    assert rows(conn, DRIVERS) == [
        FEBRUARY_DELIVERY,
        # Billing: r8, r9, r10, all detractors. Without them: 7 answers, 5 promoters, no
        # detractor: 100 × 5 / 7 = 71.43; impact 20.00 − 71.43 = −51.43.
        # CSAT: s1, s4, both unsatisfied; without them s2, s3: 100.00; impact 50.00 − 100.00.
        drivers_row("2026-03-01", "billing", (3, 0, 0, 3, "-100.00"), (10, 5, 2, 3, "20.00"), "71.43", "-51.43",
                    (2, 0, "0.00"), (4, 2, "50.00"), "100.00", "-50.00"),
        # Delivery: r1, r2 promoters, r7 passive: 66.67. Without them: 7 answers, 3 promoters,
        # 3 detractors: 0.00; impact 20.00. CSAT: s2; without it 1 of 3 = 33.33; impact 16.67.
        drivers_row("2026-03-01", "delivery", (3, 2, 1, 0, "66.67"), (10, 5, 2, 3, "20.00"), "0.00", "20.00",
                    (1, 1, "100.00"), (4, 2, "50.00"), "33.33", "16.67"),
    ]


def test_bi_tools_can_read_both_marts(conn):
    assert conn.execute("""select has_table_privilege('cxloop_bi', 'marts.kpi_topics_daily', 'select'),
                                  has_table_privilege('cxloop_bi', 'marts.cx_topic_drivers', 'select')""").fetchone() \
        == (True, True)


def written_by(conn) -> dict[tuple, str]:
    """The transaction that last wrote each row of kpi_topics_daily: a row a night left alone keeps it."""
    return {row[:4]: row[4] for row in rows(
        conn, "select date, topic, source, language, xmin::text from marts.kpi_topics_daily")}


def test_a_night_with_one_new_answer_rewrites_only_its_day_and_its_month_and_a_full_refresh_agrees(conn):
    before = written_by(conn)
    land("typeform", "responses", [answered("r11", at(4, 15), NEW_BILLING, nps=0)])
    night(conn)

    # Only 03-04 changed: r10 and r11, both detractors about billing.
    assert rows(conn, TOPICS_DAILY) == [
        ("2026-03-04", "billing", "typeform", "en", 2, 0, 2, 0) if row[0] == "2026-03-04" else row
        for row in FIRST_NIGHT_TOPICS]
    after = written_by(conn)
    assert [key for key in after if after[key] != before[key]] == [("2026-03-04", "billing", "typeform", "en")]

    # March now: 11 answers, 5 promoters, 2 passives, 4 detractors: 100 × 1 / 11 = 9.09.
    # Billing: 4 detractors; without them still 71.43; impact 9.09 − 71.43 = −62.34.
    # Delivery: without r1, r2, r7: 8 answers, 3 promoters, 4 detractors: −12.50; impact 21.59.
    # CSAT did not move.
    march = rows(conn, DRIVERS)
    assert march == [
        FEBRUARY_DELIVERY,
        drivers_row("2026-03-01", "billing", (4, 0, 0, 4, "-100.00"), (11, 5, 2, 4, "9.09"), "71.43", "-62.34",
                    (2, 0, "0.00"), (4, 2, "50.00"), "100.00", "-50.00"),
        drivers_row("2026-03-01", "delivery", (3, 2, 1, 0, "66.67"), (11, 5, 2, 4, "9.09"), "-12.50", "21.59",
                    (1, 1, "100.00"), (4, 2, "50.00"), "33.33", "16.67"),
    ]

    topics_daily = rows(conn, TOPICS_DAILY)
    run_dbt("build", "--select", "kpi_topics_daily", "cx_topic_drivers", "--full-refresh")
    assert rows(conn, TOPICS_DAILY) == topics_daily
    assert rows(conn, DRIVERS) == march


def test_a_day_whose_only_verbatim_was_deleted_at_its_source_leaves_the_mart(conn):
    before = rows(conn, TOPICS_DAILY)
    land("trustpilot", "reviews", [tombstone({"id": "v1"}, "2026-03-31T12:00:00Z")])
    night(conn)

    # 03-06 held only the French review; every other day stays as it was.
    remaining = rows(conn, TOPICS_DAILY)
    assert remaining == [row for row in before if row[0] != "2026-03-06"]
    assert len(remaining) == len(before) - 1

    run_dbt("build", "--select", "kpi_topics_daily", "--full-refresh")
    assert rows(conn, TOPICS_DAILY) == remaining
