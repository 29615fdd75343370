"""The night's critical alerts, told to the CX team in one message per run (never one per alert).

Critical: an alert of a critical reason (default: detractors) raised in the night's window, from
a customer whose ARR or deal value (marts.customer_health) is at least the threshold. Settings in
the help desk connection's extra, `critical_alerts`:

    {"critical_alerts": {"reasons": ["detractor"], "min_value": 10000, "listed": 10}}

The message goes through the `alerts` notifiers (ingest/notifiers.py: `CXLOOP_ALERTS_NOTIFIER`
and its `_ARGS`, or `CXLOOP_NOTIFY_EMAIL`); a notifier template reads `{{ critical_alerts }}`,
the summary's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from followups.settings import ALERT_REASONS
from ingest import notifiers

KIND = "alerts"
CRITICAL = """
select alerts.alert_id, alerts.reason, alerts.raised_at, coalesce(customers.full_name, customers.email,
       alerts.customer_id) as who, health.arr_or_deal_value, alerts.verbatim
from marts.cx_alerts as alerts
left join marts.customer_health as health on health.customer_id = alerts.customer_id
left join marts.dim_customer as customers on customers.customer_id = alerts.customer_id
where alerts.reason = any(%(reasons)s) and alerts.raised_at >= %(since)s and alerts.raised_at < %(until)s
  and coalesce(health.arr_or_deal_value, 0) >= %(min_value)s
order by health.arr_or_deal_value desc nulls last, alerts.raised_at, alerts.alert_id
"""


@dataclass(frozen=True)
class CriticalSettings:
    reasons: frozenset[str] = field(default=frozenset({"detractor"}))
    min_value: Decimal = Decimal(0)
    listed: int = 10

    @classmethod
    def from_extra(cls, extra: dict[str, Any], conn_id: str) -> CriticalSettings | None:
        block = extra.get("critical_alerts")
        if block is None:
            return None
        if not isinstance(block, dict) or not set(block) <= {"reasons", "min_value", "listed"}:
            raise ValueError(f"connection {conn_id}: extra.critical_alerts must be an object with reasons, "
                             f"min_value and listed")
        reasons = frozenset(block.get("reasons", ["detractor"]))
        if not reasons or not reasons <= ALERT_REASONS:
            raise ValueError(f"connection {conn_id}: extra.critical_alerts.reasons must be some of "
                             f"{sorted(ALERT_REASONS)}")
        return cls(reasons=reasons, min_value=Decimal(str(block.get("min_value", 0))),
                   listed=int(block.get("listed", 10)))


def summary(conn: psycopg.Connection, settings: CriticalSettings, since: datetime, until: datetime) -> str | None:
    """The text of the night's message, or None when no alert is critical."""
    rows = conn.execute(CRITICAL, {"reasons": sorted(settings.reasons), "since": since, "until": until,
                                   "min_value": settings.min_value}).fetchall()
    if not rows:
        return None
    lines = [f"{len(rows)} critical alert{'s' if len(rows) != 1 else ''} from {since:%Y-%m-%d %H:%M} to "
             f"{until:%Y-%m-%d %H:%M} UTC:"]
    for _alert_id, reason, raised_at, who, value, verbatim in rows[:settings.listed]:
        worth = f", worth {value:,.0f}" if value is not None else ""
        said = f': "{verbatim[:140]}"' if verbatim else ""
        lines.append(f"- {who} ({reason}{worth}, {raised_at:%Y-%m-%d %H:%M}){said}")
    if len(rows) > settings.listed:
        lines.append(f"... and {len(rows) - settings.listed} more in marts.cx_alerts")
    return "\n".join(lines)


def notify(conn: psycopg.Connection, settings: CriticalSettings, since: datetime, until: datetime,
           context: dict[str, Any]) -> int:
    """Send the night's summary through the alerts notifiers; how many notifiers sent it (0 without alerts)."""
    text = summary(conn, settings, since, until)
    if text is None:
        return 0
    return notifiers.send(KIND, subject="cxloop: critical customer alerts ({{ run_id }})",
                          # Customers wrote the verbatims: escaped, so a review cannot put markup in a mail.
                          html_content="<pre>{{ critical_alerts | e }}</pre>",
                          context={**context, "critical_alerts": text})
