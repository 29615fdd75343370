"""The closed-loop step of a night, after the build: follow-ups, then the critical-alerts message.

Called by the DAG with the run's data interval; both parts are opted into in the help desk
connection's extra (`followups`, `critical_alerts`), and without them the step does nothing and
says so.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

import psycopg

from followups import critical, outbox
from followups import zendesk as zendesk_desk
from followups.settings import FollowupSettings
from ingest.connections import get_connection

log = logging.getLogger(__name__)


def close_the_loop(conn: psycopg.Connection, since: datetime, until: datetime,
                   context: dict[str, Any] | None = None, *, backfill: bool = False) -> dict:
    """What the night's step did, as a summary for the task's return value and the logs.

    A backfill re-builds past days; it does nothing here. Reaching out to customers about feedback
    that old, or telling the CX team about last month's detractors as if they were new, is what a
    backfill must not do; the outbox also keeps a re-run of a night that already ran from
    creating anything twice.
    """
    if backfill:
        log.info("a backfill of [%s, %s): no follow-ups decided, no alerts sent", since, until)
        return {"backfill": True}
    connection = get_connection(zendesk_desk.zendesk.CONN_ID)
    extra = dict(connection.extra_dejson or {}) if connection is not None else {}
    done: dict[str, Any] = {}
    settings = FollowupSettings.from_extra(extra, zendesk_desk.zendesk.CONN_ID)
    if settings is None:
        log.info("no follow-ups configured (connection %s has no extra.followups)", zendesk_desk.zendesk.CONN_ID)
    else:
        desk = zendesk_desk.from_connection(connection)
        decided = outbox.decide(conn, settings, until)
        delivered = outbox.Delivery() if settings.dry_run else outbox.deliver(conn, desk, settings)
        done["followups"] = {"dry_run": settings.dry_run, "decided": decided, **asdict(delivered)}
    alerting = critical.CriticalSettings.from_extra(extra, zendesk_desk.zendesk.CONN_ID)
    if alerting is not None:
        done["critical_alert_notifiers"] = critical.notify(conn, alerting, since, until, context or {})
    return done
