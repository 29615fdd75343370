"""Every verbatim read once: one row per text a customer wrote, its language, sentiment and topics in fct_verbatims.

The hand-built shop of test_models, plus help-desk tickets written in Persian and Chinese, a
review with a title and a text, a survey with two open answers and an offline survey whose
dataset declares two free-text columns. Each night here is what the DAG does: `dbt build` of
the staging and intermediate models, the enrichment step, then `dbt build` of the rest.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from dags.cxloop_nightly import BUILD_AFTER_ENRICHMENT, BUILD_BEFORE_ENRICHMENT
from enrichment import analyse, topics
from ingest import warehouse
from ingest.streams import tombstone
from tests.shop import at, empty_warehouse, land, land_the_shop, response, review, ticket
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

PERSIAN_DELIVERY = "سفارشم دو هفته دیر رسید، خیلی ناراضی هستم"
CHINESE_DELIVERY = "快递太慢了，等了两个星期才到，非常失望"
# Spaces and a line break around it, as typed into the form: a verbatim is kept byte for byte.
WHY_PROMOTER = "  Great prices and the staff knew their stuff.\n"


def night(conn, taxonomy: topics.Taxonomy | None = None, *args: str) -> analyse.AnalysisRun:
    run_dbt(*BUILD_BEFORE_ENRICHMENT, *args)
    run = analyse.analyse_pending(conn, taxonomy)
    run_dbt(*BUILD_AFTER_ENRICHMENT, *args)
    return run


def answer(field_type: str, ref: str, value_type: str, value: object) -> dict:
    """An answer as the Typeform Responses API writes it."""
    return {"field": {"id": f"f_{ref}", "type": field_type, "ref": ref}, "type": value_type, value_type: value}


def verbatim(conn, verbatim_id: str) -> tuple:
    return conn.execute(
        """select detected_language, sentiment_label, sentiment_method, topics, sentiment_score
           from marts.fct_verbatims where verbatim_id = %s""", (verbatim_id,)).fetchone()


def verbatims_of(conn, touchpoint_id: str) -> list[tuple]:
    return conn.execute(
        """select verbatim_id, field, question_ref, verbatim from marts.fct_verbatims
           where touchpoint_id = %s order by verbatim_id""", (touchpoint_id,)).fetchall()


def comment(comment_id: int, ticket_id: int, author: int, body: str, created: str, *, public: bool = True) -> dict:
    return {"id": comment_id, "ticket_id": ticket_id, "author_id": author, "body": body, "public": public,
            "type": "Comment", "event_type": "Comment", "created_at": created, "via": {"channel": "email"},
            "_event_id": comment_id + 1, "_event_timestamp": 1772700000}


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
    land("trustpilot", "reviews", [
        {**review("v9", "c9", 2, "en"), "title": "Late again", "text": "Second parcel this month that came late."},
    ])
    land("zendesk", "ticket_comments", [
        comment(5000, 10, 70, PERSIAN_DELIVERY, at(5, 9)),                 # the description again
        comment(5001, 10, 900, "Sorry to hear that, we are checking.", at(5, 10)),   # an agent
        comment(5002, 10, 70, "Still nothing, I want a refund.", at(5, 12)),        # the customer
        comment(5003, 10, 70, "note to self", at(5, 13), public=False),
    ])
    land("typeform", "responses", [{
        **response("t1", at(6, 10), "erin@example.com", nps=10),
        "answers": [
            answer("nps", "nps", "number", 10),
            answer("long_text", "why", "text", WHY_PROMOTER),
            # The Chinese complaint a third time, in a survey this time.
            answer("short_text", "better", "text", CHINESE_DELIVERY),
            answer("email", "email", "email", "erin@example.com"),
        ],
    }, {
        # A support survey: a CSAT and a CES touchpoint, one text.
        **response("t2", at(6, 11), csat=2, ces=3),
        "answers": [answer("rating", "csat", "number", 2), answer("opinion_scale", "ces", "number", 3),
                    answer("long_text", "comment", "text", "Took three calls to sort out.")],
    }])
    land("files", "records", [
        # The offline_surveys dataset declares `verbatim;suggestion` (seed file_datasets).
        {"_key": "offline_surveys:P-2", "_updated_at": at(6, 14), "_dataset": "offline_surveys",
         "_file": "offline_survey_2.jsonl", "response_id": "P-2", "answered_at": at(6, 14), "nps": 8,
         "channel": "in_person", "email": "fay@example.com", "verbatim": "Friendly staff at the till",
         "suggestion": "Open on Sundays please", "store": "Leeds"},
    ])
    with warehouse.connect(warehouse_session) as db:
        first = night(db)
        db.autocommit = True
        yield db, first


def test_a_persian_and_a_chinese_delivery_complaint_are_negative_and_about_delivery(conn):
    db, _ = conn
    persian = verbatim(db, "zendesk:support_ticket:10:description")
    chinese = verbatim(db, "zendesk:support_ticket:11:description")
    assert persian[:4] == ("fa", "negative", "lexicon", ["delivery"])
    assert chinese[:4] == ("zh", "negative", "lexicon", ["delivery"])
    assert persian[4] < 0 and chinese[4] < 0


def test_the_demo_names_what_customers_complain_about_per_language(conn, warehouse_session):
    from scripts import analyses

    db, _ = conn
    sql = analyses.compiled_sql("negative_topics_by_language", wh=warehouse_session)["negative_topics_by_language"]
    complaints = {(language, topic): mentions for language, topic, mentions in db.execute(sql).fetchall()}
    # The Chinese complaint was written three times (tickets 11 and 12, survey t1's second answer).
    assert complaints[("fa", "delivery")] == 1 and complaints[("zh", "delivery")] == 3


def test_a_rated_review_keeps_its_rating_as_its_sentiment(conn):
    db, _ = conn
    # v1: five stars, v2: one star (the shop's reviews), whatever their text says.
    assert verbatim(db, "trustpilot:review:v1:text")[1:3] == ("positive", "rating")
    assert verbatim(db, "trustpilot:review:v1:text")[4] == Decimal("1.000")
    assert verbatim(db, "trustpilot:review:v2:text")[1:3] == ("negative", "rating")
    assert verbatim(db, "trustpilot:review:v2:text")[4] == Decimal("-1.000")


def test_a_review_with_a_title_and_a_text_is_two_verbatims_both_rated_by_its_stars(conn):
    db, _ = conn
    assert verbatims_of(db, "trustpilot:review:v9") == [
        ("trustpilot:review:v9:text", "review_text", None, "Second parcel this month that came late."),
        ("trustpilot:review:v9:title", "review_title", None, "Late again"),
    ]
    # Two stars: the bottom two are negative, whatever each part says.
    assert verbatim(db, "trustpilot:review:v9:title")[1:3] == ("negative", "rating")
    assert verbatim(db, "trustpilot:review:v9:text")[1:3] == ("negative", "rating")


def test_a_survey_gives_a_verbatim_per_open_answer_with_its_question_ref_and_none_for_its_nps_answer(conn):
    db, _ = conn
    assert verbatims_of(db, "typeform:nps_survey:t1") == [
        ("typeform:nps_survey:t1:answer:better", "survey_answer", "better", CHINESE_DELIVERY),
        ("typeform:nps_survey:t1:answer:why", "survey_answer", "why", WHY_PROMOTER),
    ]


def test_only_the_first_open_answer_of_a_survey_takes_its_rating_the_others_are_read_by_their_text(conn):
    db, _ = conn
    # A promoter (10) who still complains about delivery when asked what could be better.
    assert verbatim(db, "typeform:nps_survey:t1:answer:why")[1:3] == ("positive", "rating")
    assert verbatim(db, "typeform:nps_survey:t1:answer:why")[4] == Decimal("1.000")
    assert verbatim(db, "typeform:nps_survey:t1:answer:better")[:4] == ("zh", "negative", "lexicon", ["delivery"])


def test_a_file_dataset_declaring_two_free_text_columns_gives_two_verbatims(conn):
    db, _ = conn
    touchpoint = "files:nps_survey:offline_surveys:P-2"
    assert verbatims_of(db, touchpoint) == [
        (f"{touchpoint}:column:suggestion", "file_column", "suggestion", "Open on Sundays please"),
        (f"{touchpoint}:column:verbatim", "file_column", "verbatim", "Friendly staff at the till"),
    ]
    # NPS 8 is a passive: the first declared column takes the score's band, the second its own.
    assert verbatim(db, f"{touchpoint}:column:verbatim")[1:3] == ("neutral", "rating")
    assert verbatim(db, f"{touchpoint}:column:suggestion")[2] == "lexicon"


def test_a_survey_scored_twice_gives_its_answer_once_on_its_csat_touchpoint(conn):
    db, _ = conn
    assert db.execute("select verbatim_id, sentiment_label, sentiment_method from marts.fct_verbatims "
                      "where verbatim = 'Took three calls to sort out.'").fetchall() == [
        ("typeform:csat_survey:t2:answer:comment", "negative", "rating")]


def test_the_same_sentence_in_three_places_is_analysed_once(conn):
    db, first = conn
    texts = db.execute("select count(distinct md5(verbatim)) from intermediate.int_verbatims_unioned").fetchone()[0]
    assert first.analysed == texts
    assert db.execute("select count(*) from enrichment.verbatim_analysis").fetchone() == (texts,)
    assert db.execute("select count(*) from enrichment.verbatim_analysis where text_hash = md5(%s)",
                      (CHINESE_DELIVERY,)).fetchone() == (1,)
    assert db.execute("select count(*) from marts.fct_verbatims where verbatim = %s",
                      (CHINESE_DELIVERY,)).fetchone() == (3,)
    assert (verbatim(db, "zendesk:support_ticket:12:description")
            == verbatim(db, "zendesk:support_ticket:11:description"))


@pytest.fixture(scope="module")
def second_night(conn):
    """A new ticket with a new text, one repeating a text already read, review v9 deleted at Trustpilot
    and review v3's title emptied by its writer."""
    db, first = conn
    land("zendesk", "tickets", [
        {**ticket(13, 70, "email", at(7, 9), "open"), "description": "Where is my refund for order 5521?"},
        {**ticket(14, 71, "web", at(7, 10), "open"), "description": PERSIAN_DELIVERY},
    ])
    # Bob comments on his ticket without the ticket changing, repeating a text already read.
    land("zendesk", "ticket_comments", [comment(5004, 11, 71, PERSIAN_DELIVERY, at(7, 11))])
    land("trustpilot", "reviews", [tombstone({"id": "v9"}, at(8, 9)),
                                   {**review("v3", "c3", 4, "pl"), "title": "  ", "updatedAt": at(8, 10)}])
    return night(db)


