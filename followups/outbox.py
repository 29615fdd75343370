"""The outbox: which follow-ups should exist, and what became of each.

`decide` turns the night's alerts into intents (state `pending`, or `dry_run`); an alert already
in the outbox is never decided again, whatever its state. `deliver` creates each pending (or
previously failed) intent through a help desk, one transaction per intent: the row is locked,
the help desk is asked for a follow-up with the intent's external id first and only then asked
to create one, and the row records the id and its new state before the lock is released. A
crash between the creation and the commit leaves the row pending; the next run finds the
follow-up by its external id and records it, creating nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import psycopg

from followups.settings import FollowupSettings
from ingest.http import SourceHTTPError

log = logging.getLogger(__name__)

EXTERNAL_ID_PREFIX = "cxloop:"
TARGET = "zendesk_ticket"

# The night's alerts of the chosen reasons, with what a person needs to act: who (the customer's
# help-desk user, else their email), what they said and the score they gave.
CANDIDATES = """
select alerts.alert_id, alerts.customer_id, alerts.reason, alerts.source, alerts.raised_at, alerts.verbatim,
       touchpoints.score, touchpoints.score_scale, customers.email, customers.full_name,
       (select min(bridge.source_id::bigint) from marts.bridge_customer_source as bridge
        where bridge.customer_id = alerts.customer_id and bridge.source = 'zendesk'
          and bridge.source_id ~ '^[0-9]{1,18}$') as requester_id
from marts.cx_alerts as alerts
left join marts.fct_touchpoints as touchpoints on touchpoints.touchpoint_id = alerts.touchpoint_id
left join marts.dim_customer as customers on customers.customer_id = alerts.customer_id
where alerts.reason = any(%(reasons)s)
  and alerts.raised_at >= %(since)s and alerts.raised_at < %(until)s
  and not exists (select from followups.outbox as decided where decided.alert_id = alerts.alert_id)
order by alerts.raised_at, alerts.alert_id
"""
INSERT = """
insert into followups.outbox (alert_id, customer_id, reason, target, external_id, state, subject, body,
                              requester_id, requester_email, requester_name, sla_business_minutes, schedule_id)
values (%(alert_id)s, %(customer_id)s, %(reason)s, %(target)s, %(external_id)s, %(state)s, %(subject)s, %(body)s,
        %(requester_id)s, %(requester_email)s, %(requester_name)s, %(sla)s, %(schedule_id)s)
on conflict (alert_id) do nothing
"""
DUE = "select alert_id from followups.outbox where state in ('pending', 'failed') order by decided_at, alert_id"
LOCK = """
select alert_id, reason, external_id, subject, body, requester_id, requester_email, requester_name
from followups.outbox where alert_id = %s and state in ('pending', 'failed')
for update skip locked
"""
REASON_WORDS = {"detractor": "NPS detractor", "bad_csat": "unhappy with support (CSAT)",
                "low_star_review": "low-star review", "high_effort": "high customer effort (CES)"}


@dataclass(frozen=True)
class Intent:
    """One follow-up to create: who it is for and what the agent reads."""

    alert_id: str
    reason: str
    external_id: str
    subject: str
    body: str
    requester_id: int | None
    requester_email: str | None
    requester_name: str | None


class HelpDesk(Protocol):
    def find(self, external_id: str) -> str | None: ...

    def create(self, intent: Intent, settings: FollowupSettings) -> str: ...


@dataclass(frozen=True)
class Delivery:
    created: int = 0
    found: int = 0
    failed: int = 0


def external_id(alert_id: str) -> str:
    return EXTERNAL_ID_PREFIX + alert_id


def _render(row: dict) -> tuple[str, str]:
    what = REASON_WORDS.get(row["reason"], row["reason"])
    who = row["full_name"] or row["email"] or row["customer_id"]
    subject = f"Follow up: {what} from {who}"
    lines = [f"{who} left feedback that needs a follow-up ({what}).",
             f"Source: {row['source']}, {row['raised_at']:%Y-%m-%d %H:%M} UTC."]
    if row["score"] is not None:
        # A Decimal of the scale's precision: 9.00 is shown as 9.
        lines.append(f"Score: {row['score'].normalize():f} ({row['score_scale']}).")
    if row["verbatim"]:
        lines += ["", "What they wrote:", row["verbatim"]]
    lines += ["", f"cxloop alert {row['alert_id']}"]
    return subject, "\n".join(lines)


def decide(conn: psycopg.Connection, settings: FollowupSettings, night_end: datetime) -> int:
    """Record an intent for each alert of the chosen reasons raised in the last `max_age_days`; how many."""
    since = night_end - timedelta(days=settings.max_age_days)
    state = "dry_run" if settings.dry_run else "pending"
    with conn.transaction(), conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(CANDIDATES, {"reasons": sorted(settings.reasons), "since": since,
                                        "until": night_end}).fetchall()
        for row in rows:
            subject, body = _render(row)
            cur.execute(INSERT, {"alert_id": row["alert_id"], "customer_id": row["customer_id"],
                                 "reason": row["reason"], "target": TARGET, "external_id": external_id(row["alert_id"]),
                                 "state": state, "subject": subject, "body": body,
                                 "requester_id": row["requester_id"], "requester_email": row["email"],
                                 "requester_name": row["full_name"],
                                 "sla": settings.sla_business_minutes(row["reason"]),
                                 "schedule_id": settings.schedule_id})
    log.info("decided %d follow-ups (%s)", len(rows), state)
    return len(rows)


def _due(conn: psycopg.Connection) -> list[str]:
    return [alert_id for (alert_id,) in conn.execute(DUE).fetchall()]


def deliver(conn: psycopg.Connection, desk: HelpDesk, settings: FollowupSettings,
            alert_ids: Iterable[str] | None = None) -> Delivery:
    """Create every due follow-up once; one transaction per follow-up, so `conn` must autocommit.

    Inside a caller's transaction each follow-up would only be a savepoint: a failure at the
    300th would roll back the 299 ids recorded before it, and hold every row's lock until then.
    """
    if not conn.autocommit:
        raise ValueError("outbox.deliver needs an autocommit connection: each follow-up commits on its own")
    created = found = failed = 0
    for alert_id in list(alert_ids) if alert_ids is not None else _due(conn):
        with conn.transaction():
            row = conn.execute(LOCK, (alert_id,)).fetchone()
            if row is None:
                continue  # delivered meanwhile, or another run holds it
            intent = Intent(*row)
            if intent.requester_id is None and not intent.requester_email:
                _failed(conn, alert_id, "the customer has no help-desk user and no email: nobody to follow up with")
                failed += 1
                continue
            try:
                remote_id = desk.find(intent.external_id)
                if remote_id is not None:
                    found += 1
                else:
                    remote_id = desk.create(intent, settings)
                    created += 1
            except SourceHTTPError as exc:
                _failed(conn, alert_id, str(exc))
                failed += 1
                continue
            conn.execute("""update followups.outbox set state = 'created', remote_id = %s, created_at = now(),
                            attempts = attempts + 1, last_error = null, updated_at = now()
                            where alert_id = %s""", (remote_id, alert_id))
    log.info("follow-ups: %d created, %d found already created, %d failed", created, found, failed)
    return Delivery(created, found, failed)


def _failed(conn: psycopg.Connection, alert_id: str, error: str) -> None:
    conn.execute("""update followups.outbox set state = 'failed', attempts = attempts + 1, last_error = %s,
                    updated_at = now() where alert_id = %s""", (error, alert_id))
