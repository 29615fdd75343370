"""fct_tickets: one row per ticket with its calendar and business minutes, SLAs and rating; and
kpi_support_daily per day, channel, priority and group.

A hand-built help desk: tickets with Zendesk's metrics, ticket metric events that apply,
fulfil and breach SLAs (in business hours and in calendar time), and satisfaction ratings. Each
expected figure is worked out by hand next to the data.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ingest import warehouse
from ingest.streams import tombstone
from tests.shop import at, empty_warehouse, land, land_the_shop, metrics, rating, ticket
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

SLA_COLUMNS = """first_reply_sla_minutes, is_first_reply_sla_breached, resolution_sla_minutes,
                 is_resolution_sla_breached, next_reply_slas, next_reply_sla_breaches, is_sla_in_business_hours"""


def event(event_id: int, ticket_id: int, metric: str, instance: int, kind: str, when: str, **extra) -> dict:
    return {"id": event_id, "ticket_id": ticket_id, "metric": metric, "instance_id": instance, "type": kind,
            "time": when, "deleted": False, **extra}


def applied(event_id: int, ticket_id: int, metric: str, instance: int, when: str, target: int,
            business_hours: bool) -> dict:
    return event(event_id, ticket_id, metric, instance, "apply_sla", when,
                 sla={"target": target, "target_in_seconds": target * 60, "business_hours": business_hours,
                      "policy": {"id": 36, "title": "Enterprise", "description": "Tier 1"}})


def status(event_id: int, ticket_id: int, metric: str, instance: int, when: str, calendar: int,
           business: int) -> dict:
    return event(event_id, ticket_id, metric, instance, "update_status", when,
                 status={"calendar": calendar, "business": business})


def with_business_minutes(record: dict, reply_business: int, resolution_business: int | None) -> dict:
    return {**record, "reply_time_in_minutes": {**record["reply_time_in_minutes"], "business": reply_business},
            "full_resolution_time_in_minutes": {**record["full_resolution_time_in_minutes"],
                                                "business": resolution_business}}


def priority(record: dict, value: str, assignee: int) -> dict:
    return {**record, "priority": value, "assignee_id": assignee}


@pytest.fixture(scope="module")
def conn(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_shop()
    land("zendesk", "tickets", [
        priority(ticket(50, 70, "email", at(2, 9), "solved"), "urgent", 900),
        priority(ticket(51, 71, "web", at(2, 10), "open"), "high", 901),
        priority(ticket(52, 72, "web", at(2, 11), "solved"), "normal", 900),
        ticket(53, 73, "email", at(2, 12), "solved"),
        priority(ticket(54, 74, "email", at(2, 13), "open"), "low", 902),
    ])
    land("zendesk", "ticket_metrics", [
        # Created Monday 09:00, first reply at 10:30 (90 calendar minutes); the schedule opened at
        # 10:00, so 30 business minutes. Solved the next day after 1,560 calendar minutes, 500 of
        # them inside the schedule.
        with_business_minutes(metrics(50, 90, at(3, 11), 1_560, 0, at(3, 11)), 30, 500),
        metrics(51, 0, None, None, 0, at(2, 10)),
        metrics(52, 15, at(2, 17), 360, 0, at(2, 17)),
        metrics(53, 5, at(2, 13), 60, 0, at(2, 13)),
        metrics(54, 0, None, None, 1, at(3, 9)),
    ])
    land("zendesk", "ticket_metric_events", [
        # 50: first reply SLA 60 business minutes, met (30); resolution SLA 480 business minutes,
        # missed (500), though nobody sent a breach event.
        applied(1, 50, "reply_time", 1, at(2, 9), 60, True),
        event(2, 50, "reply_time", 1, "activate", at(2, 9)),
        event(3, 50, "reply_time", 1, "fulfill", "2026-03-02T10:30:00Z"),
        status(4, 50, "reply_time", 1, "2026-03-02T10:30:00Z", 90, 30),
        applied(5, 50, "resolution_time", 1, at(2, 9), 480, True),
        event(6, 50, "resolution_time", 1, "activate", at(2, 9)),
        event(7, 50, "resolution_time", 1, "fulfill", at(3, 11)),
        status(8, 50, "resolution_time", 1, at(3, 11), 1_560, 500),
        # 51: first reply SLA 30 calendar minutes, still running and breached (Zendesk said so);
        # the resolution's breach event was withdrawn (deleted), so it is not breached.
        applied(10, 51, "reply_time", 1, at(2, 10), 30, False),
        event(11, 51, "reply_time", 1, "activate", at(2, 10)),
        event(12, 51, "reply_time", 1, "breach", "2026-03-02T10:30:00Z"),
        applied(13, 51, "resolution_time", 1, at(2, 10), 2_880, False),
        event(14, 51, "resolution_time", 1, "activate", at(2, 10)),
        {**event(15, 51, "resolution_time", 1, "breach", at(4, 10)), "deleted": True},
        # 52: the first reply's SLA was re-applied when the priority changed: the later target (20)
        # counts, and 15 minutes meet it. Two next replies: 45 of 60 minutes met, 120 of 60 missed.
        applied(20, 52, "reply_time", 1, at(2, 11), 10, False),
        applied(21, 52, "reply_time", 1, "2026-03-02T11:05:00Z", 20, False),
        event(22, 52, "reply_time", 1, "fulfill", "2026-03-02T11:15:00Z"),
        status(23, 52, "reply_time", 1, "2026-03-02T11:15:00Z", 15, 15),
        applied(24, 52, "reply_time", 2, at(2, 13), 60, False),
        event(25, 52, "reply_time", 2, "fulfill", "2026-03-02T13:45:00Z"),
        status(26, 52, "reply_time", 2, "2026-03-02T13:45:00Z", 45, 45),
        applied(27, 52, "reply_time", 3, at(2, 14), 60, False),
        event(28, 52, "reply_time", 3, "fulfill", at(2, 16)),
        status(29, 52, "reply_time", 3, at(2, 16), 120, 120),
        # 54: solved (fulfilled) then reopened (activated again): its resolution runs again,
        # unbreached so far.
        applied(40, 54, "resolution_time", 1, at(2, 13), 600, True),
        event(41, 54, "resolution_time", 1, "activate", at(2, 13)),
        event(42, 54, "resolution_time", 1, "fulfill", at(2, 15)),
        status(43, 54, "resolution_time", 1, at(2, 15), 120, 120),
        event(44, 54, "resolution_time", 1, "activate", at(3, 9)),
    ])
    land("zendesk", "satisfaction_ratings", [
        rating(60, 53, 73, "good", at(2, 14)),
        rating(61, 53, 73, "bad", at(3, 8)),        # the latest rating is the ticket's
        rating(62, 52, 72, "offered", at(2, 18)),   # offered, never answered: no rating
    ])
    run_dbt("build", "--select", "+fct_tickets", "--indirect-selection", "cautious")
    with warehouse.connect(warehouse_session, autocommit=True) as db:
        yield db


def ticket_row(conn, ticket_id: int, columns: str) -> tuple:
    return conn.execute(f"select {columns} from marts.fct_tickets where ticket_id = %s", (ticket_id,)).fetchone()


def test_a_ticket_keeps_zendesk_calendar_and_business_minutes(conn):
    assert ticket_row(conn, 50, """priority, assignee_id, first_reply_minutes, first_reply_business_minutes,
                                   full_resolution_minutes, full_resolution_business_minutes""") == (
        "urgent", 900, 90, 30, 1_560, 500)


def test_a_business_hours_sla_is_judged_on_business_minutes(conn):
    # First reply 30 business minutes ≤ 60: met, though 90 calendar minutes passed; resolution
    # 500 > 480: breached without any breach event.
    assert ticket_row(conn, 50, SLA_COLUMNS) == (60, False, 480, True, 0, 0, True)


def test_a_running_sla_is_breached_only_by_a_breach_event_that_was_not_withdrawn(conn):
    assert ticket_row(conn, 51, SLA_COLUMNS) == (30, True, 2_880, False, 0, 0, False)


def test_the_latest_applied_target_counts_and_next_replies_are_counted_one_by_one(conn):
    assert ticket_row(conn, 52, SLA_COLUMNS) == (20, False, None, None, 2, 1, False)


def test_a_reopened_tickets_resolution_runs_again(conn):
    assert conn.execute(
        """select is_fulfilled, fulfilled_at, achieved_sla_minutes, is_breached from intermediate.int_ticket_slas
           where ticket_id = 54 and sla_metric = 'total_resolution_time'""").fetchone() == (False, None, None, False)


def test_a_ticket_without_a_policy_has_no_sla_and_its_latest_rating(conn):
    assert ticket_row(conn, 53, SLA_COLUMNS + ", csat_rating") == (None, None, None, None, 0, 0, None, "bad")
    assert ticket_row(conn, 52, "csat_rating") == (None,)


def test_bi_reads_the_tickets(conn):
    assert conn.execute("select has_table_privilege('cxloop_bi', 'marts.fct_tickets', 'select')").fetchone() == (True,)


def test_a_night_rebuilds_changed_tickets_drops_deleted_ones_and_agrees_with_a_full_refresh(conn):
    # Ticket 51's first reply is fulfilled after 45 minutes (its SLA was already breached);
    # ticket 53 is deleted in Zendesk.
    land("zendesk", "ticket_metric_events", [
        event(16, 51, "reply_time", 1, "fulfill", "2026-03-02T10:45:00Z"),
        status(17, 51, "reply_time", 1, "2026-03-02T10:45:00Z", 45, 45),
    ])
    land("zendesk", "tickets", [tombstone({"id": 53}, at(5, 9))])
    run_dbt("build", "--select", "+fct_tickets", "--indirect-selection", "cautious")
    incremental = conn.execute("select * from marts.fct_tickets order by ticket_id").fetchall()
    # The shop's own tickets 1 to 3 stay.
    assert [row[0] for row in incremental] == [1, 2, 3, 50, 51, 52, 54]
    assert ticket_row(conn, 51, "is_first_reply_sla_breached") == (True,)

    run_dbt("build", "--select", "+fct_tickets", "--indirect-selection", "cautious", "--full-refresh")
    rebuilt = conn.execute("select * from marts.fct_tickets order by ticket_id").fetchall()
    # loaded_at is when the newest data landed: the same either way.
    assert rebuilt == incremental


def in_group(record: dict, value: str | None, group: int | None) -> dict:
    return {**record, "priority": value, "group_id": group}


SUPPORT_ROW = """priority, group_id, tickets_created, tickets_solved, backlog_open, median_first_reply_minutes,
                 median_first_reply_business_minutes, median_full_resolution_minutes,
                 median_full_resolution_business_minutes, reopened"""


def phone_support_on_march_10(conn) -> list[tuple]:
    return conn.execute(f"""select {SUPPORT_ROW} from marts.kpi_support_daily
                            where channel = 'phone' and date = '2026-03-10'
                            order by priority, group_id""").fetchall()


def test_support_kpis_are_per_priority_and_group_with_business_minute_medians(conn):
    # Six phone tickets on 03-10: three high in group 7001, two low in group 7002, one low in no group.
    land("zendesk", "tickets", [
        in_group(ticket(80, 70, "voice", at(10, 9), "solved"), "high", 7001),
        in_group(ticket(81, 70, "voice", at(10, 10), "solved"), "high", 7001),
        in_group(ticket(82, 70, "voice", at(10, 11), "open"), "high", 7001),
        in_group(ticket(83, 70, "voice", at(10, 9), "open"), "low", 7002),
        in_group(ticket(84, 70, "voice", at(10, 12), "solved"), "low", 7002),
        in_group(ticket(85, 70, "voice", at(10, 13), "open"), "low", None),
    ])
    land("zendesk", "ticket_metrics", [
        # metrics(ticket, calendar reply, solved, calendar resolution, reopens, last comment), then
        # the business reply and resolution. 83 was answered after hours: 0 business minutes.
        with_business_minutes(metrics(80, 30, at(10, 14), 300, 0, at(10, 14)), 20, 240),
        with_business_minutes(metrics(81, 90, at(10, 16), 360, 1, at(10, 16)), 60, 300),
        with_business_minutes(metrics(82, 60, None, None, 0, at(10, 12)), 45, None),
        with_business_minutes(metrics(83, 120, None, None, 0, at(10, 11)), 0, None),
        with_business_minutes(metrics(84, 240, at(10, 18), 360, 0, at(10, 18)), 180, 300),
        with_business_minutes(metrics(85, 10, None, None, 0, at(10, 13)), 10, None),
    ])
    run_dbt("build", "--select", "+kpi_support_daily", "--indirect-selection", "cautious")

    # high/7001: replies 30, 60, 90 (business 20, 45, 60); solved 80 and 81: 300 and 360 (240 and
    # 300); one of them had reopened; 82 is still open. low/7002: replies 120 and 240 (0 and 180);
    # 84 solved in 360 (300); 83 open. low/no group (0): 85 alone, open.
    assert phone_support_on_march_10(conn) == [
        ("high", 7001, 3, 2, 1, Decimal("60.0"), Decimal("45.0"), Decimal("330.0"), Decimal("270.0"), 1),
        ("low", 0, 1, 0, 1, Decimal("10.0"), Decimal("10.0"), None, None, 0),
        ("low", 7002, 2, 1, 1, Decimal("180.0"), Decimal("90.0"), Decimal("360.0"), Decimal("300.0"), 0),
    ]
    # Counts re-aggregate over priority and group: the day's phone figures per channel.
    assert conn.execute("""select sum(tickets_created), sum(tickets_solved), sum(backlog_open), sum(reopened)
                           from marts.kpi_support_daily where channel = 'phone' and date = '2026-03-10'
                           """).fetchone() == (6, 3, 3, 1)

    # Night 2: ticket 82 is moved to the low priority and group 7002. Its old series loses it on
    # the day it was created; its new one gains it (replies 60, 120, 240; business 0, 45, 180).
    land("zendesk", "tickets", [{**in_group(ticket(82, 70, "voice", at(10, 11), "open"), "low", 7002),
                                 "updated_at": at(11, 9)}])
    run_dbt("build", "--select", "+kpi_support_daily", "--indirect-selection", "cautious")
    assert phone_support_on_march_10(conn) == [
        ("high", 7001, 2, 2, 0, Decimal("60.0"), Decimal("40.0"), Decimal("330.0"), Decimal("270.0"), 1),
        ("low", 0, 1, 0, 1, Decimal("10.0"), Decimal("10.0"), None, None, 0),
        ("low", 7002, 3, 1, 2, Decimal("120.0"), Decimal("45.0"), Decimal("360.0"), Decimal("300.0"), 0),
    ]
    incremental = conn.execute("select * from marts.kpi_support_daily order by date, channel, priority, group_id"
                               ).fetchall()

    run_dbt("build", "--select", "+kpi_support_daily", "--indirect-selection", "cautious", "--full-refresh")
    assert conn.execute("select * from marts.kpi_support_daily order by date, channel, priority, group_id"
                        ).fetchall() == incremental
