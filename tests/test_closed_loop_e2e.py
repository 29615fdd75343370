"""The closed loop end to end on the simulators: a detractor's follow-up ticket, from the night
the detractor lands to the night its solved ticket comes back (issue #18).

A night here is the DAG's night without Airflow, so that the module stays fast: every stream of
every source over the night's window, the build before the enrichment, the enrichment, the build
after it, then the closed-loop step. The quality gate is left out: it only quarantines batches,
and these are clean.

The company's period ends on Wednesday 2026-03-11 00:00 UTC, the simulated help desk's "now"
(`as_of`), which is when it creates tickets. Nights 1 and 2 are the two days before it, Monday
and Tuesday, both run at that now (a deployment catching up); night 3 is Wednesday, the day
starting at it, run once the help desk's clock has moved on to its end. So the follow-up ticket
created on night 1 is made at Wednesday 00:00, inside night 3's window and nobody's before, and
night 3 is the first to read it back, answered and solved.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from dags.cxloop_nightly import BUILD_AFTER_ENRICHMENT, BUILD_BEFORE_ENRICHMENT, SOURCE_STREAMS
from enrichment import analyse
from followups import outbox, run
from ingest import runner, warehouse
from ingest.streams import Window
from simulators import launch
from simulators.company import NPS_FORM, Company
from simulators.zendesk import SCHEDULES, ZendeskApi
from simulators.zendesk import business_minutes as simulator_business_minutes
from tests.shop import dbt, empty_warehouse

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 11, tzinfo=UTC)  # a Wednesday
# Seed 10's 40 customers answer the NPS survey on Monday 03-09 with one detractor (a 6, at 14:08:58).
COMPANY = Company(seed=10, customers=40, end=NOW, days=4)
DAY = timedelta(days=1)
NIGHT_1 = Window(NOW - 2 * DAY, NOW - DAY)
NIGHT_2 = Window(NOW - DAY, NOW)
NIGHT_3 = Window(NOW, NOW + DAY)
SLA_HOURS = 48
LOOP = {"followups": {"reasons": ["detractor"], "max_age_days": 1, "sla_hours": {"detractor": SLA_HOURS}}}
# What the agent does with the follow-up ticket, in calendar minutes after its creation at NOW:
# the first reply at 01:30, the solve at 10:30, both on Wednesday.
REPLY_AFTER_MINUTES, SOLVE_AFTER_MINUTES = 90, 630
SOLVED_AT = NOW + timedelta(minutes=SOLVE_AFTER_MINUTES)
LOOP_COLUMNS = """is_open, followup_state, followup_ticket_id, followup_opened_at, followup_first_reply_minutes,
                  closed_at, time_to_close_minutes, time_to_close_business_minutes, followup_sla_business_minutes,
                  followup_sla_due_at, is_closed_within_sla"""


def detractors_of(window: Window) -> list[tuple[str, datetime, int]]:
    """(alert id, submitted at, score) of the NPS detractors the survey simulator serves in `window`,
    read from the company's generator, not from the warehouse."""
    found = []
    for response in COMPANY.typeform_responses():
        submitted = datetime.fromisoformat(response["submitted_at"])
        if response["_form_id"] != NPS_FORM or not window.start <= submitted < window.end:
            continue
        score = next(answer["number"] for answer in response["answers"] if answer["field"]["ref"] == "nps")
        if score <= 6:
            found.append((f"alert:typeform:nps_survey:{response['token']}", submitted, score))
    return sorted(found)


@dataclass
class Loop:
    """The simulators and what each step of the loop left behind, for the tests to read."""

    api: ZendeskApi
    alert_id: str
    raised_at: datetime
    night_1: dict
    tickets_after_night_1: list[dict]
    outbox_after_night_1: tuple
    backfill_step: dict
    backfill_night: dict
    tickets_after_backfill: list[dict]
    outbox_after_backfill: tuple
    open_before_night_3: tuple
    closed_after_night_3: tuple
    lost_commit_step: dict
    tickets_after_lost_commit: list[dict]
    outbox_after_lost_commit: tuple


