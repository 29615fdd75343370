"""Every verbatim read once: its language, sentiment and topics reach fct_verbatims the way a night builds them.

The hand-built shop of test_models, plus help-desk tickets written in Persian and Chinese. Each
night here is what the DAG does: `dbt build` of the staging and intermediate models, the
enrichment step, then `dbt build` of the rest.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from dags.cxloop_nightly import BUILD_AFTER_ENRICHMENT, BUILD_BEFORE_ENRICHMENT
from enrichment import analyse, topics
from ingest import warehouse
from tests.shop import at, empty_warehouse, land, land_the_shop, ticket
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

PERSIAN_DELIVERY = "سفارشم دو هفته دیر رسید، خیلی ناراضی هستم"
CHINESE_DELIVERY = "快递太慢了，等了两个星期才到，非常失望"


def night(conn, taxonomy: topics.Taxonomy | None = None) -> analyse.AnalysisRun:
    run_dbt(*BUILD_BEFORE_ENRICHMENT)
    run = analyse.analyse_pending(conn, taxonomy)
    run_dbt(*BUILD_AFTER_ENRICHMENT)
    return run


def verbatim(conn, touchpoint_id: str) -> tuple:
    return conn.execute(
        """select detected_language, sentiment_label, sentiment_method, topics, sentiment_score
           from marts.fct_verbatims where touchpoint_id = %s""", (touchpoint_id,)).fetchone()


@pytest.fixture(scope="module")
def conn(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_shop()
    land("zendesk", "tickets", [
        {**ticket(10, 70, "email", at(5, 9), "open"), "description": PERSIAN_DELIVERY},
        {**ticket(11, 71, "web", at(5, 10), "open"), "description": CHINESE_DELIVERY},
        # The same complaint twice: one text, one analysis.
        {**ticket(12, 72, "web", at(5, 11), "open"), "description": CHINESE_DELIVERY},
    ])
    with warehouse.connect(warehouse_session) as db:
        first = night(db)
        db.autocommit = True
        yield db, first


def test_a_persian_and_a_chinese_delivery_complaint_are_negative_and_about_delivery(conn):
    db, _ = conn
    persian = verbatim(db, "zendesk:support_ticket:10")
    chinese = verbatim(db, "zendesk:support_ticket:11")
    assert persian[:4] == ("fa", "negative", "lexicon", ["delivery"])
    assert chinese[:4] == ("zh", "negative", "lexicon", ["delivery"])
    assert persian[4] < 0 and chinese[4] < 0


def test_the_demo_names_what_customers_complain_about_per_language(conn, warehouse_session):
    from scripts import analyses

    db, _ = conn
    sql = analyses.compiled_sql("negative_topics_by_language", wh=warehouse_session)["negative_topics_by_language"]
    complaints = {(language, topic): mentions for language, topic, mentions in db.execute(sql).fetchall()}
    # The Chinese complaint was written twice (tickets 11 and 12).
    assert complaints[("fa", "delivery")] == 1 and complaints[("zh", "delivery")] == 2


def test_a_rated_review_keeps_its_rating_as_its_sentiment(conn):
    db, _ = conn
    # v1: five stars, v2: one star (the shop's reviews), whatever their text says.
    assert verbatim(db, "trustpilot:review:v1")[1:3] == ("positive", "rating")
    assert verbatim(db, "trustpilot:review:v1")[4] == Decimal("1.000")
    assert verbatim(db, "trustpilot:review:v2")[1:3] == ("negative", "rating")
    assert verbatim(db, "trustpilot:review:v2")[4] == Decimal("-1.000")


def test_each_text_is_analysed_once_however_many_touchpoints_carry_it_and_however_many_nights_pass(conn):
    db, first = conn
    texts = db.execute("""select count(distinct md5(verbatim)) from intermediate.int_touchpoints_unioned
                          where verbatim is not null and btrim(verbatim) <> ''""").fetchone()[0]
    assert first.analysed == texts
    assert db.execute("select count(*) from enrichment.verbatim_analysis").fetchone() == (texts,)
    assert verbatim(db, "zendesk:support_ticket:12") == verbatim(db, "zendesk:support_ticket:11")
    assert night(db).analysed == 0


def test_a_taxonomy_edit_re_analyses_every_text_and_the_marts_follow(conn, tmp_path):
    db, first = conn
    # The shop's tickets say "Problem 1", "Problem 2"...: a word English and Polish share.
    (language,) = db.execute("select detected_language from marts.fct_verbatims "
                             "where touchpoint_id = 'zendesk:support_ticket:1'").fetchone()
    edited = tmp_path / "topic_taxonomy.csv"
    edited.write_text(topics.TAXONOMY_CSV.read_text(encoding="utf-8")
                      + f"staff_attitude,service,{language},problem\n", encoding="utf-8")
    taxonomy = topics.load_taxonomy(edited)
    rerun = night(db, taxonomy)
    assert rerun.version != first.version and rerun.analysed == first.analysed
    # Now a staff_attitude topic, by the edit alone.
    assert verbatim(db, "zendesk:support_ticket:1")[3] == ["staff_attitude"]
    assert db.execute("select count(*) from marts.fct_verbatims where analysis_version <> %s",
                      (rerun.version,)).fetchone() == (0,)
