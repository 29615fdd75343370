"""Records shaped as each API returns them, for hand-built shops, and landing them for real."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from ingest import loader, runner, warehouse
from ingest.streams import Window


def at(day: int, hour: int = 12, month: int = 3) -> str:
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00Z"


def land(source: str, stream_name: str, records: list[dict]) -> None:
    stream = next(s for s in runner.streams_of(source) if s.name == stream_name)
    with warehouse.connect() as conn, conn.transaction():
        loader.land(conn, stream, str(uuid.uuid4()), Window(None, datetime(2026, 4, 1, tzinfo=UTC)), [records])


def contact(contact_id: str, email: str | None, phone: str | None = None, company: str | None = None,
            owner: str = "o1") -> dict:
    record = {"id": contact_id, "createdAt": at(1, 9, month=2), "updatedAt": at(1, 9, month=2), "archived": False,
              "properties": {"hs_object_id": contact_id, "email": email, "phone": phone, "firstname": "F" + contact_id,
                             "lastname": "L" + contact_id, "country": "gb", "hubspot_owner_id": owner}}
    if company:
        record["associations"] = {"companies": {"results": [{"id": company, "type": "contact_to_company"}]}}
    return record


def deal(deal_id: str, contact_id: str, amount: int, stage: str, closed: str, company: str | None = None,
         pipeline: str = "default") -> dict:
    associations = {"contacts": {"results": [{"id": contact_id, "type": "deal_to_contact"}]}}
    if company:
        associations["companies"] = {"results": [{"id": company, "type": "deal_to_company"}]}
    return {"id": deal_id, "createdAt": at(1, 9, month=2), "updatedAt": closed, "archived": False,
            "associations": associations,
            "properties": {"dealname": deal_id, "amount": str(amount), "dealstage": stage, "closedate": closed,
                           "pipeline": pipeline}}


def pipeline(pipeline_id: str, stages: list[tuple[str, bool, str]], updated: str | None = None) -> dict:
    """A deal pipeline as GET /crm/v3/pipelines/deals lists it; stages as (id, closed, probability)."""
    updated = updated or at(1, 8, month=2)
    return {"id": pipeline_id, "label": f"Pipeline {pipeline_id}", "displayOrder": 0, "archived": False,
            "createdAt": at(1, 8, month=2), "updatedAt": updated,
            "stages": [{"id": stage_id, "label": stage_id, "displayOrder": position, "archived": False,
                        "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
                        "createdAt": at(1, 8, month=2), "updatedAt": updated}
                       for position, (stage_id, closed, probability) in enumerate(stages)]}


# HubSpot's default pipeline: its stage ids are the only ones that are words.
DEFAULT_PIPELINE = [("appointmentscheduled", False, "0.2"), ("qualifiedtobuy", False, "0.4"),
                    ("closedwon", True, "1.0"), ("closedlost", True, "0.0")]


def owner(owner_id: str, first_name: str, last_name: str, email: str, updated: str | None = None) -> dict:
    stamp = updated or at(1, 8, month=2)
    return {"id": owner_id, "email": email, "firstName": first_name, "lastName": last_name, "type": "PERSON",
            "teams": [], "archived": False,
            "createdAt": at(1, 8, month=2), "updatedAt": stamp}


def product(product_id: str, name: str, category: str | None) -> dict:
    return {"id": product_id, "createdAt": at(1, 8, month=2), "updatedAt": at(1, 8, month=2), "archived": False,
            "properties": {"hs_object_id": product_id, "name": name, "price": "100", "product_category": category}}


def line_item(line_item_id: str, deal_id: str, amount: int, product_id: str | None) -> dict:
    return {"id": line_item_id, "createdAt": at(1, 9, month=2), "updatedAt": at(1, 9, month=2), "archived": False,
            "associations": {"deals": {"results": [{"id": deal_id, "type": "line_item_to_deal"}]}},
            "properties": {"hs_object_id": line_item_id, "hs_product_id": product_id, "quantity": "1",
                           "price": str(amount), "amount": str(amount)}}


def zendesk_user(user_id: int, email: str | None, phone: str | None = None, external_id: str | None = None,
                 locale: str = "en") -> dict:
    return {"id": user_id, "name": f"User {user_id}", "email": email, "phone": phone, "external_id": external_id,
            "role": "end-user", "locale": locale, "created_at": at(2, 9, month=2), "updated_at": at(2, 9, month=2)}


def ticket(ticket_id: int, requester: int, channel: str, created: str, status: str) -> dict:
    return {"id": ticket_id, "requester_id": requester, "via": {"channel": channel}, "status": status,
            "subject": f"Ticket {ticket_id}", "description": f"Problem {ticket_id}", "created_at": created,
            "updated_at": created}


def metrics(ticket_id: int, reply: int, solved: str | None, resolution: int | None, reopens: int,
            last_comment: str) -> dict:
    return {"id": 40_000 + ticket_id, "ticket_id": ticket_id, "replies": 1, "reopens": reopens,
            "reply_time_in_minutes": {"calendar": reply, "business": reply},
            "full_resolution_time_in_minutes": {"calendar": resolution, "business": resolution},
            "solved_at": solved, "latest_comment_added_at": last_comment, "created_at": at(1, 8),
            "updated_at": solved or last_comment}


def rating(rating_id: int, ticket_id: int, requester: int, score: str, created: str) -> dict:
    return {"id": rating_id, "ticket_id": ticket_id, "requester_id": requester, "score": score,
            "comment": f"rating {rating_id}", "created_at": created, "updated_at": created}


def response(token: str, submitted: str, email: str | None = None, **scores: int) -> dict:
    form = "rNPS2026" if "nps" in scores else "sCSAT2026"
    return {"token": token, "response_id": token, "submitted_at": submitted, "landed_at": submitted,
            "hidden": {"locale": "en"}, "metadata": {"platform": "other"}, "answers": [], "_form_id": form,
            "_metrics": {**scores, "email": email, "verbatim": f"said {token}"}}


def review(review_id: str, consumer: str, stars: int, language: str, email: str | None = None) -> dict:
    return {"id": review_id, "consumer": {"id": consumer, "displayName": consumer, "displayLocation": "Leeds, GB"},
            "stars": stars, "title": "t", "text": f"review {review_id}", "language": language,
            "createdAt": at(1, 15), "updatedAt": None, "referralEmail": email, "companyReply": None}


# The marts a full refresh rebuilds to the same rows; customer_id_history is kept across nights instead.
MARTS = ["dim_customer", "bridge_customer_source", "fct_touchpoints", "kpi_nps_daily", "kpi_csat_daily",
         "kpi_ces_daily", "kpi_support_daily", "kpi_reviews_daily", "customer_health", "cx_revenue_monthly",
         "cx_alerts", "identity_quality", "customer_wallet", "fct_verbatims", "fct_tickets", "kpi_topics_daily",
         "cx_topic_drivers", "kpi_closed_loop_daily"]
HISTORY_MARTS = ["customer_id_history"]


def land_the_shop() -> None:
    """Alice, Bob, Carol and Dan across the tools, spelled as each tool spells them, plus strangers."""
    land("hubspot", "contacts", [
        contact("1", " Alice@Example.com ", "+44 20 7946 0001", company="900"),
        contact("2", "bob@example.org", "+48 601 234 567"),
        contact("3", "dan@a.example", owner="o2"),
    ])
    land("hubspot", "companies", [{"id": "900", "createdAt": at(1, 9, month=2), "updatedAt": at(1, 9, month=2),
                                   "properties": {"name": "Acme Ltd", "annualrevenue": "1000000"}}])
    land("hubspot", "deal_pipelines", [pipeline("default", DEFAULT_PIPELINE)])
    land("hubspot", "deals", [
        deal("d1", "1", 1000, "closedwon", at(1, 10), company="900"),
        deal("d2", "2", 500, "closedwon", at(2, 10)),
        deal("d3", "3", 300, "closedlost", at(2, 11)),
    ])
    land("zendesk", "users", [
        zendesk_user(70, "alice@example.com"),
        zendesk_user(71, None, "(48) 601234567"),      # Bob, by phone
        zendesk_user(72, "dan@b.example", external_id="3"),  # Dan, by the CRM link
    ])
    land("zendesk", "tickets", [
        ticket(1, 70, "email", at(1, 8), "solved"),
        ticket(2, 70, "email", at(1, 12), "open"),
        ticket(3, 71, "chat", at(2, 10), "solved"),
    ])
    land("zendesk", "ticket_metrics", [
        metrics(1, 30, at(2, 9), 1500, 0, last_comment=at(2, 9)),
        metrics(2, 90, None, None, 0, last_comment="2026-03-01T13:30:00Z"),
        metrics(3, 10, at(2, 15), 300, 1, last_comment=at(2, 15)),
    ])
    land("zendesk", "satisfaction_ratings", [
        rating(1, 1, 70, "good", "2026-03-02T09:30:00Z"),
        rating(2, 2, 70, "bad", at(2, 8)),
        rating(3, 3, 71, "good", at(2, 16)),
    ])
    land("typeform", "responses", [
        # 03-01: 10, 9, 10 -> NPS 100.  03-02: 0, 6, 3 -> NPS -100.  03-03: 9, 5, 7, 8 -> NPS 0.
        response("r1", at(1, 10), "ALICE@EXAMPLE.COM", nps=10),
        response("r2", at(1, 11), " carol@example.com", nps=9),
        response("r3", at(1, 12), nps=10),
        response("r5", at(2, 11), "alice@example.com ", nps=0),
        response("r6", at(2, 12), nps=6),
        response("r7", at(2, 13), nps=3),
        response("r8", at(3, 9), nps=9),
        response("r9", at(3, 10), nps=5),
        response("r10", at(3, 11), nps=7),
        response("r11", at(3, 12), nps=8),
        # 03-04: no NPS answer, only the support survey: CSAT 5, 4, 2 and CES 7, 5, 2.
        response("s1", at(4, 9), csat=5, ces=7),
        response("s2", at(4, 10), csat=4, ces=5),
        response("s3", at(4, 11), csat=2, ces=2),
    ])
    land("trustpilot", "reviews", [
        review("v1", "c1", 5, "en", "Carol@Example.com "),
        review("v2", "c2", 1, "en"),
        review("v3", "c3", 4, "pl"),
    ])
    land("files", "records", [
        {"_key": "offline_surveys:P-1", "_updated_at": at(1, 14), "_dataset": "offline_surveys",
         "_file": "offline_survey_1.jsonl", "response_id": "P-1", "answered_at": at(1, 14), "nps": 10,
         "channel": "in_person", "email": "BOB@example.org"},
    ])


@contextmanager
def serving_zendesk(api, monkeypatch, *, login: str, password: str, extra: dict) -> Iterator:
    """`api` served on loopback, with the Zendesk connection pointing at it (its extra as given)."""
    from simulators.server import Simulator

    with Simulator(api) as server:
        monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_ZENDESK", json.dumps({
            "conn_type": "http", "host": server.base_url, "login": login, "password": password, "extra": extra}))
        yield server


@contextmanager
def serving_hubspot(api, token: str, monkeypatch) -> Iterator:
    """`api` served on loopback, with the HubSpot connection pointing at it and retrying fast."""
    from simulators.server import Simulator

    with Simulator(api) as server:
        monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_HUBSPOT", json.dumps({
            "conn_type": "http", "host": server.base_url, "password": token,
            "extra": {"retry": {"backoff_initial": 0.01, "jitter": 0.0, "max_attempts": 4}}}))
        yield server


def empty_warehouse(session: warehouse.Warehouse) -> None:
    """Drop every schema cxloop writes, so a module starts from nothing (the migrations run again)."""
    with warehouse.connect(session, autocommit=True) as conn:
        for schema in warehouse.SCHEMAS:
            conn.execute(f'drop schema if exists "{schema}" cascade')


def dbt(*args: str) -> None:
    runner.prepare_warehouse()
    warehouse.run_dbt(list(args))


def customer_of(conn, source: str, source_id: str) -> str:
    """The customer a source record resolved to, as BI sees it."""
    return conn.execute("select customer_id from marts.bridge_customer_source where source = %s and source_id = %s",
                        (source, source_id)).fetchone()[0]


def snapshot(conn) -> dict[str, list[tuple]]:
    return {mart: sorted(conn.execute(f"select * from marts.{mart}").fetchall(), key=repr) for mart in MARTS}