def test_a_second_night_analyses_only_the_text_it_has_not_seen(conn, second_night):
    db, first = conn
    assert second_night.version == first.version and second_night.analysed == 1
    assert db.execute("select count(*), count(distinct text_hash) from enrichment.verbatim_analysis"
                      ).fetchone() == (first.analysed + 1, first.analysed + 1)
    assert (verbatim(db, "zendesk:support_ticket:14:description")
            == verbatim(db, "zendesk:support_ticket:10:description"))
    rerun = night(db)
    assert (rerun.version, rerun.analysed) == (second_night.version, 0)


def test_a_tickets_verbatims_are_its_description_and_its_customers_own_public_comments(conn):
    db, _ = conn
    assert verbatims_of(db, "zendesk:support_ticket:10") == [
        ("zendesk:support_ticket:10:comment:5002", "ticket_comment", None, "Still nothing, I want a refund."),
        ("zendesk:support_ticket:10:description", "ticket_description", None, PERSIAN_DELIVERY)]


def test_a_comment_arriving_on_an_unchanged_ticket_is_a_verbatim_the_next_night(conn, second_night):
    db, _ = conn
    assert [row[0] for row in verbatims_of(db, "zendesk:support_ticket:11")] == [
        "zendesk:support_ticket:11:comment:5004", "zendesk:support_ticket:11:description"]


