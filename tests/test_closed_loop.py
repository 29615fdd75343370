"""An alert is closed by its own follow-up ticket being solved, and by nothing else.

The shop of test_models: Alice's detractor answer r5 (Monday 2026-03-02 11:00, NPS 0) gets a
follow-up ticket through the outbox, under a 24-business-hour SLA; nights later the help desk's
export brings that ticket back, first answered, then solved. Meanwhile Alice comments on it
herself and her CRM contact changes: the alert stays open until the solve.

The help desk works Monday to Friday, 09:00-17:00 in London (UTC in March, before summer
time), and Tuesday 03-03 is a holiday. So the SLA's 1,440 business minutes are Monday
11:00-17:00 (360), Wednesday (480), Thursday (480) and Friday 09:00-11:00 (120): due Friday
03-06 11:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from followups import outbox
from followups.settings import FollowupSettings
from ingest import warehouse
from tests.doubles import RecordingDesk
from tests.shop import at, contact, empty_warehouse, land, land_the_shop, metrics, response, ticket
from tests.shop import dbt as run_dbt

pytestmark = pytest.mark.integration

ALERT = "alert:typeform:nps_survey:r5"
SELECTION = ("build", "--select", "+kpi_closed_loop_daily", "+dim_customer", "+bridge_customer_source",
             "--indirect-selection", "cautious")
LOOP_COLUMNS = """is_open, followup_state, followup_ticket_id, followup_opened_at, followup_first_reply_minutes,
                  closed_at, time_to_close_minutes, time_to_close_business_minutes, followup_sla_business_minutes,
                  followup_sla_due_at, is_closed_within_sla, next_score"""
DUE = datetime(2026, 3, 6, 11, tzinfo=UTC)


def alert(conn) -> tuple:
    return conn.execute(f"select {LOOP_COLUMNS} from marts.cx_alerts where alert_id = %s", (ALERT,)).fetchone()


def working_week(schedule_id: int, zone: str) -> dict:
    # Monday to Friday, 09:00-17:00: minutes since Sunday 00:00.
    days = range(1, 6)
    return {"id": schedule_id, "name": "Support", "time_zone": zone, "created_at": at(1, 0, month=1),
            "updated_at": at(1, 0, month=1),
            "intervals": [{"start_time": day * 1440 + 540, "end_time": day * 1440 + 1020} for day in days]}


def followup_ticket(status: str, updated: str) -> dict:
    # Created by the follow-up step on 03-03 at 06:00, for Alice (Zendesk user 70).
    return {**ticket(9000, 70, "email", "2026-03-03T06:00:00Z", status), "updated_at": updated,
            "external_id": outbox.external_id(ALERT), "subject": "Follow up: NPS detractor from F1 L1"}


@pytest.fixture(scope="module")
def conn(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_shop()
    land("zendesk", "schedules", [working_week(360000123, "London"),
                                  working_week(360000124, "Pacific Time (US & Canada)")])
    land("zendesk", "schedule_holidays", [{"id": 1, "schedule_id": 360000123, "name": "Founders' day",
                                           "start_date": "2026-03-03", "end_date": "2026-03-03",
                                           "_updated_at": at(1, 0, month=1)}])
    land("zendesk", "time_zones", [{"name": "London", "iana_name": "Europe/London", "translated_name": "London",
                                    "offset": 0, "formatted_offset": "GMT+00:00", "_updated_at": at(1, 0, month=1)},
                                   {"name": "Pacific Time (US & Canada)", "iana_name": "America/Los_Angeles",
                                    "translated_name": "Pacific Time (US & Canada)", "offset": -480,
                                    "formatted_offset": "GMT-08:00", "_updated_at": at(1, 0, month=1)}])
    run_dbt(*SELECTION)
    with warehouse.connect(warehouse_session, autocommit=True) as db:
        settings = FollowupSettings(reasons=frozenset({"detractor"}), sla_hours=(("detractor", 24),))
        outbox.decide(db, settings, datetime(2026, 3, 3, tzinfo=UTC))
        desk = RecordingDesk()
        outbox.deliver(db, desk, settings, [ALERT])
        assert desk.tickets == {outbox.external_id(ALERT): "9000"}
        yield db


def test_a_created_follow_up_shows_on_its_alert_which_stays_open_until_the_ticket_is_back(conn):
    run_dbt(*SELECTION)
    assert alert(conn) == (True, "created", 9000, None, None, None, None, None, 1440, DUE, None, None)


def test_neither_the_customers_own_comment_nor_a_crm_change_closes_the_alert(conn):
    # The ticket is back in the export, answered by an agent after 90 minutes; Alice then
    # comments on it herself (its latest comment moves) and her CRM contact changes owner.
    land("zendesk", "tickets", [followup_ticket("open", "2026-03-03T09:00:00Z")])
    land("zendesk", "ticket_metrics", [{**metrics(9000, 90, None, None, 0, last_comment="2026-03-03T09:00:00Z"),
                                        "updated_at": "2026-03-03T09:00:00Z"}])
    land("hubspot", "contacts", [{**contact("1", " Alice@Example.com ", "+44 20 7946 0001", company="900",
                                            owner="o3"), "updatedAt": "2026-03-03T10:00:00Z"}])
    run_dbt(*SELECTION)
    assert alert(conn) == (True, "created", 9000, datetime(2026, 3, 3, 6, tzinfo=UTC), 90, None, None, None, 1440,
                           DUE, None, None)


def test_the_follow_up_ticket_solved_closes_the_alert_with_its_time_to_close(conn):
    land("zendesk", "tickets", [followup_ticket("solved", at(4, 15))])
    land("zendesk", "ticket_metrics", [{**metrics(9000, 90, at(4, 15), 1980, 0, last_comment=at(4, 15)),
                                        "updated_at": at(4, 15)}])
    run_dbt(*SELECTION)
    # Raised Monday 11:00, solved Wednesday 15:00: 52 hours, of which Monday 11:00-17:00 and
    # Wednesday 09:00-15:00 are business hours (Tuesday is the holiday): 720 minutes, in time.
    assert alert(conn) == (False, "created", 9000, datetime(2026, 3, 3, 6, tzinfo=UTC), 90,
                           datetime(2026, 3, 4, 15, tzinfo=UTC), 52 * 60, 720, 1440, DUE, True, None)
    # 03-02's detractors: r5 (followed up and closed), r6 and r7 (decided, not delivered yet).
    assert conn.execute("select * from marts.kpi_closed_loop_daily where date = '2026-03-02' and reason = 'detractor'"
                        ).fetchone() == (date(2026, 3, 2), "detractor", 3, 1, 1, 1, Decimal("720.0"), Decimal("3120.0"))


def test_the_outcome_is_the_customers_next_answer_of_the_same_kind(conn):
    land("typeform", "responses", [response("r20", at(9, 10), "alice@example.com", nps=8)])
    run_dbt(*SELECTION)
    assert alert(conn)[-1] == Decimal("8.00")


def test_a_reopened_follow_up_reopens_the_alert_and_a_full_refresh_agrees(conn):
    land("zendesk", "tickets", [followup_ticket("open", at(10, 9))])
    run_dbt(*SELECTION)
    assert alert(conn)[0] is True
    incremental = conn.execute("select * from marts.cx_alerts order by alert_id").fetchall()
    run_dbt(*SELECTION, "--full-refresh")
    assert conn.execute("select * from marts.cx_alerts order by alert_id").fetchall() == incremental


def test_business_hours_follow_each_days_offset_and_skip_holidays(conn):
    openings = conn.execute(
        """select schedule_id, opens_at, closes_at from intermediate.int_business_hours
           where day between '2026-03-02' and '2026-03-09' order by schedule_id, opens_at""").fetchall()
    london = [(opens, closes) for schedule, opens, closes in openings if schedule == 360000123]
    pacific = [(opens, closes) for schedule, opens, closes in openings if schedule == 360000124]
    # London: Monday, then Wednesday to Friday (Tuesday's holiday), then Monday 03-09.
    assert [opens.day for opens, _ in london] == [2, 4, 5, 6, 9]
    assert london[0] == (datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 17, tzinfo=UTC))
    # Los Angeles moves to summer time on Sunday 03-08: 09:00 is 17:00 UTC on Friday, 16:00 on Monday.
    assert pacific[4] == (datetime(2026, 3, 6, 17, tzinfo=UTC), datetime(2026, 3, 7, 1, tzinfo=UTC))
    assert pacific[5] == (datetime(2026, 3, 9, 16, tzinfo=UTC), datetime(2026, 3, 10, 0, tzinfo=UTC))