def night(window: Window, *, backfill: bool = False) -> dict:
    """One night over `window` as the DAG runs it; what the closed-loop step did."""
    for source, streams in SOURCE_STREAMS.items():
        runner.run_source(source, window, backfill=backfill, streams=list(streams))
    dbt(*BUILD_BEFORE_ENRICHMENT)
    with warehouse.connect() as conn:
        analyse.analyse_pending(conn)
    dbt(*BUILD_AFTER_ENRICHMENT)
    return close_the_loop(window)


def close_the_loop(window: Window) -> dict:
    with warehouse.connect(autocommit=True) as conn:
        return run.close_the_loop(conn, window.start, window.end)


def outbox_row(alert_id: str) -> tuple:
    with warehouse.connect() as conn:
        return conn.execute("select state, remote_id, attempts, created_at from followups.outbox where alert_id = %s",
                            (alert_id,)).fetchone()


def alert_row(alert_id: str) -> tuple:
    with warehouse.connect() as conn:
        return conn.execute(f"select {LOOP_COLUMNS} from marts.cx_alerts where alert_id = %s", (alert_id,)).fetchone()


def tickets_for(api: ZendeskApi, alert_id: str) -> list[dict]:
    """The tickets the help desk created with the alert's external id, whatever created them."""
    return [ticket for ticket in api.created_tickets() if ticket["external_id"] == outbox.external_id(alert_id)]


@pytest.fixture(scope="module")
def loop(warehouse_session, tmp_path_factory) -> Iterator[Loop]:
    empty_warehouse(warehouse_session)
    (alert_id, raised_at, _), = detractors_of(NIGHT_1)
    retry = {"max_attempts": 3, "backoff_initial": 0.01, "backoff_max": 0.05, "jitter": 0.0}
    with launch.start(COMPANY, retry=retry, zendesk_extra=LOOP) as sims, pytest.MonkeyPatch.context() as env:
        for name, value in sims.env.items():
            env.setenv(name, value)
        # dbt's own target folder: other test processes may build the same project meanwhile.
        env.setenv("DBT_TARGET_PATH", str(tmp_path_factory.mktemp("dbt_target")))
        api = sims.servers["zendesk"].api
        night_1 = night(NIGHT_1)
        tickets_after_night_1, outbox_after_night_1 = tickets_for(api, alert_id), outbox_row(alert_id)
        night(NIGHT_2)
        # A backfill over night 1: first its closed-loop step alone, then the whole night again.
        backfill_step = close_the_loop(NIGHT_1)
        backfill_night = night(NIGHT_1, backfill=True)
        tickets_after_backfill, outbox_after_backfill = tickets_for(api, alert_id), outbox_row(alert_id)
        open_before_night_3 = alert_row(alert_id)
        api.work_ticket(int(outbox_after_night_1[1]), REPLY_AFTER_MINUTES, SOLVE_AFTER_MINUTES)
        api.as_of = NIGHT_3.end
        night(NIGHT_3)
        closed_after_night_3 = alert_row(alert_id)
        # A run that created the ticket and then lost its commit leaves the intent pending, with no id.
        with warehouse.connect() as conn:
            conn.execute("update followups.outbox set state = 'pending', remote_id = null where alert_id = %s",
                         (alert_id,))
        lost_commit_step = close_the_loop(NIGHT_1)
        yield Loop(api, alert_id, raised_at, night_1, tickets_after_night_1, outbox_after_night_1, backfill_step,
                   backfill_night, tickets_after_backfill, outbox_after_backfill, open_before_night_3,
                   closed_after_night_3, lost_commit_step, tickets_for(api, alert_id), outbox_row(alert_id))


