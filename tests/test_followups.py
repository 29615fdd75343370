"""The follow-up outbox: each alert of the chosen reasons gets one follow-up, whatever reruns.

The shop of test_models raises eight alerts (two of them Alice's, whom the help desk knows as
user 70; four from people who left no email). The help desk here is an in-memory stand-in that
records what it was asked (tests/doubles.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from followups import critical, outbox
from followups.settings import ALERT_REASONS, FollowupSettings
from ingest import warehouse
from tests.doubles import Recorder, RecordingDesk
from tests.shop import dbt as run_dbt
from tests.shop import empty_warehouse, land_the_shop

pytestmark = pytest.mark.integration

NIGHT_END = datetime(2026, 3, 10, tzinfo=UTC)
MARTS_YML = Path(__file__).parents[1] / "dbt_project" / "models" / "marts" / "_marts__models.yml"


@pytest.fixture(scope="module")
def built(warehouse_session):
    empty_warehouse(warehouse_session)
    land_the_shop()
    run_dbt("build", "--select", "+cx_alerts", "+dim_customer", "+bridge_customer_source", "+customer_health",
            "--indirect-selection", "cautious")
    return warehouse_session


@pytest.fixture
def conn(built):
    with warehouse.connect(built, autocommit=True) as db:
        db.execute("truncate followups.outbox")
        yield db


def states(conn) -> list[tuple]:
    return conn.execute("select alert_id, state, requester_id, requester_email, remote_id, attempts "
                        "from followups.outbox order by alert_id").fetchall()


def test_each_alert_of_the_chosen_reasons_becomes_one_intent_with_whom_to_reach(conn):
    decided = outbox.decide(conn, FollowupSettings(reasons=frozenset({"detractor", "bad_csat"})), NIGHT_END)
    assert decided == 6
    assert states(conn) == [
        ("alert:typeform:csat_survey:s3", "pending", None, None, None, 0),
        ("alert:typeform:nps_survey:r5", "pending", 70, "alice@example.com", None, 0),
        ("alert:typeform:nps_survey:r6", "pending", None, None, None, 0),
        ("alert:typeform:nps_survey:r7", "pending", None, None, None, 0),
        ("alert:typeform:nps_survey:r9", "pending", None, None, None, 0),
        ("alert:zendesk:support_rating:2", "pending", 70, "alice@example.com", None, 0),
    ]
    subject, body, external_id = conn.execute(
        "select subject, body, external_id from followups.outbox where alert_id = 'alert:typeform:nps_survey:r5'"
    ).fetchone()
    assert subject == "Follow up: NPS detractor from F1 L1"
    assert body == ("F1 L1 left feedback that needs a follow-up (NPS detractor).\n"
                    "Source: typeform, 2026-03-02 11:00 UTC.\nScore: 0 (0-10).\n\n"
                    "What they wrote:\nsaid r5\n\ncxloop alert alert:typeform:nps_survey:r5")
    assert external_id == "cxloop:alert:typeform:nps_survey:r5"


def test_each_intent_keeps_the_follow_up_sla_of_its_reason(conn):
    settings = FollowupSettings.from_extra({"followups": {"sla_hours": {"detractor": 24, "bad_csat": 4.5},
                                                          "schedule_id": 360000123}}, "cxloop_zendesk")
    outbox.decide(conn, settings, NIGHT_END)
    assert conn.execute("select reason, sla_business_minutes, schedule_id, count(*) from followups.outbox "
                        "group by 1, 2, 3 order by 1").fetchall() == [
        ("bad_csat", 270, 360000123, 2), ("detractor", 1440, 360000123, 4),
        ("high_effort", 2880, 360000123, 1), ("low_star_review", 2880, 360000123, 1)]


def test_an_alert_is_decided_once_however_often_the_night_runs(conn):
    settings = FollowupSettings()
    assert outbox.decide(conn, settings, NIGHT_END) == 8
    assert outbox.decide(conn, settings, NIGHT_END) == 0
    assert len(states(conn)) == 8


def test_alerts_older_than_the_age_limit_get_no_follow_up(conn):
    # Alerts were raised 03-01 to 03-04; a night ending 03-20 with a 17-day limit reaches back to 03-03.
    assert outbox.decide(conn, FollowupSettings(max_age_days=17), datetime(2026, 3, 20, tzinfo=UTC)) == 3
    assert [row[0] for row in states(conn)] == [
        "alert:typeform:ces_survey:s3", "alert:typeform:csat_survey:s3", "alert:typeform:nps_survey:r9"]


def test_delivery_creates_each_follow_up_once_and_fails_where_nobody_can_be_reached(conn):
    desk, settings = RecordingDesk(), FollowupSettings(reasons=frozenset({"detractor", "bad_csat"}))
    outbox.decide(conn, settings, NIGHT_END)
    assert outbox.deliver(conn, desk, settings) == outbox.Delivery(created=2, found=0, failed=4)
    assert sorted(desk.creations) == ["alert:typeform:nps_survey:r5", "alert:zendesk:support_rating:2"]
    assert states(conn)[1] == ("alert:typeform:nps_survey:r5", "created", 70, "alice@example.com", "9000", 1)
    assert conn.execute("select last_error from followups.outbox where alert_id = 'alert:typeform:nps_survey:r6'"
                        ).fetchone() == ("the customer has no help-desk user and no email: nobody to follow up with",)
    # The next night: the created ones are done, the unreachable ones fail again, nothing is created twice.
    assert outbox.deliver(conn, desk, settings) == outbox.Delivery(created=0, found=0, failed=4)
    assert len(desk.creations) == 2


def test_a_follow_up_created_before_a_crash_is_found_not_created_again(conn):
    desk, settings = RecordingDesk(), FollowupSettings(reasons=frozenset({"bad_csat"}))
    outbox.decide(conn, settings, NIGHT_END)
    # The help desk holds the ticket, but the run died before recording it: the row is still pending.
    desk.tickets["cxloop:alert:zendesk:support_rating:2"] = "4711"
    assert outbox.deliver(conn, desk, settings) == outbox.Delivery(created=0, found=1, failed=1)
    assert desk.creations == []
    assert conn.execute("select state, remote_id from followups.outbox where alert_id = "
                        "'alert:zendesk:support_rating:2'").fetchone() == ("created", "4711")


def test_a_refused_creation_is_recorded_and_retried_the_next_night(conn):
    desk, settings = RecordingDesk(), FollowupSettings(reasons=frozenset({"bad_csat"}))
    outbox.decide(conn, settings, NIGHT_END)
    desk.failing.add("cxloop:alert:zendesk:support_rating:2")
    outbox.deliver(conn, desk, settings, ["alert:zendesk:support_rating:2"])
    assert conn.execute("select state, attempts, last_error from followups.outbox where alert_id = "
                        "'alert:zendesk:support_rating:2'").fetchone() == (
        "failed", 1, "zendesk.followups: HTTP 422: requester is suspended "
                     "(https://desk.example/api/v2/tickets.json)")
    desk.failing.clear()
    assert outbox.deliver(conn, desk, settings, ["alert:zendesk:support_rating:2"]).created == 1
    assert conn.execute("select state, attempts, last_error from followups.outbox where alert_id = "
                        "'alert:zendesk:support_rating:2'").fetchone() == ("created", 2, None)


def test_a_dry_run_records_what_it_would_create_and_creates_nothing(conn):
    desk, settings = RecordingDesk(), FollowupSettings(dry_run=True)
    assert outbox.decide(conn, settings, NIGHT_END) == 8
    assert {row[1] for row in states(conn)} == {"dry_run"}
    assert outbox.deliver(conn, desk, settings) == outbox.Delivery()
    # Turning the dry run off later does not create follow-ups for what it saw.
    assert outbox.decide(conn, FollowupSettings(), NIGHT_END) == 0


def test_the_reasons_are_the_alert_marts_reasons():
    models = yaml.safe_load(MARTS_YML.read_text())["models"]
    alerts = next(model for model in models if model["name"] == "cx_alerts")
    reason = next(column for column in alerts["columns"] if column["name"] == "reason")
    accepted = next(test["accepted_values"] for test in reason["data_tests"] if "accepted_values" in test)
    assert frozenset(accepted["arguments"]["values"]) == ALERT_REASONS


@pytest.mark.parametrize(("extra", "message"), [
    ({"followups": {"reasons": ["angry"]}}, "extra.followups.reasons must be some of"),
    ({"followups": {"max_age_days": 0}}, "max_age_days must be a whole number of days >= 1"),
    ({"followups": {"group": 1}}, "unknown extra.followups settings ['group']"),
    ({"followups": {"priority": "asap"}}, "extra.followups.priority must be one of"),
    ({"followups": []}, "extra.followups must be an object"),
    ({"followups": {"sla_hours": {"detractor": 0}}}, "sla_hours must map alert reasons"),
    ({"followups": {"sla_hours": {"angry": 4}}}, "sla_hours must map alert reasons"),
])
def test_settings_that_cannot_work_are_refused_with_what_to_fix(extra, message):
    with pytest.raises(ValueError, match=None) as refused:
        FollowupSettings.from_extra(extra, "cxloop_zendesk")
    assert message in str(refused.value) and "connection cxloop_zendesk" in str(refused.value)


def test_no_followups_block_means_no_follow_ups():
    assert FollowupSettings.from_extra({"start_date": "2026-01-01"}, "cxloop_zendesk") is None
    assert FollowupSettings.from_extra({"followups": {}}, "cxloop_zendesk") == FollowupSettings()


def test_the_nights_critical_alerts_are_one_summary_biggest_customers_first(conn):
    settings = critical.CriticalSettings(reasons=frozenset({"detractor", "bad_csat"}), min_value=Decimal(0), listed=2)
    text = critical.summary(conn, settings, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    # 03-02: Alice's bad rating (08:00) and NPS 0 (11:00), worth her won deal of 1,000; two
    # detractors of no known value.
    assert text == ("4 critical alerts from 2026-03-02 00:00 to 2026-03-03 00:00 UTC:\n"
                    '- F1 L1 (bad_csat, worth 1,000, 2026-03-02 08:00): "rating 2"\n'
                    '- F1 L1 (detractor, worth 1,000, 2026-03-02 11:00): "said r5"\n'
                    "... and 2 more in marts.cx_alerts")


def test_the_summary_goes_through_the_alerts_notifiers_once(conn, monkeypatch):
    monkeypatch.delenv("CXLOOP_NOTIFY_EMAIL", raising=False)
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER", "tests.doubles.Recorder")
    monkeypatch.setenv("CXLOOP_ALERTS_NOTIFIER_ARGS", '{"text": "{{ critical_alerts }}"}')
    Recorder.sent.clear()
    settings = critical.CriticalSettings(min_value=Decimal(500))
    assert critical.notify(conn, settings, datetime(2026, 3, 1, tzinfo=UTC), NIGHT_END, {}) == 1
    assert Recorder.sent == ["1 critical alert from 2026-03-01 00:00 to 2026-03-10 00:00 UTC:\n"
                             '- F1 L1 (detractor, worth 1,000, 2026-03-02 11:00): "said r5"']


def test_a_night_without_critical_alerts_sends_nothing(conn):
    settings = critical.CriticalSettings(min_value=Decimal(10**9))
    assert critical.summary(conn, settings, datetime(2026, 3, 1, tzinfo=UTC), NIGHT_END) is None


def test_a_backfill_decides_no_follow_ups_and_sends_no_alerts(conn, monkeypatch):
    from followups import run

    monkeypatch.setenv("AIRFLOW_CONN_CXLOOP_ZENDESK", '{"conn_type": "http", "host": "https://x.zendesk.com", '
                       '"login": "a@x.example", "password": "t", "extra": {"followups": {}, "critical_alerts": {}}}')
    assert run.close_the_loop(conn, datetime(2026, 3, 1, tzinfo=UTC), NIGHT_END, backfill=True) == {"backfill": True}
    assert states(conn) == []


def test_delivery_refuses_a_connection_that_would_make_every_follow_up_one_transaction(built):
    with warehouse.connect(built) as inside_a_transaction, pytest.raises(ValueError, match="autocommit"):
        outbox.deliver(inside_a_transaction, RecordingDesk(), FollowupSettings())