def test_a_deleted_reviews_verbatims_leave_fct_verbatims(conn, second_night):
    db, _ = conn
    assert verbatims_of(db, "trustpilot:review:v9") == []
    assert db.execute("""select verbatim_id, is_deleted from intermediate.int_verbatims_unioned
                         where touchpoint_id = 'trustpilot:review:v9' order by 1""").fetchall() == [
        ("trustpilot:review:v9:text", True), ("trustpilot:review:v9:title", True)]
    assert [row[0] for row in verbatims_of(db, "trustpilot:review:v1")] == [
        "trustpilot:review:v1:text", "trustpilot:review:v1:title"]


def test_a_title_its_writer_emptied_leaves_fct_verbatims_and_the_text_stays(conn, second_night):
    db, _ = conn
    assert verbatims_of(db, "trustpilot:review:v3") == [
        ("trustpilot:review:v3:text", "review_text", None, "review v3")]


def test_incremental_nights_and_a_full_refresh_give_the_same_fct_verbatims(conn, second_night):
    db, _ = conn
    incremental = sorted(db.execute("select * from marts.fct_verbatims").fetchall(), key=repr)
    assert night(db, None, "--full-refresh").analysed == 0
    assert sorted(db.execute("select * from marts.fct_verbatims").fetchall(), key=repr) == incremental


def test_a_taxonomy_edit_re_analyses_every_text_and_the_marts_follow(conn, tmp_path):
    db, first = conn
    texts = db.execute("select count(distinct md5(verbatim)) from intermediate.int_verbatims_unioned "
                       "where not is_deleted").fetchone()[0]
    # The shop's tickets say "Problem 1", "Problem 2"...: a word English and Polish share.
    (language,) = db.execute("select detected_language from marts.fct_verbatims "
                             "where verbatim_id = 'zendesk:support_ticket:1:description'").fetchone()
    edited = tmp_path / "topic_taxonomy.csv"
    edited.write_text(topics.TAXONOMY_CSV.read_text(encoding="utf-8")
                      + f"staff_attitude,service,{language},problem\n", encoding="utf-8")
    taxonomy = topics.load_taxonomy(edited)
    rerun = night(db, taxonomy)
    assert rerun.version != first.version and rerun.analysed == texts
    # Now a staff_attitude topic, by the edit alone.
    assert verbatim(db, "zendesk:support_ticket:1:description")[3] == ["staff_attitude"]
    assert db.execute("select count(*) from marts.fct_verbatims where analysis_version <> %s",
                      (rerun.version,)).fetchone() == (0,)