def test_the_detractor_of_night_1_gets_exactly_one_follow_up_ticket(loop):
    assert loop.night_1["followups"] == {"dry_run": False, "decided": 1, "created": 1, "found": 0, "failed": 0}
    [ticket] = loop.tickets_after_night_1
    # Made at the help desk's now, as a new ticket nobody has answered.
    assert (ticket["status"], ticket["created_at"], ticket["tags"]) == (
        "new", "2026-03-11T00:00:00Z", ["cxloop_followup", "detractor"])
    state, remote_id, attempts, _ = loop.outbox_after_night_1
    assert (state, remote_id, attempts) == ("created", str(ticket["id"]), 1)


def test_a_backfill_over_night_1_creates_no_second_ticket(loop):
    assert loop.backfill_step["followups"] == {"dry_run": False, "decided": 0, "created": 0, "found": 0,
                                               "failed": 0}
    assert loop.backfill_night["followups"] == loop.backfill_step["followups"]
    assert loop.tickets_after_backfill == loop.tickets_after_night_1
    assert loop.outbox_after_backfill == loop.outbox_after_night_1


def test_a_rerun_after_a_lost_commit_finds_the_ticket_by_its_external_id_and_creates_none(loop):
    assert loop.lost_commit_step["followups"] == {"dry_run": False, "decided": 0, "created": 0, "found": 1,
                                                  "failed": 0}
    assert [ticket["id"] for ticket in loop.tickets_after_lost_commit] == [
        ticket["id"] for ticket in loop.tickets_after_night_1]
    state, remote_id, attempts, _ = loop.outbox_after_lost_commit
    assert (state, remote_id, attempts) == ("created", loop.outbox_after_night_1[1], 2)


def test_the_alert_stays_open_until_its_ticket_comes_back_solved(loop):
    ticket_id = int(loop.outbox_after_night_1[1])
    # Not read back yet: the ticket was made at the help desk's now, which no export has served.
    assert loop.open_before_night_3[:6] == (True, "created", ticket_id, None, None, None)


def test_the_ticket_solved_on_night_3_closes_the_alert_with_its_time_to_close_in_business_hours(loop):
    # The schedule the help desk serves and cxloop lands, which the arithmetic below assumes:
    # one schedule first, Monday to Friday 09:00-17:00 in UTC, with no holiday from the alert's
    # Monday to the solve's Wednesday.
    support = loop.api.schedules()[0]
    assert (support["id"], support["time_zone"]) == (SCHEDULES[0]["id"], "UTC")
    assert support["intervals"] == [{"start_time": day * 1440 + 9 * 60, "end_time": day * 1440 + 17 * 60}
                                    for day in range(1, 6)]
    assert loop.api.holidays(support["id"], date(2026, 3, 9), date(2026, 3, 17)) == []
    assert loop.raised_at == datetime(2026, 3, 9, 14, 8, 58, tzinfo=UTC)
    # Raised Monday 03-09 14:08:58, solved Wednesday 03-11 10:30:00.
    # Business minutes: Monday 14:08:58-17:00 (171 min 2 s) + Tuesday 09:00-17:00 (480) +
    # Wednesday 09:00-10:30 (90) = 741 min 2 s, 741 in whole minutes.
    # Calendar minutes: 44 h 21 min 2 s = 2,661 min 2 s, 2,661 in whole minutes.
    # The SLA's 48 business hours (2,880 min): Monday 171 min 2 s, then five full days to
    # Monday 03-16 (2,400; 2,571 min 2 s in all), and Tuesday 03-17 the last 308 min 58 s from
    # 09:00: due 14:08:58, six business days after the alert.
    business, calendar = 741, 2661
    assert simulator_business_minutes(int(loop.raised_at.timestamp()), int(SOLVED_AT.timestamp())) == business
    assert loop.closed_after_night_3 == (
        False, "created", int(loop.outbox_after_night_1[1]), NOW, REPLY_AFTER_MINUTES, SOLVED_AT, calendar, business,
        SLA_HOURS * 60, datetime(2026, 3, 17, 14, 8, 58, tzinfo=UTC), True)
