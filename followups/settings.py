"""How a company wants its follow-ups: read from the help desk connection's extra, `followups`.

    {"followups": {"reasons": ["detractor", "bad_csat"], "group_id": 360001, "dry_run": true,
                   "max_age_days": 14, "priority": "normal",
                   "sla_hours": {"detractor": 48, "bad_csat": 24}, "schedule_id": 360000123}}

`sla_hours` is the follow-up SLA per reason, in business hours of the help desk's schedule
`schedule_id` (default: the account's schedule with the lowest id): the time from the alert to its follow-up
being solved. Reasons not listed take DEFAULT_SLA_HOURS.

Without a `followups` block the step does nothing: creating tickets in a company's help desk is
opted into, never a default. `dry_run` decides and records the follow-ups without creating any
(state `dry_run`), for a first deployment to see what would happen; an alert a dry run recorded
counts as handled, so turning dry run off does not flood the help desk with old alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The alert reasons of marts.cx_alerts (one home: the reason column's accepted values there).
ALERT_REASONS = frozenset({"detractor", "bad_csat", "low_star_review", "high_effort"})
PRIORITIES = ("low", "normal", "high", "urgent")
DEFAULT_SLA_HOURS = 48


@dataclass(frozen=True)
class FollowupSettings:
    reasons: frozenset[str] = field(default=ALERT_REASONS)
    group_id: int | None = None
    dry_run: bool = False
    # Only alerts raised this many days before the night's end get a follow-up: a first
    # deployment must not open tickets about last year's feedback (backfills decide nothing at
    # all: followups/run.py).
    max_age_days: int = 14
    priority: str = "normal"
    tag: str = "cxloop_followup"
    sla_hours: tuple[tuple[str, float], ...] = ()
    schedule_id: int | None = None

    def sla_business_minutes(self, reason: str) -> int:
        """The follow-up SLA of an alert of `reason`, in business minutes."""
        return round(60 * dict(self.sla_hours).get(reason, DEFAULT_SLA_HOURS))

    @classmethod
    def from_extra(cls, extra: dict[str, Any], conn_id: str) -> FollowupSettings | None:
        """The settings in `extra["followups"]`, or None when the connection asks for no follow-ups."""
        block = extra.get("followups")
        if block is None:
            return None
        if not isinstance(block, dict):
            raise ValueError(f"connection {conn_id}: extra.followups must be an object, got {type(block).__name__}")
        known = {"reasons", "group_id", "dry_run", "max_age_days", "priority", "tag", "sla_hours", "schedule_id"}
        unknown = sorted(set(block) - known)
        if unknown:
            raise ValueError(f"connection {conn_id}: unknown extra.followups settings {unknown}; "
                             f"known: {sorted(known)}")
        reasons = frozenset(block.get("reasons", ALERT_REASONS))
        if not reasons or not reasons <= ALERT_REASONS:
            raise ValueError(f"connection {conn_id}: extra.followups.reasons must be some of {sorted(ALERT_REASONS)}, "
                             f"got {sorted(reasons)}")
        priority = block.get("priority", "normal")
        if priority not in PRIORITIES:
            raise ValueError(f"connection {conn_id}: extra.followups.priority must be one of {PRIORITIES}")
        max_age = block.get("max_age_days", 14)
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
            raise ValueError(f"connection {conn_id}: extra.followups.max_age_days must be a whole number of days >= 1")
        group_id = block.get("group_id")
        if group_id is not None and (isinstance(group_id, bool) or not isinstance(group_id, int)):
            raise ValueError(f"connection {conn_id}: extra.followups.group_id must be the group's numeric id")
        sla_hours = block.get("sla_hours", {})
        if not isinstance(sla_hours, dict) or not set(sla_hours) <= ALERT_REASONS or any(
                isinstance(hours, bool) or not isinstance(hours, int | float) or hours <= 0
                for hours in sla_hours.values()):
            raise ValueError(f"connection {conn_id}: extra.followups.sla_hours must map alert reasons "
                             f"({sorted(ALERT_REASONS)}) to business hours > 0")
        schedule_id = block.get("schedule_id")
        if schedule_id is not None and (isinstance(schedule_id, bool) or not isinstance(schedule_id, int)):
            raise ValueError(f"connection {conn_id}: extra.followups.schedule_id must be the schedule's numeric id")
        return cls(reasons=reasons, group_id=group_id, dry_run=bool(block.get("dry_run", False)),
                   max_age_days=max_age, priority=priority, tag=str(block.get("tag", "cxloop_followup")),
                   sla_hours=tuple(sorted(sla_hours.items())), schedule_id=schedule_id)
