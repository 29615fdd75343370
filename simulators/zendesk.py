"""Zendesk Support API simulator (docs/api-protocols.md §2).

One Zendesk account over the shared `Company`. Credentials, as Zendesk takes them:
- HTTP Basic with user `"{email}/token"` and the API token as password. An API token belongs to
  the account, so it authenticates whichever of the account's users the email names: the admin
  (`email`) or a non-admin agent (`agent_emails`).
- `Authorization: Bearer <oauth_token>`, an OAuth access token an admin granted.
- Anything else is 401 `{"error": "Couldn't authenticate you"}`, Basic with an email and a
  password included: Zendesk has retired password access to the API, and this account is one
  with API tokens only.
The exports and the ratings list are for admins: an agent gets 403 `{"error": "Forbidden",
"description": ...}`. Every other refusal is `{"error": <code>, "description": <text>}`.

Endpoints, as documented (each with or without `.json`):

- `GET /api/v2/incremental/{tickets,users}/cursor`: the first request needs `start_time`
  (Unix seconds, at least one minute in the past, else 400), later ones `cursor=<after_cursor>`
  alone; `per_page` is 1-1000 and defaults to 1000. The answer is `tickets[]`/`users[]` with
  `after_cursor`, `after_url`, `before_cursor`, `before_url` and `end_of_stream`. Each record
  appears once, in its latest version, ordered by `generated_timestamp` (users: `updated_at`)
  then id, and is included when that time is >= start_time; the most recent minute is never
  served. The cursor encodes a position in that order, so it stays valid while records change.
- `GET /api/v2/incremental/{tickets,users}?start_time=`: the time-based variant of the same
  export, in the same order: `tickets[]`/`users[]` with `count`, `end_time` (the last second on
  the page), `next_page` (the same request from `start_time=end_time`) and `end_of_stream`. A
  page never splits a second: it holds every record of its last second, so it may run past
  `per_page`, and the next page serves that second again (Zendesk's documented duplicates).
- On both ticket exports `include=metric_sets` sideloads each ticket's metric set: a top-level
  `metric_sets[]` beside `tickets[]` (the side-loading rule: a top-level array under the
  resource's key), one per ticket of the page, in the same order, shaped as the ticket metrics
  list serves them. `support_type_scope` is `agent` (the default), `all` or `ai_agent`; every
  ticket here is an agent's, so `ai_agent` serves none.
- Deleted tickets are in both ticket exports by default, as documented: from its deletion a
  ticket is served with `status: "deleted"`, its `updated_at` the deletion and its
  `generated_timestamp` that plus the usual background lag; its other fields stay as they were
  (its metric set too). `exclude_deleted=true` leaves them out.
- `GET /api/v2/deleted_tickets[.json]` (agents too): the tickets deleted within the last 30 days
  of `as_of` (older ones are scrubbed), each `{id, subject, actor {id, name}, deleted_at,
  previous_state}`, sorted by `sort_by` `id` (the default) or `deleted_at`, then id, and
  `sort_order` `asc` (the default) or `desc`; paged like the two lists above, by cursor or by
  offset (`per_page` up to 100). Zendesk's `subject` sort is not simulated (400).
- `GET /api/v2/ticket_metrics[.json]` and `GET /api/v2/satisfaction_ratings[.json]`: the cursor
  envelope (`page[size]` 1-100, `page[after]`/`page[before]`; `meta {has_more, after_cursor,
  before_cursor}`, `links {next, prev}`), or offset pagination (`page`, `per_page`, `next_page`,
  400 past the first 10,000 records) when `page[size]` is absent. Metrics come newest created
  first with no filter; ratings accept `start_time`/`end_time` (Unix seconds on `created_at`)
  and `score`.
- `GET /api/v2/slas/policies[.json]` (admins): `{sla_policies[], count, next_page, previous_page}`,
  one page, the account's two policies (SLA_POLICIES), each with `filter{all[], any[]}` and
  `policy_metrics[]` of `{priority, metric, target, target_in_seconds, business_hours}`.
- `GET /api/v2/incremental/ticket_metric_events[.json]?start_time=` (admins): the time-based
  export of metric events, chronological (then by id), `{ticket_metric_events[], count, end_time,
  next_page}`, a page never splitting a second as the other time-based exports. Each event is
  `{id, ticket_id, metric, instance_id, type, time, deleted}`, plus `sla` on `apply_sla` and
  `status{calendar, business}` on `update_status`. They follow each ticket's timeline: at creation
  `activate` for reply_time, resolution_time, agent_work_time and requester_wait_time and
  `apply_sla` for each target the ticket's policy sets (first_reply_time as reply_time,
  total_resolution_time as resolution_time; the first policy, by position, matching its
  priority); the first reply fulfils reply_time (with its `update_status`); pending pauses the
  two wait clocks, the requester's reply or a reopen activates them again (a reopen resolution
  time too); a solve fulfils resolution_time (with `update_status`) and the two wait clocks.
  A target missed gives a `breach` at the moment it was missed (in business minutes when the
  policy says so); it is served once that moment has passed, and stays, even after the fulfil.
- `GET /api/v2/incremental/ticket_events[.json]?start_time=` (admins): the time-based export of
  ticket events, `{ticket_events[], count, end_time, next_page, end_of_stream}`, cut like the
  other time-based exports. One audit per ticket change with a comment or a status (creation,
  first reply, pending, the requester's reply, solve, reopen, close): `{id, ticket_id, timestamp,
  created_at, updater_id, via, event_type, child_events[]}`, its status change a child `{id,
  event_type: "Change", status}`; with `include=comment_events` its comment is a child too (first),
  `{id, type, event_type: Comment|VoiceComment, author_id, body, html_body, plain_body, public,
  attachments, audit_id, via, via_reference_id, created_at}`, else the audit only says
  `comment_present`/`comment_public`. Customers write phrases of `simulators/phrases.py` (known
  topic and sentiment) in their language, one topic per ticket, a reopening always a complaint;
  agents answer politely in the same language, and some solving comments are internal notes.
  Comments are drawn from streams of their own, so nothing else the simulator serves changed
  when they were added. A deleted ticket's audits are still served (unconfirmed, as its metric
  events), and none marks the deletion.
- `GET /api/v2/business_hours/schedules[.json]` (admins): `{schedules[]}`, the account's two
  schedules (SCHEDULES), `{id, name, time_zone, intervals[{start_time, end_time}], created_at,
  updated_at}`, intervals in minutes since Sunday 00:00 in the schedule's zone (a Zendesk name).
  The first is the one business_minutes counts in. `GET .../schedules/{id}/holidays[.json]`
  (admins): `{holidays[{id, name, start_date, end_date}]}` overlapping `start_date`/`end_date`
  (inclusive; either may be left out), 404 for an unknown schedule. `GET /api/v2/time_zones[.json]`:
  `{time_zones[{translated_name, name, offset, formatted_offset, iana_name}], next_page,
  previous_page, count}` for the zones of ZONE_NAMES, offsets as of `as_of`, by offset then name.
- `POST /api/v2/tickets[.json]` (agents too): `{ticket: {subject, comment{body, public},
  requester_id | requester{email, name}, external_id, tags[], priority, type, group_id}}` -> 201
  `{ticket, audit}` with `Location`. A requester email no user has (compared trimmed and
  lower-cased) creates an end-user; an unknown requester_id, a blank comment or a priority, type
  or group the account lacks is 422 `{error: "RecordInvalid", description, details}`. With an
  `Idempotency-Key`, the same key and body within two hours (by `clock`) answers the first reply
  again with `x-idempotency-lookup: hit`, another body 400 `IdempotentRequestError`; else `miss`.
  `GET /api/v2/tickets[.json]?external_id=`: `{tickets[], next_page, previous_page, count}` of the
  created tickets with that external id, as they are at `as_of` (no lag); 400 without it.
  A created ticket is made at `as_of`, takes the next ticket id, and joins both ticket exports (its
  metric set sideloaded) after its lag, as a new requester joins the user export; nothing happens
  to it until `work_ticket` says when an agent answers and solves it. It has no audits, metric
  events or rating, and is not in the ticket metrics list.
- Optionally (`incremental_per_minute`), the incremental endpoints allow that many requests per
  `rate_window_seconds` and answer 429 with `Retry-After`, `X-Rate-Limit` and
  `X-Rate-Limit-Remaining`; off by default. `deleted_tickets_per_minute` does the same for the
  deleted tickets list (documented at 10 a minute), counted apart.

Where the documentation is silent, this simulator decides, and a client must not lean on more:
- `end_of_stream` is true when a page comes back short of `per_page`, so an export whose size is
  a multiple of `per_page` ends with an empty page. `after_cursor` is always set, as in the
  official example; with no records it keeps the position asked for. `after_url`,
  `before_url` and `next_page` repeat `per_page`, `include`, `exclude_deleted` and
  `support_type_scope` when the request sent them.
- `meta.has_more` looks ahead: it is false on the last page with records.
- The ratings list serves received ratings (good/bad) ordered by id, i.e. by creation;
  `start_time` and `end_time` are both inclusive.
- `Retry-After` is whole seconds, as Zendesk sends it (official clients call int() on it):
  the wait rounded up, so a window of a fraction of a second still answers 1.
- A time-based page whose records all share one second ends at the next second (`end_time`
  one past it): served again from that second, it would repeat forever.
- Agents (assignees) and organisations are referenced by id but not served as users.
- `exclude_deleted` is true only when sent as `true` (any case); any other value includes them.
- A ticket is deleted by its assignee, after its last change (so nothing changes it afterwards),
  and never restored. A deleted ticket's metric set, rating and metric events are still served:
  whether Zendesk drops them is unconfirmed.
- The deleted tickets list counts its 30 days back from `as_of`, the moment the API answers at,
  not from the wall clock, and shows a deletion from when the export does.
- A spoiled page (`spoil_record`) loses the id of the first record of each of its arrays, so a
  sideloaded metric set is spoiled along with its ticket.

Time model: every ticket, user, metric set and rating has a history of versions, each visible
from its `generated_timestamp` (up to 30 s after `updated_at`, like Zendesk's background
processing). The API answers as of `as_of` (default `company.end`; tests move it to replay
updates): of the versions generated before it, the one made last. Ticket lifecycle: new -> open
(first agent reply, assignment) -> maybe pending -> open -> solved (90%) -> maybe reopened and
solved again; then a survey may be offered and rated good/bad, a rating may be changed, and the
ticket closes four days after its last solve (Zendesk's default automation), after which nothing
changes. A share of tickets (`deleted_share`, 1% by default, drawn from the seed after every other
draw, so a larger share deletes the same tickets and more) is deleted between an hour and ten
days after the ticket's last change; one whose moment falls after `company.end` is not deleted.

Memory: nothing is served from stored records. A first request builds an `_Index` from the seed:
per user the moments of its versions, per ticket its creation and the draws that shape it, per
ticket event its time, its background lag and its kind (about 6 bytes an event, in `array`s).
A view as of a moment sorts record handles by the API's order (20 bytes a record, kept for the
last few moments asked), and a page regenerates only its own records from the index and
`company.person()`. So memory grows by bytes, not dicts, per record, and a page costs what its
own records cost. Ticket ids are dealt in creation order across all tickets, so the index is
built whole, on the first request (about a minute of CPU per million customers), not at start-up.
Metric events are never made to be sorted: on their first request numpy counts, places and
numbers every ticket's events from the index's arrays (`_MetricEventKeys`, a few seconds and 8
bytes an event, about 180 MB at a million customers), once for every moment, since the events
visible at a moment are a prefix of them all; a page makes only its own tickets' events.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import html
import json
import math
import re
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import accumulate
from random import Random
from typing import Any, NamedTuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import numpy as np

from simulators import phrases
from simulators.company import VERBATIMS, Company, Person
from simulators.server import Query, Reply, first, spoil_first

DEFAULT_EMAIL = "agent@cxloop.example"
DEFAULT_TOKEN = "zd-demo-token"
DEFAULT_OAUTH_TOKEN = "zd-demo-oauth-token"
# A non-admin agent of the account: the same API token authenticates it, and admin-only endpoints refuse it.
DEFAULT_AGENT_EMAIL = "light-agent@cxloop.example"
SUPPORT_TYPE_SCOPES = ("agent", "all", "ai_agent")
ACCOUNT_URL = "https://cxloop.zendesk.com"
RESOURCES = ("tickets", "users", "ticket_metrics", "satisfaction_ratings", "sla_policies", "ticket_metric_events",
             "ticket_events")
SIDELOADS = ("metric_sets",)
# The ticket events export's one sideload: each comment as a child event of its audit.
COMMENT_EVENTS = "comment_events"

EXPORT_MAX_PER_PAGE = 1000
LIST_MAX_PAGE_SIZE = 100
OFFSET_RECORD_LIMIT = 10_000
RECENT_SECONDS = 60
AUTO_CLOSE = timedelta(days=4)
# The share of tickets an agent deletes some time after their last change (spam, duplicates, erasure
# requests), and how long deleted tickets stay listed before Zendesk scrubs them.
DELETED_SHARE = 0.01
DELETED_LISTED = timedelta(days=30)
DELETED_SORTS = ("id", "deleted_at")
# Views as of this many distinct moments stay built; tests replaying updates move between a few.
CACHED_VIEWS = 8

CHANNELS = {"email": 40, "web": 25, "chat": 15, "api": 5, "voice": 10, "mobile": 5}
TICKETS_PER_PERSON = [0, 0, 1, 1, 1, 2, 2, 3, 4]
MOODS = {"pos": 35, "neu": 40, "neg": 25}
GOOD_SHARE = {"pos": 0.95, "neu": 0.6, "neg": 0.15}
TICKET_TYPES = {"question": 50, "incident": 35, "problem": 5, "task": 10}
PRIORITIES = {"low": 20, "normal": 55, "high": 20, "urgent": 5}
TIME_ZONES = {"GB": "London", "PL": "Warsaw", "FR": "Paris", "IR": "Tehran", "CN": "Beijing"}
AGENT_IDS = tuple(range(9_100_001, 9_100_009))
AGENT_NAMES = ("Maya Okafor", "Tomasz Wrona", "Claire Dubois", "Reza Karimi", "Li Wei", "Sam Hughes",
               "Anna Nowak", "Hugo Martin")
GROUP_IDS = (20_000_001, 20_000_002)
FIRST_TICKET_ID = 10_001
FIRST_METRIC_ID = 40_000_001
FIRST_RATING_ID = 80_000_001
FIRST_METRIC_EVENT_ID = 900_000_000_001
# A ticket event (audit) is numbered from its ticket's offset and its place in the timeline; its
# children take the next ids: the comment, then the status change.
FIRST_TICKET_EVENT_ID = 700_000_000_000
TICKET_EVENT_ID_STEP = 4
_COMMENT_CHILD, _CHANGE_CHILD = 1, 2
# Metric event numbers a ticket may use: its timeline makes fewer than this many events.
EVENTS_PER_TICKET = 64
ORGANISATION_BASE = 360_000_000
# Zendesk's default satisfaction reasons for a bad rating (code, text).
BAD_REASONS = [(5, "The issue took too long to resolve"), (6, "The issue was not resolved"),
               (7, "The agent's knowledge is unsatisfactory"), (8, "The agent's attitude is unsatisfactory"),
               (100, "Some other reason")]
RATING_SCORES = {"offered", "unoffered", "received", "received_with_comment", "received_without_comment",
                 "good", "good_with_comment", "good_without_comment", "bad", "bad_with_comment",
                 "bad_without_comment"}

# Ticket events, by the code the index stores; a metric set changes on all but the survey's.
EVENT_KINDS = ("created", "replied", "pending", "customer_replied", "solved", "reopened", "offered", "rated",
               "rating_changed", "closed", "deleted")
_KIND_CODES = {kind: code for code, kind in enumerate(EVENT_KINDS)}
_RATING_KINDS = frozenset({"rated", "rating_changed"})
_SURVEY_KINDS = frozenset({"offered", *_RATING_KINDS})
# A deletion changes the ticket's record, not its metric set.
_UNMEASURED_KINDS = frozenset({*_SURVEY_KINDS, "deleted"})
_DELETED = _KIND_CODES["deleted"]
# The timeline events that are an audit in the ticket events export, with the status they leave
# and who writes its comment: the requester, the assignee, or nobody (no comment).
_AUDITS = {"created": ("new", "requester"), "replied": ("open", "agent"), "pending": ("pending", "agent"),
           "customer_replied": ("open", "requester"), "solved": ("solved", "agent"),
           "reopened": ("open", "requester"), "closed": ("closed", None)}
_AUDIT_CODES = frozenset(_KIND_CODES[kind] for kind in _AUDITS)
# The share of solving comments that are internal notes rather than a public answer.
INTERNAL_NOTE_SHARE = 0.3
# A follow-up from a customer who opened the ticket in a neutral mood: negative this often.
NEUTRAL_FOLLOW_UP_NEGATIVE = 0.5

_EXPORT_PATH = re.compile(r"^/api/v2/incremental/(?P<resource>tickets|users)(?P<cursor>/cursor)?(?:\.json)?$")
_METRIC_EVENTS_PATH = re.compile(r"^/api/v2/incremental/ticket_metric_events(?:\.json)?$")
_TICKET_EVENTS_PATH = re.compile(r"^/api/v2/incremental/ticket_events(?:\.json)?$")
_SLA_POLICIES_PATH = re.compile(r"^/api/v2/slas/policies(?:\.json)?$")
_LIST_PATH = re.compile(r"^/api/v2/(?P<resource>ticket_metrics|satisfaction_ratings)(?:\.json)?$")
_DELETED_TICKETS_PATH = re.compile(r"^/api/v2/deleted_tickets(?:\.json)?$")
_TICKETS_PATH = re.compile(r"^/api/v2/tickets(?:\.json)?$")
_SCHEDULES_PATH = re.compile(r"^/api/v2/business_hours/schedules(?:\.json)?$")
_HOLIDAYS_PATH = re.compile(r"^/api/v2/business_hours/schedules/(?P<schedule>\d+)/holidays(?:\.json)?$")
_TIME_ZONES_PATH = re.compile(r"^/api/v2/time_zones(?:\.json)?$")
_CLAUSE = re.compile(r"[,，،.。]")
# Sort keys packed into one int, (time, handle) -> time * _SPAN + handle, sort fastest as plain ints.
_SPAN = 1 << 32

Key = tuple[int, ...]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _at(epoch: int) -> str:
    # What company.iso writes, a few times faster: a page of tickets formats thousands of these.
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _span(rng: Random, low_minutes: float, high_minutes: float) -> int:
    """Seconds, log-uniform between the bounds: most replies are quick, a few take days."""
    return int(math.exp(rng.uniform(math.log(low_minutes), math.log(high_minutes))) * 60)


def business_minutes(start: int, end: int) -> int:
    """Minutes of [start, end) inside business hours, Monday-Friday 09:00-17:00 UTC."""
    seconds = 0
    for day in range(start // 86400, end // 86400 + 1):
        # Day 0 of the Unix epoch, 1970-01-01, was a Thursday (weekday 3).
        if (day + 3) % 7 < 5:
            opens = day * 86400 + 9 * 3600
            seconds += max(0, min(end, opens + 8 * 3600) - max(start, opens))
    return seconds // 60


def add_business_minutes(start: int, minutes: int) -> int:
    """The moment `minutes` business minutes (Monday-Friday 09:00-17:00 UTC) after `start`."""
    left, day, moment = minutes * 60, start // 86400, start
    while True:
        if (day + 3) % 7 < 5:
            opens, closes = day * 86400 + 9 * 3600, day * 86400 + 17 * 3600
            begin = max(moment, opens)
            if begin < closes:
                if begin + left <= closes:
                    return begin + left
                left -= closes - begin
        day += 1
        moment = day * 86400


_BUSINESS_DAY = 8 * 3600
_OPENS = 9 * 3600
# Unix day 0 was a Thursday: counted from Monday 1969-12-29, weeks start on a Monday.
_TO_MONDAY = 3


def add_business_seconds_array(start: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """`add_business_minutes` for many starts at once, with the target in seconds (each > 0).

    The index computes a deadline per ticket: one Python loop per ticket costs seconds at a million.
    Through business seconds counted from a Monday: the deadline is the first moment by which that
    count reaches the start's count plus the target, the same moment the day-by-day walk finds.
    """
    day = start // 86400 + _TO_MONDAY
    weekday = day % 7
    into_day = np.where(weekday < 5, np.clip(start % 86400 - _OPENS, 0, _BUSINESS_DAY), 0)
    target = (day // 7) * 5 * _BUSINESS_DAY + np.minimum(weekday, 5) * _BUSINESS_DAY + into_day + seconds
    # The business day holding the target's last second: a target at 17:00 sharp ends that day, not the next.
    business_day = (target - 1) // _BUSINESS_DAY
    within = target - business_day * _BUSINESS_DAY
    calendar_day = business_day // 5 * 7 + business_day % 5 - _TO_MONDAY
    return calendar_day * 86400 + _OPENS + within


# The account's business-hours schedules, intervals in minutes since Sunday 00:00 in the schedule's
# zone. The first is the one every business minute here is counted in (business_minutes and its
# kin): Monday to Friday, _OPENS for _BUSINESS_DAY, in UTC. The second, in another zone, is served
# and used by no ticket.
_MONDAY_TO_FRIDAY = range(1, 6)
SCHEDULES = (
    {"id": 360_000_101, "name": "Support", "time_zone": "UTC",
     "intervals": tuple((day * 1440 + _OPENS // 60, day * 1440 + (_OPENS + _BUSINESS_DAY) // 60)
                        for day in _MONDAY_TO_FRIDAY)},
    {"id": 360_000_102, "name": "Americas", "time_zone": "Pacific Time (US & Canada)",
     "intervals": tuple((day * 1440 + 8 * 60, day * 1440 + 18 * 60) for day in _MONDAY_TO_FRIDAY)},
)
# Each schedule's holidays: (id, name, days before the company's period starts, days it lasts).
# All fall before the period, so no ticket's time crosses one and business_minutes need not skip them.
HOLIDAYS = {
    360_000_101: ((370_000_001, "Founders' Day", 45, 1), (370_000_002, "Winter break", 20, 2)),
    360_000_102: ((370_000_003, "Founders' Day", 45, 1),),
}
# Zendesk's (Rails) names of the zones its schedules and users use, with the IANA zone of each.
ZONE_NAMES = {"UTC": "Etc/UTC", "London": "Europe/London", "Paris": "Europe/Paris", "Warsaw": "Europe/Warsaw",
              "Tehran": "Asia/Tehran", "Beijing": "Asia/Shanghai",
              "Pacific Time (US & Canada)": "America/Los_Angeles",
              "Eastern Time (US & Canada)": "America/New_York"}
# How long Zendesk remembers an Idempotency-Key, and the longest key it takes.
IDEMPOTENCY_RETENTION = timedelta(hours=2)
IDEMPOTENCY_KEY_MAX = 255
# Ids of what the Tickets API creates beside the generated company: users and ticket audits.
FIRST_CREATED_AUDIT_ID = 800_000_000_001


# The account's SLA policies, first match by position; targets in minutes.
SLA_POLICIES = (
    {"id": 360_000_001, "title": "Urgent and high", "description": "Tickets that cannot wait", "position": 1,
     "filter": {"all": [{"field": "priority", "operator": "includes", "value": ["urgent", "high"]}], "any": []},
     "policy_metrics": [
         {"priority": "urgent", "metric": "first_reply_time", "target": 60, "business_hours": False},
         {"priority": "urgent", "metric": "total_resolution_time", "target": 480, "business_hours": False},
         {"priority": "high", "metric": "first_reply_time", "target": 240, "business_hours": True},
         {"priority": "high", "metric": "total_resolution_time", "target": 1440, "business_hours": True}]},
    {"id": 360_000_002, "title": "Standard", "description": "Every other ticket", "position": 2,
     "filter": {"all": [], "any": []},
     "policy_metrics": [
         {"priority": "normal", "metric": "first_reply_time", "target": 480, "business_hours": True},
         {"priority": "normal", "metric": "total_resolution_time", "target": 2880, "business_hours": True},
         {"priority": "low", "metric": "first_reply_time", "target": 1440, "business_hours": True}]},
)
# Policy metric -> the metric event that measures it (the first reply is instance 1 of reply_time).
SLA_EVENT_METRICS = {"first_reply_time": "reply_time", "total_resolution_time": "resolution_time"}


def _targets(priority: str) -> list[tuple[dict, dict]]:
    """(policy, policy metric) pairs applied to a ticket of `priority`: the first matching policy's."""
    for policy in SLA_POLICIES:
        wanted = [c["value"] for c in policy["filter"]["all"] if c["field"] == "priority"]
        if all(priority in values for values in wanted):
            return [(policy, m) for m in policy["policy_metrics"]
                    if m["priority"] == priority and m["metric"] in SLA_EVENT_METRICS]
    return []


class _MetricEvent(NamedTuple):
    time: int
    metric: str
    type: str
    extra: dict


def _metric_events(created: int, events: Sequence[tuple[int, str]], priority: str) -> list[_MetricEvent]:
    """A ticket's metric events, chronological, from its timeline (`events`: (moment, kind))."""
    out: list[_MetricEvent] = []
    for metric in ("reply_time", "resolution_time", "agent_work_time", "requester_wait_time"):
        out.append(_MetricEvent(created, metric, "activate", {}))
    deadlines = {}
    for policy, target in _targets(priority):
        metric = SLA_EVENT_METRICS[target["metric"]]
        minutes = target["target"]
        out.append(_MetricEvent(created, metric, "apply_sla", {"sla": {
            "target": minutes, "target_in_seconds": minutes * 60, "business_hours": target["business_hours"],
            "policy": {key: policy[key] for key in ("id", "title", "description")}}}))
        deadlines[metric] = (add_business_minutes(created, minutes) if target["business_hours"]
                             else created + minutes * 60)
    first_reply = next((at for at, kind in events if kind == "replied"), None)
    solves = [at for at, kind in events if kind == "solved"]
    for at, kind in events:
        if kind == "replied" and at == first_reply:
            out.append(_MetricEvent(at, "reply_time", "fulfill", {}))
            out.append(_MetricEvent(at, "reply_time", "update_status", {"status": _minutes([(created, at)])}))
        elif kind == "pending":
            out += [_MetricEvent(at, m, "pause", {}) for m in ("agent_work_time", "requester_wait_time")]
        elif kind in ("customer_replied", "reopened"):
            out += [_MetricEvent(at, m, "activate", {}) for m in ("agent_work_time", "requester_wait_time")]
            if kind == "reopened":
                out.append(_MetricEvent(at, "resolution_time", "activate", {}))
        elif kind == "solved":
            out += [_MetricEvent(at, m, "fulfill", {}) for m in ("agent_work_time", "requester_wait_time")]
            out.append(_MetricEvent(at, "resolution_time", "fulfill", {}))
            out.append(_MetricEvent(at, "resolution_time", "update_status", {"status": _minutes([(created, at)])}))
    # Missed when met later than the deadline, or not yet at all (a timeline runs to the company's end).
    met = {"reply_time": first_reply, "resolution_time": solves[-1] if solves else None}
    for metric, deadline in deadlines.items():
        if met[metric] is None or met[metric] > deadline:
            out.append(_MetricEvent(deadline, metric, "breach", {}))
    # Stable: events of one moment keep the order they happen in.
    return sorted(out, key=lambda event: event.time)


# How many metric events each kind of ticket event makes in `_metric_events` (a creation also one
# apply_sla per target): the index counts and places them without building them.
_METRIC_EVENTS_OF = {"created": 4, "replied": 2, "pending": 2, "customer_replied": 2, "solved": 4, "reopened": 3}
# Which moment meets each SLA metric in `_metric_events`: the first reply, the last solve.
_MET_BY = {"reply_time": "replied", "resolution_time": "solved"}


class _SlaSlots(NamedTuple):
    """Per priority code, the targets `_metric_events` applies, slot k for its k-th deadline."""

    present: np.ndarray  # (priorities, slots) bool
    seconds: np.ndarray  # (priorities, slots) target in seconds
    business: np.ndarray  # (priorities, slots) bool
    met_kind: np.ndarray  # (priorities, slots) the kind code whose moment meets it

    @classmethod
    def build(cls, priorities: Sequence[str]) -> _SlaSlots:
        per_priority = []
        for name in priorities:
            # Keyed by metric as `_metric_events` keys its deadlines: a later target of a metric replaces it.
            deadlines: dict[str, dict] = {}
            for _policy, target in _targets(name):
                deadlines[SLA_EVENT_METRICS[target["metric"]]] = target
            per_priority.append(list(deadlines.items()))
        shape = (len(priorities), max(1, *(len(slots) for slots in per_priority)))
        present, business = np.zeros(shape, bool), np.zeros(shape, bool)
        seconds, met_kind = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        for p, slots in enumerate(per_priority):
            for k, (metric, target) in enumerate(slots):
                present[p, k], business[p, k] = True, target["business_hours"]
                seconds[p, k], met_kind[p, k] = target["target"] * 60, _KIND_CODES[_MET_BY[metric]]
        return cls(present, seconds, business, met_kind)


def _minutes(intervals: Iterable[tuple[int, int]]) -> dict[str, int]:
    pairs = list(intervals)
    return {"calendar": sum(b - a for a, b in pairs) // 60, "business": sum(business_minutes(a, b) for a, b in pairs)}


_NO_MINUTES = {"calendar": None, "business": None}


def _encode(position: Key, tag: str = "") -> str:
    # Shaped like Zendesk's own cursors ("1576613539.0||467|" in base64), and as opaque.
    head, *rest = position
    text = f"{head}.0|{tag}|" + "".join(f"{p}|" for p in rest)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[str, Key]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        head, tag, *rest = text.split("|")
        if tag not in ("", "b") or rest[-1] != "":
            raise ValueError(cursor)
        return tag, (int(float(head)), *(int(p) for p in rest[:-1]))
    except (ValueError, IndexError, UnicodeDecodeError, binascii.Error):
        raise ValueError(f"invalid cursor {cursor!r}") from None


class _Weighted:
    """A weighted choice by index, drawing exactly what `rng.choices(list(weights), weights=...)` draws.

    Its own bisection over precomputed cumulative weights, as `Random.choices` does inside: the
    index build makes millions of these draws.
    """

    def __init__(self, weights: dict[str, int]) -> None:
        self.names = list(weights)
        self.cumulative = list(accumulate(weights.values()))
        self.total = self.cumulative[-1] + 0.0

    def draw(self, rng: Random) -> int:
        return bisect.bisect(self.cumulative, rng.random() * self.total, 0, len(self.cumulative) - 1)


_MOOD, _CHANNEL = _Weighted(MOODS), _Weighted(CHANNELS)
_TYPE, _PRIORITY = _Weighted(TICKET_TYPES), _Weighted(PRIORITIES)
_LAGS = range(31)


# -- what the seed decides, per person and per ticket ------------------------------------------


class _UserPlan(NamedTuple):
    created: int
    versions: tuple[int, ...]  # the moment of each version, creation first
    has_external_id: bool


def _plan_user(company: Company, index: int, end: int) -> _UserPlan:
    rng = company.rng("zendesk", "user", index)
    start = _epoch(company.start)
    # Most customers were users before the period; the rest sign up during it.
    joined_before = rng.random() < 0.6
    created = start - rng.randrange(86400, 400 * 86400) if joined_before else _epoch(company.moment(rng))
    has_external_id = rng.random() < 0.7
    updates = sorted({created + 1 + rng.randrange(max(1, end - created - 1))
                      for _ in range(rng.choice([0, 0, 1, 1, 2]))})
    return _UserPlan(created, (created, *(u for u in updates if u < end)), has_external_id)


def _timeline(rng: Random, created: int) -> list[tuple[int, str]]:
    t = created
    events = [(t, "created")]
    t += _span(rng, 5, 2 * 1440)
    events.append((t, "replied"))
    if rng.random() < 0.5:
        t += _span(rng, 10, 1440)
        events.append((t, "pending"))
        t += _span(rng, 30, 2 * 1440)
        events.append((t, "customer_replied"))
    if rng.random() >= 0.9:
        return events
    t += _span(rng, 30, 3 * 1440)
    events.append((t, "solved"))
    if rng.random() < 0.15:
        t += _span(rng, 60, 2 * 1440)
        events.append((t, "reopened"))
        t += _span(rng, 30, 2 * 1440)
        events.append((t, "solved"))
    solved = t
    if rng.random() < 0.7:
        events.append((t + 1, "offered"))
        if rng.random() < 0.6:
            # At most three days after the solve: ratings only change while the ticket is open to it.
            t += _span(rng, 10, 2 * 1440)
            events.append((t, "rated"))
            if rng.random() < 0.2:
                t += _span(rng, 30, 1440)
                events.append((t, "rating_changed"))
    events.append((solved + int(AUTO_CLOSE.total_seconds()), "closed"))
    return events


def _plan_tickets(company: Company, index: int, user_created: int, end: int) -> list[tuple[int, list, int]]:
    """(created, events before `end`, moment of its last event) of each ticket the person raises, as drawn."""
    rng = company.rng("zendesk", "tickets", index)
    earliest = max(_epoch(company.start), user_created + 60)
    plans = []
    for _ in range(rng.choice(TICKETS_PER_PERSON)):
        if earliest >= end:
            break
        created = earliest + rng.randrange(end - earliest)
        timeline = _timeline(rng, created)
        plans.append((created, [e for e in timeline if e[0] < end], max(at for at, _kind in timeline)))
    return plans


class _Draws(NamedTuple):
    """A ticket's attributes, as indexes into the tables above, in the order they are drawn."""

    mood: int
    channel: int
    assignee: int
    group: int
    good: int
    with_comment: int
    reason: int
    type: int
    priority: int


class _Deletion(NamedTuple):
    at: int
    lag: int


def _draw_ticket(company: Company, index: int, created: int, events: int, finished: int,
                 deleted_share: float) -> tuple[_Draws, list[int], _Deletion | None]:
    """The ticket's attributes, per event its background-processing lag in seconds, and its deletion if any.

    A deletion comes after the ticket's last event (`finished`), so nothing changes a deleted
    ticket; whether it has happened by the company's end is the caller's to judge.
    """
    rng = company.rng("zendesk", "ticket", index, created)
    mood = _MOOD.draw(rng)
    channel = _CHANNEL.draw(rng)
    assignee = rng.choice(range(len(AGENT_IDS)))
    group = rng.choice(range(len(GROUP_IDS)))
    good = rng.random() < GOOD_SHARE[_MOOD.names[mood]]
    with_comment = rng.random() < 0.6
    reason = rng.choice(range(len(BAD_REASONS)))
    draws = _Draws(mood, channel, assignee, group, good, with_comment, reason, _TYPE.draw(rng), _PRIORITY.draw(rng))
    # choice() over a range draws what randrange(0, 31) draws, with less argument checking.
    lags = [rng.choice(_LAGS) for _ in range(events)]
    # Drawn last, and always, so that every earlier draw stays as it was and a larger share
    # deletes the same tickets and more.
    doomed, delay, lag = rng.random(), _span(rng, 60, 10 * 1440), rng.choice(_LAGS)
    return draws, lags, _Deletion(finished + delay, lag) if doomed < deleted_share else None


class _Event(NamedTuple):
    at: int
    generated: int
    kind: str


@dataclass(frozen=True)
class _TicketPlan:
    """One ticket as the index remembers it: enough to rebuild any of its versions."""

    person: int
    created: int
    ticket_id: int
    metric_id: int
    rating_id: int | None
    draws: _Draws
    events: list[_Event]


class _Index:
    """Where every record sits and when each of its versions became visible, never the records.

    Users are indexed by person. Tickets are indexed in the order they are drawn (person, then
    ticket), `j` below; Zendesk deals ids out in creation order, so `ticket_offset[j]` is the
    ticket's id less FIRST_TICKET_ID and `ticket_at_offset` maps back. Ratings are numbered in
    the order they were made. Event times are kept relative to their ticket's creation.
    """

    DRAWS = len(_Draws._fields)

    def __init__(self, company: Company, deleted_share: float = DELETED_SHARE) -> None:
        self.company = company
        self.deleted_share = deleted_share
        self.end = _epoch(company.end)
        self.user_id_base = company.zendesk_user_id(company.person(0))
        self.user_first = array("q", [0])
        self.user_moments = array("q")
        self.ticket_person = array("i")
        self.ticket_created = array("q")
        self.ticket_first = array("q", [0])
        self.ticket_draws = array("B")
        self.event_generated = array("i")  # seconds after the ticket's creation
        self.event_lag = array("B")  # seconds from the change to its visibility
        self.event_kind = array("B")
        self.metric_events: _MetricEventKeys | None = None  # built on the first request for them
        self.deleted = array("i")  # the tickets deleted before the company's end, as drawn
        # Ratings as they are met, in ticket order: when made, when visible, on which ticket.
        rated = (array("q"), array("q"), array("i"))
        for index in range(company.customers):
            self._add_person(index, rated)
        self._deal_ticket_ids()
        self._deal_rating_ids(*rated)

    def _add_person(self, index: int, rated: tuple[array, array, array]) -> None:
        user = _plan_user(self.company, index, self.end)
        self.user_moments.extend(user.versions)
        self.user_first.append(len(self.user_moments))
        for created, events, finished in _plan_tickets(self.company, index, user.created, self.end):
            draws, lags, deletion = _draw_ticket(self.company, index, created, len(events), finished,
                                                 self.deleted_share)
            j = len(self.ticket_created)
            if deletion is not None and deletion.at < self.end:
                events.append((deletion.at, "deleted"))
                lags.append(deletion.lag)
                self.deleted.append(j)
            self.ticket_person.append(index)
            self.ticket_created.append(created)
            self.ticket_draws.extend(draws)
            for (at, kind), lag in zip(events, lags, strict=True):
                self.event_generated.append(at + lag - created)
                self.event_lag.append(lag)
                self.event_kind.append(_KIND_CODES[kind])
                if kind == "rated":
                    for column, value in zip(rated, (at, at + lag, j), strict=True):
                        column.append(value)
            self.ticket_first.append(len(self.event_kind))

    def _deal_ticket_ids(self) -> None:
        # By creation, ties in person order: the order the tickets were drawn in.
        keys = [created * _SPAN + j for j, created in enumerate(self.ticket_created)]
        keys.sort()
        self.ticket_at_offset = array("i", (key % _SPAN for key in keys))
        del keys
        self.ticket_offset = array("i", bytes(4 * len(self.ticket_at_offset)))
        for offset, j in enumerate(self.ticket_at_offset):
            self.ticket_offset[j] = offset

    def _deal_rating_ids(self, made: array, generated: array, tickets: array) -> None:
        # By the moment of rating, ties by ticket id.
        keys = [moment * _SPAN + self.ticket_offset[j] for moment, j in zip(made, tickets, strict=True)]
        order = sorted(range(len(keys)), key=keys.__getitem__)
        del keys
        self.rating_ticket = array("i", (tickets[n] for n in order))
        self.rating_created = array("q", (made[n] for n in order))
        self.rating_generated = array("q", (generated[n] for n in order))
        self.ticket_rating = array("i", [-1]) * len(self.ticket_created)
        for number, j in enumerate(self.rating_ticket):
            self.ticket_rating[j] = number

    @property
    def tickets(self) -> int:
        return len(self.ticket_created)

    def ticket(self, j: int) -> _TicketPlan:
        created, offset, rating = self.ticket_created[j], self.ticket_offset[j], self.ticket_rating[j]
        events = [_Event(created + self.event_generated[i] - self.event_lag[i], created + self.event_generated[i],
                         EVENT_KINDS[self.event_kind[i]])
                  for i in range(self.ticket_first[j], self.ticket_first[j + 1])]
        draws = _Draws(*self.ticket_draws[j * self.DRAWS:(j + 1) * self.DRAWS])
        return _TicketPlan(self.ticket_person[j], created, FIRST_TICKET_ID + offset, FIRST_METRIC_ID + offset,
                           FIRST_RATING_ID + rating if rating >= 0 else None, draws, events)

    # -- views: record handles in API order, as of a moment --------------------------------------

    def tickets_at(self, moment: int, *, exclude_deleted: bool = False) -> _View:
        created, first_event, generated, offsets = (self.ticket_created, self.ticket_first, self.event_generated,
                                                    self.ticket_offset)
        kinds = self.event_kind
        keys = []
        for j in range(self.tickets):
            origin, lowest, i = created[j], first_event[j], first_event[j + 1] - 1
            # The version shown is the last one made among those generated before the moment.
            while i >= lowest and origin + generated[i] >= moment:
                i -= 1
            if i >= lowest and not (exclude_deleted and kinds[i] == _DELETED):
                keys.append((origin + generated[i]) * _SPAN + offsets[j])
        keys.sort()
        return _View(moment, array("q", (key // _SPAN for key in keys)),
                     array("q", (FIRST_TICKET_ID + key % _SPAN for key in keys)),
                     array("i", (self.ticket_at_offset[key % _SPAN] for key in keys)))

    def users_at(self, moment: int) -> _View:
        moments, firsts = self.user_moments, self.user_first
        keys = []
        for index in range(len(firsts) - 1):
            i = bisect.bisect_left(moments, moment, firsts[index], firsts[index + 1]) - 1
            if i >= firsts[index]:
                keys.append(moments[i] * _SPAN + index)
        keys.sort()
        # User ids follow person indexes (Company.zendesk_user_id), so (time, index) is the API's order.
        return _View(moment, array("q", (key // _SPAN for key in keys)),
                     array("q", (self.user_id_base + key % _SPAN for key in keys)),
                     array("i", (key % _SPAN for key in keys)))

    def metrics_at(self, moment: int) -> _View:
        # Newest created first is highest id first; negated, the keys ascend like every other view's.
        view = _View(moment, array("q"), array("q"), array("i"))
        for offset in range(self.tickets - 1, -1, -1):
            j = self.ticket_at_offset[offset]
            if self.ticket_created[j] + self.event_generated[self.ticket_first[j]] < moment:
                view.heads.append(-self.ticket_created[j])
                view.tails.append(-(FIRST_METRIC_ID + offset))
                view.handles.append(j)
        return view

    def metric_event_plan(self, j: int) -> tuple[_TicketPlan, list[_MetricEvent]]:
        plan = self.ticket(j)
        timeline = [(event.at, event.kind) for event in plan.events]
        return plan, _metric_events(plan.created, timeline, _PRIORITY.names[plan.draws.priority])

    def metric_events_at(self, moment: int) -> _View:
        # Every event of every ticket, sorted once; the events before a moment are a prefix of them.
        if self.metric_events is None:
            self.metric_events = _MetricEventKeys.build(self)
        return self.metric_events.view(moment)

    def deletions_at(self, moment: int) -> list[tuple[int, int, int]]:
        """(deleted at, ticket id, j) of the tickets deleted within DELETED_LISTED before `moment`, as seen then."""
        listed_since = moment - int(DELETED_LISTED.total_seconds())
        found = []
        for j in self.deleted:
            # A deletion is its ticket's last event.
            last = self.ticket_first[j + 1] - 1
            origin = self.ticket_created[j]
            at = origin + self.event_generated[last] - self.event_lag[last]
            if origin + self.event_generated[last] < moment and at >= listed_since:
                found.append((at, FIRST_TICKET_ID + self.ticket_offset[j], j))
        return found

    def ticket_events_at(self, moment: int) -> _View:
        """The audits visible at `moment` in the ticket events export's order: (timestamp, id).

        A handle is the audit's number, its ticket's offset times EVENTS_PER_TICKET plus its
        place in the ticket's timeline."""
        created, first_event, generated, lags, kinds = (self.ticket_created, self.ticket_first, self.event_generated,
                                                         self.event_lag, self.event_kind)
        times, numbers = array("q"), array("q")
        for j in range(self.tickets):
            origin, base = created[j], self.ticket_offset[j] * EVENTS_PER_TICKET
            for i in range(first_event[j], first_event[j + 1]):
                if kinds[i] in _AUDIT_CODES and origin + generated[i] < moment:
                    times.append(origin + generated[i] - lags[i])
                    numbers.append(base + i - first_event[j])
        order = np.lexsort((np.frombuffer(numbers, np.int64), np.frombuffer(times, np.int64)))
        heads = array("q", np.frombuffer(times, np.int64)[order].tobytes())
        handles = array("q", np.frombuffer(numbers, np.int64)[order].tobytes())
        ids = array("q", (FIRST_TICKET_EVENT_ID + TICKET_EVENT_ID_STEP * n for n in handles))
        return _View(moment, heads, ids, handles)

    def ratings_at(self, moment: int) -> _View:
        numbers = [n for n, generated in enumerate(self.rating_generated) if generated < moment]
        return _View(moment, array("q", (FIRST_RATING_ID + n for n in numbers)), None, array("i", numbers))


@dataclass(frozen=True)
class _MetricEventKeys:
    """Every metric event of every ticket as one sorted int64: (time - base) << shift | number.

    An event's number is its id less FIRST_METRIC_EVENT_ID: its ticket's offset (the ticket id less
    FIRST_TICKET_ID) times EVENTS_PER_TICKET, plus its place in the ticket's chronological list. So
    the keys sort in the export's order, (time, id), and 8 bytes an event are all that is kept: a
    page decodes its own keys and regenerates its events from their tickets.
    """

    keys: np.ndarray
    base: int
    shift: int

    # Tickets per step of the build: its temporaries stay a few megabytes whatever the company's size.
    BLOCK = 1 << 14

    def view(self, moment: int) -> _View:
        below = moment - self.base
        if below <= 0:
            count = 0
        elif below >= 1 << (63 - self.shift):
            count = len(self.keys)
        else:
            count = int(np.searchsorted(self.keys, np.int64(below << self.shift)))
        keys = self.keys[:count]
        mask = (1 << self.shift) - 1
        return _View(moment, _Packed(keys, self.shift, -1, self.base), _Packed(keys, 0, mask, FIRST_METRIC_EVENT_ID),
                     _Packed(keys, 0, mask, 0))

    @classmethod
    def build(cls, index: _Index) -> _MetricEventKeys:
        """The events `_metric_events` makes for each ticket, placed and numbered by numpy, without making them.

        Kept in step with `_metric_events` by `_METRIC_EVENTS_OF`, `_SlaSlots` and the scale tests,
        which compare the two. Within a ticket the events it makes from its timeline come in
        timeline order (each change follows the one before by minutes); a breach is sorted in
        after every event of its own second, and among breaches in the order of their deadlines'
        slots, as the stable sort of `_metric_events` places them.
        """
        tickets = index.tickets
        created = np.frombuffer(index.ticket_created, np.int64)
        first = np.frombuffer(index.ticket_first, np.int64)
        kinds = np.frombuffer(index.event_kind, np.uint8)
        priority = np.frombuffer(index.ticket_draws, np.uint8)[_Draws._fields.index("priority")::_Index.DRAWS]
        offsets = np.frombuffer(index.ticket_offset, np.int32)
        generated = np.frombuffer(index.event_generated, np.int32)
        lags = np.frombuffer(index.event_lag, np.uint8)
        slots = _SlaSlots.build(_PRIORITY.names)
        per_kind = np.array([_METRIC_EVENTS_OF.get(kind, 0) for kind in EVENT_KINDS], np.int64)
        targets = slots.present.sum(axis=1)
        # Per ticket: the moment each slot's target is met (-1: not yet) and whether it is breached.
        met = {code: cls._moment_of(kinds, code, first, created, generated, lags) for code in set(slots.met_kind.flat)}
        deadlines = np.empty((slots.present.shape[1], tickets), np.int64)
        breached = np.empty((slots.present.shape[1], tickets), bool)
        for k in range(slots.present.shape[1]):
            seconds, business = slots.seconds[priority, k], slots.business[priority, k]
            deadlines[k] = np.where(business, add_business_seconds_array(created, np.maximum(seconds, 1)),
                                    created + seconds)
            met_at = np.zeros(tickets, np.int64) - 1
            for code, moments in met.items():
                met_at = np.where(slots.met_kind[priority, k] == code, moments, met_at)
            breached[k] = slots.present[priority, k] & ((met_at < 0) | (met_at > deadlines[k]))
        del met
        total = sum(int(np.count_nonzero(kinds == code)) * int(count) for code, count in enumerate(per_kind) if count)
        total += int(targets[priority].sum()) + int(np.count_nonzero(breached))
        shift = max(1, (tickets * EVENTS_PER_TICKET).bit_length())
        base = int(created.min()) if tickets else 0
        latest = max(int(deadlines.max(initial=base)), int(created.max(initial=base)) + int(generated.max(initial=0)))
        if latest - base >= 1 << (63 - shift):
            raise ValueError("metric event times span too long to pack beside their ids")
        keys = np.empty(total, np.int64)
        filled = 0
        for a in range(0, tickets, cls.BLOCK):
            b = min(tickets, a + cls.BLOCK)
            block = cls._block(a, b, first, created, kinds, generated, lags, per_kind, targets[priority[a:b]],
                               deadlines[:, a:b], breached[:, a:b], offsets[a:b], base, shift)
            keys[filled:filled + len(block)] = block
            filled += len(block)
        assert filled == total, (filled, total)
        keys.sort()
        return cls(keys, base, shift)

    @staticmethod
    def _moment_of(kinds: np.ndarray, code: int, first: np.ndarray, created: np.ndarray, generated: np.ndarray,
                   lags: np.ndarray) -> np.ndarray:
        """Per ticket, the moment of its first reply (code "replied") or last solve ("solved"); -1 if none."""
        moments = np.zeros(len(created), np.int64) - 1
        where = np.flatnonzero(kinds == code)
        if not len(where):
            return moments
        owner = np.searchsorted(first, where, side="right") - 1
        # Events are stored in timeline order: a ticket's first "replied" leads its run, its last "solved" ends it.
        if code == _KIND_CODES["replied"]:
            keep = np.concatenate(([True], owner[1:] != owner[:-1]))
        else:
            keep = np.concatenate((owner[1:] != owner[:-1], [True]))
        where, owner = where[keep], owner[keep]
        moments[owner] = created[owner] + generated[where].astype(np.int64) - lags[where]
        return moments

    @staticmethod
    def _block(a: int, b: int, first: np.ndarray, created: np.ndarray, kinds: np.ndarray, generated: np.ndarray,
               lags: np.ndarray, per_kind: np.ndarray, targets: np.ndarray, deadlines: np.ndarray,
               breached: np.ndarray, offsets: np.ndarray, base: int, shift: int) -> np.ndarray:
        """The unsorted keys of tickets [a, b); arrays indexed by ticket are already cut to the block."""
        start, stop = int(first[a]), int(first[b])
        owner = np.repeat(np.arange(b - a), np.diff(first[a:b + 1]))
        counts = per_kind[kinds[start:stop]]
        counts += np.where(kinds[start:stop] == _KIND_CODES["created"], targets[owner], 0)
        making = np.flatnonzero(counts)
        counts, owner = counts[making], owner[making]
        since = generated[start:stop][making].astype(np.int64) - lags[start:stop][making]
        origin = created[a:b]
        # Events each ticket makes from its timeline, the first of them numbered from its own first.
        made = np.bincount(owner, counts, minlength=b - a).astype(np.int64)
        firsts = np.cumsum(made) - made
        source = np.repeat(np.arange(len(counts)), counts)
        ticket, moment = owner[source], origin[owner[source]] + since[source]
        number = np.arange(len(source)) - firsts[ticket]
        for k in range(len(deadlines)):
            number += breached[k, ticket] & (deadlines[k, ticket] < moment)
        # A ticket's last event numbers at most its event count: past EVENTS_PER_TICKET ids would collide.
        if len(made) and int(made.max()) + len(deadlines) > EVENTS_PER_TICKET:
            raise ValueError(f"a ticket makes more than {EVENTS_PER_TICKET} metric events")
        parts = [((moment - base) << shift) | (offsets[ticket].astype(np.int64) * EVENTS_PER_TICKET + number)]
        del source, ticket, moment, number
        # A breach's place: after the ticket's made events up to its second, and after earlier breaches.
        span = np.int64(1) << 40
        made_keys = owner * span + since
        made_before = np.concatenate(([0], np.cumsum(counts)))
        for k in range(len(deadlines)):
            ticket = np.flatnonzero(breached[k])
            deadline = deadlines[k, ticket]
            up_to = np.searchsorted(made_keys, ticket * span + (deadline - origin[ticket]), side="right")
            number = made_before[up_to] - firsts[ticket]
            for other in range(len(deadlines)):
                if other != k:
                    ahead = deadlines[other, ticket] <= deadline if other < k else deadlines[other, ticket] < deadline
                    number += breached[other, ticket] & ahead
            parts.append(((deadline - base) << shift) | (offsets[ticket].astype(np.int64) * EVENTS_PER_TICKET + number))
        return np.concatenate(parts)


class _Packed(Sequence):
    """One field of packed keys, decoded per item: `add + ((key >> shift) & mask)`."""

    def __init__(self, keys: np.ndarray, shift: int, mask: int, add: int) -> None:
        self.keys, self.shift, self.mask, self.add = keys, shift, mask, add

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> int:  # type: ignore[override]
        return self.add + ((int(self.keys[i]) >> self.shift) & self.mask)

    def __iter__(self) -> Iterator[int]:
        for begin in range(0, len(self.keys), 1 << 16):
            chunk = (self.keys[begin:begin + (1 << 16)] >> self.shift) & self.mask
            yield from (chunk + self.add).tolist()


@dataclass(frozen=True)
class _View:
    """Handles of the records visible at `moment`, sorted by the API's key (`heads`, then `tails`)."""

    moment: int
    heads: array | _Packed
    tails: array | _Packed | None
    handles: array | _Packed

    def key(self, position: int) -> Key:
        if self.tails is None:
            return (self.heads[position],)
        return self.heads[position], self.tails[position]

    def __len__(self) -> int:
        return len(self.handles)


class _Keys(Sequence):
    """The keys of a view at some of its positions, for `bisect`."""

    def __init__(self, view: _View, positions: Sequence[int]) -> None:
        self.view, self.positions = view, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> Key:
        return self.view.key(self.positions[i])


# -- what a ticket looks like after some of its events ------------------------------------------


@dataclass
class _State:
    """What a ticket looks like after some of its events, folded one by one."""

    status: str = "new"
    assignee_id: int | None = None
    assigned_at: int | None = None
    first_reply_at: int | None = None
    solves: list[int] = field(default_factory=list)
    reopens: int = 0
    replies: int = 0
    status_since: int = 0
    waiting_on_agent: list[tuple[int, int]] = field(default_factory=list)
    waiting_on_requester: list[tuple[int, int]] = field(default_factory=list)
    requester_updated_at: int | None = None
    assignee_updated_at: int | None = None
    latest_comment_at: int | None = None
    survey: str = "unoffered"
    rating: dict | None = None
    deleted_from: str | None = None  # the status a deleted ticket had before its deletion


class _Versions(NamedTuple):
    """A ticket's record, metric set and rating as visible at a moment; None where none is yet."""

    ticket: dict | None
    metric: dict | None
    rating: dict | None


@dataclass
class _Created:
    """A ticket created through the Tickets API, and what agents did to it since (`work_ticket`)."""

    ticket_id: int
    created: int
    lag: int  # seconds from each change to its visibility in the exports
    assignee: int  # who answers it
    base: dict  # the record's fields that no event changes
    events: list[tuple[int, str]] = field(default_factory=list)

    def timeline(self) -> list[tuple[int, str]]:
        return [(self.created, "created"), *self.events]


class ZendeskApi:
    name = "zendesk"

    def __init__(self, company: Company, email: str = DEFAULT_EMAIL, token: str = DEFAULT_TOKEN, *,
                 oauth_token: str = DEFAULT_OAUTH_TOKEN, agent_emails: Iterable[str] = (DEFAULT_AGENT_EMAIL,),
                 incremental_per_minute: int | None = None, rate_window_seconds: float = 60.0,
                 deleted_tickets_per_minute: int | None = None, deleted_share: float = DELETED_SHARE,
                 clock: Callable[[], float] = time.time) -> None:
        self.company = company
        self.deleted_share = deleted_share
        self.as_of = company.end

        def basic(user: str) -> str:
            return "Basic " + base64.b64encode(f"{user}/token:{token}".encode()).decode()

        # Authorization header -> whether it is an admin's.
        self._authorizations = {basic(agent): False for agent in agent_emails}
        self._authorizations[basic(email)] = True
        self._authorizations[f"Bearer {oauth_token}"] = True
        self.incremental_per_minute = incremental_per_minute
        self.deleted_tickets_per_minute = deleted_tickets_per_minute
        self.rate_window_seconds = rate_window_seconds
        self._clock = clock
        self._recent: deque[float] = deque()
        self._recent_deleted_lists: deque[float] = deque()
        self._lock = threading.Lock()
        # Building is slow at scale: one thread builds, the others wait for it rather than build too.
        self._building = threading.Lock()
        self._index: _Index | None = None
        self._views: dict[tuple[str, int], _View] = {}
        # What the Tickets API created: tickets and end-users, in creation order, and the
        # Idempotency-Keys it remembers (key -> the request's body, when, the first answer).
        self._created: list[_Created] = []
        self._created_users: list[dict] = []
        self._idempotent: dict[str, tuple[str, float, Reply]] = {}
        self._user_emails: dict[str, int] | None = None

    # -- dataset ----------------------------------------------------------------------------

    def records(self, resource: str, as_of: datetime | None = None) -> list[dict]:
        """Every record of `resource` as the API serves it at `as_of` (default: `self.as_of`), in API order."""
        return list(self.iter_records(resource, as_of))

    def iter_records(self, resource: str, as_of: datetime | None = None) -> Iterator[dict]:
        """`records()` one at a time, each regenerated as it is reached."""
        view = self._view(resource, as_of)
        for handle in view.handles:
            yield self._record(resource, handle, view.moment)

    def deleted_tickets(self, as_of: datetime | None = None) -> list[dict]:
        """The deleted tickets list at `as_of` (default: `self.as_of`) in full, by id."""
        moment = _epoch(as_of or self.as_of)
        by_id = sorted(self._index_built().deletions_at(moment), key=lambda entry: entry[1])
        return [self._deleted_ticket(j) for _deleted_at, _ticket_id, j in by_id]

    def _index_built(self) -> _Index:
        if self._index is None:
            with self._building:
                if self._index is None:
                    self._index = _Index(self.company, self.deleted_share)
        return self._index

    def _view(self, resource: str, as_of: datetime | None = None, *, exclude_deleted: bool = False) -> _View:
        moment = _epoch(as_of or self.as_of)
        # Without its deleted tickets, the tickets export is a view of its own, cached beside the other.
        name = "tickets without deleted" if resource == "tickets" and exclude_deleted else resource
        return self._with_created(name, self._generated_view(name, moment))

    def _with_created(self, name: str, view: _View) -> _View:
        """`view` with the tickets or users the Tickets API created that are visible at its moment."""
        index = self._index_built()
        if name in ("tickets", "tickets without deleted"):
            extra = []
            for k, ticket in enumerate(self._created):
                generated = [at + ticket.lag for at, _kind in ticket.timeline() if at + ticket.lag < view.moment]
                if generated:
                    extra.append((generated[-1], ticket.ticket_id, index.tickets + k))
        elif name == "users":
            extra = [(user["_created"], user["id"], self.company.customers + k)
                     for k, user in enumerate(self._created_users) if user["_created"] < view.moment]
        else:
            return view
        if not extra:
            return view
        assert view.tails is not None
        rows = sorted([*zip(view.heads, view.tails, view.handles, strict=True), *extra])
        return _View(view.moment, array("q", (row[0] for row in rows)), array("q", (row[1] for row in rows)),
                     array("q", (row[2] for row in rows)))

    def _generated_view(self, name: str, moment: int) -> _View:
        cached = self._views.get((name, moment))
        if cached is not None:
            return cached
        index = self._index_built()
        with self._building:
            view = self._views.get((name, moment))
            if view is None:
                build = {"tickets": index.tickets_at, "users": index.users_at, "ticket_metrics": index.metrics_at,
                         "satisfaction_ratings": index.ratings_at,
                         "ticket_metric_events": index.metric_events_at,
                         "ticket_events": index.ticket_events_at,
                         "sla_policies": self._policies_at,
                         "tickets without deleted": partial(index.tickets_at, exclude_deleted=True)}[name]
                view = build(moment)
                self._views[(name, moment)] = view
                while len(self._views) > CACHED_VIEWS:
                    self._views.pop(next(iter(self._views)))
        return view

    def _policies_at(self, moment: int) -> _View:
        shown = [n for n in range(len(SLA_POLICIES)) if self._policy(n)["created_at"] < _at(moment)]
        return _View(moment, array("q", shown), None, array("i", shown))

    def _policy(self, number: int) -> dict:
        # Set up well before the company's period, and last changed before it too.
        start = _epoch(self.company.start)
        policy = SLA_POLICIES[number]
        return {"id": policy["id"], "url": f"{ACCOUNT_URL}/api/v2/slas/policies/{policy['id']}.json",
                **{key: policy[key] for key in ("title", "description", "position", "filter")},
                "policy_metrics": [{**m, "target_in_seconds": m["target"] * 60} for m in policy["policy_metrics"]],
                "created_at": _at(start - (400 - 40 * number) * 86400),
                "updated_at": _at(start - (30 + 5 * number) * 86400)}

    def _metric_event(self, handle: int, made: dict[int, tuple[_TicketPlan, list[_MetricEvent]]] | None = None
                      ) -> dict:
        """The event numbered `handle` (its id less FIRST_METRIC_EVENT_ID); `made` keeps tickets already regenerated."""
        offset, n = divmod(handle, EVENTS_PER_TICKET)
        index = self._index_built()
        made = {} if made is None else made
        if offset not in made:
            made[offset] = index.metric_event_plan(index.ticket_at_offset[offset])
        plan, events = made[offset]
        event = events[n]
        return {"id": FIRST_METRIC_EVENT_ID + handle,
                "ticket_id": plan.ticket_id, "metric": event.metric, "instance_id": 1, "type": event.type,
                "time": _at(event.time), "deleted": False, **event.extra}

    def _record(self, resource: str, handle: int, moment: int) -> dict:
        if resource == "users":
            return self._user_at(handle, moment)
        if resource == "sla_policies":
            return self._policy(handle)
        if resource == "ticket_metric_events":
            return self._metric_event(handle)
        if resource == "ticket_events":
            return self._ticket_event(handle, {COMMENT_EVENTS})
        if resource == "tickets":
            record = self._ticket_at(handle, moment, ticket=True).ticket
        elif resource == "ticket_metrics":
            record = self._ticket_at(handle, moment, metric=True).metric
        else:
            record = self._ticket_at(self._index_built().rating_ticket[handle], moment, rating=True).rating
        if record is None:
            raise LookupError(f"zendesk simulator: {resource} {handle} is in the view at {moment} but has no "
                              "version then; the index and the regeneration disagree")
        return record

    def _ticket_event(self, handle: int, sideloads: set[str],
                      made: dict[int, tuple[_TicketPlan, Person]] | None = None) -> dict:
        """The audit numbered `handle`, its comment a child event when `comment_events` is sideloaded.

        What a comment says is drawn from the ticket's own streams, apart from every other draw
        of the simulator: the ticket's topic once, then each comment from its own stream."""
        offset, n = divmod(handle, EVENTS_PER_TICKET)
        index = self._index_built()
        made = {} if made is None else made
        if offset not in made:
            plan = index.ticket(index.ticket_at_offset[offset])
            made[offset] = plan, self.company.person(plan.person)
        plan, person = made[offset]
        event = plan.events[n]
        status, writer = _AUDITS[event.kind]
        audit_id = FIRST_TICKET_EVENT_ID + TICKET_EVENT_ID_STEP * handle
        requester, agent = self.company.zendesk_user_id(person), AGENT_IDS[plan.draws.assignee]
        channel = _CHANNEL.names[plan.draws.channel]
        via = _via(channel, self.company, person) if writer == "requester" else {"channel": "web", "source": {
            "from": {}, "to": {}, "rel": None}}
        change = {"id": audit_id + _CHANGE_CHILD, "event_type": "Change", "status": status}
        audit: dict[str, Any] = {
            "id": audit_id, "ticket_id": plan.ticket_id, "timestamp": event.at, "created_at": _at(event.at),
            "updater_id": requester if writer == "requester" else agent, "via": via, "event_type": "Audit"}
        if writer is None:
            return {**audit, "comment_present": False, "comment_public": False, "child_events": [change]}
        comment = self._comment(plan, person, n, event, writer)
        audit.update(comment_present=True, comment_public=comment["public"])
        if COMMENT_EVENTS not in sideloads:
            return {**audit, "child_events": [change]}
        author = requester if writer == "requester" else agent
        # A phone call opens a voice ticket: its first comment is the call's.
        kind = "VoiceComment" if channel == "voice" and n == 0 else "Comment"
        child = {"id": audit_id + _COMMENT_CHILD, "type": kind, "event_type": kind, "author_id": author,
                 "body": comment["body"],
                 "html_body": f"<p>{html.escape(comment['body'])}</p>", "plain_body": comment["body"],
                 "public": comment["public"], "attachments": [], "audit_id": audit_id, "via": via,
                 "via_reference_id": None, "created_at": _at(event.at)}
        return {**audit, "child_events": [child, change]}

    def _comment(self, plan: _TicketPlan, person: Person, n: int, event: _Event, writer: str) -> dict:
        """The comment of the ticket's `n`th event: its body and whether it is public."""
        rng = self.company.rng("zendesk", "comment", plan.ticket_id, n)
        language = person.language
        if writer == "agent":
            if event.kind == "solved" and rng.random() < INTERNAL_NOTE_SHARE:
                return {"body": phrases.internal_note(rng, language), "public": False}
            return {"body": phrases.agent_reply(rng, language), "public": True}
        topic = self.company.rng("zendesk", "comment topic", plan.ticket_id).choice(phrases.TOPICS)
        mood = _MOOD.names[plan.draws.mood]
        if event.kind == "reopened" or mood == "neg":
            sentiment = "negative"
        elif mood == "pos":
            sentiment = "positive"
        else:
            sentiment = "negative" if rng.random() < NEUTRAL_FOLLOW_UP_NEGATIVE else "positive"
        return {"body": phrases.customer_phrase(rng, language, sentiment, topic).text, "public": True}

    def _user_at(self, index: int, moment: int) -> dict:
        company = self.company
        if index >= company.customers:
            return {key: value for key, value in self._created_users[index - company.customers].items()
                    if key != "_created"}
        person = company.person(index)
        plan = _plan_user(company, index, _epoch(company.end))
        created = plan.created
        shown = plan.versions[bisect.bisect_left(plan.versions, moment) - 1]
        user_id = company.zendesk_user_id(person)
        return {
            "id": user_id,
            "url": f"{ACCOUNT_URL}/api/v2/users/{user_id}.json",
            "name": f"{person.first_name} {person.last_name}",
            "email": company.spelled_email(person, "zendesk"),
            "phone": company.spelled_phone(person, "zendesk"),
            "role": "end-user",
            "locale": person.language,
            "time_zone": TIME_ZONES[person.country],
            "organization_id": ORGANISATION_BASE + company.organisation_of(person),
            "external_id": company.hubspot_contact_id(person) if plan.has_external_id else None,
            "tags": [],
            "user_fields": {},
            "active": True,
            "suspended": False,
            "shared": False,
            "created_at": _at(created),
            "verified": shown > created,
            "updated_at": _at(shown),
            "last_login_at": _at(shown) if shown > created else None,
        }

    def _ticket_at(self, j: int, moment: int, *, ticket: bool = False, metric: bool = False,
                   rating: bool = False) -> _Versions:
        """Ticket `j`'s record, metric set and rating as visible at `moment`, each only if asked for.

        Rebuilt by folding the ticket's events up to the last one shown; the metric set and the
        rating are the state after their own last event shown.
        """
        index = self._index_built()
        if j >= index.tickets:
            created = self._created_version(j - index.tickets, moment, lagged=True, metric=metric)
            return _Versions(created.ticket if ticket else None, created.metric, None)
        plan = index.ticket(j)
        shown = [i for i, event in enumerate(plan.events) if event.generated < moment]
        if not shown:
            return _Versions(None, None, None)
        last = shown[-1]
        last_metric = max((i for i in shown if plan.events[i].kind not in _UNMEASURED_KINDS), default=None)
        last_rating = max((i for i in shown if plan.events[i].kind in _RATING_KINDS), default=None)
        # The person's details (names, language, spellings) cost a few random streams: only when shown.
        person = self.company.person(plan.person) if ticket or rating else None
        state = _State(status_since=plan.created, requester_updated_at=plan.created, latest_comment_at=plan.created)
        metric_set = rating_version = None
        for i, event in enumerate(plan.events[:last + 1]):
            _fold(state, event.at, event.kind, AGENT_IDS[plan.draws.assignee])
            if person is not None and event.kind in _RATING_KINDS:
                state.rating = self._rating_version(plan, person, event)
            if metric and i == last_metric:
                metric_set = _metric_version(self._metric_base(plan), state, plan.created, event.at)
            if rating and i == last_rating:
                rating_version = state.rating
        if not ticket or person is None:
            return _Versions(None, metric_set, rating_version)
        event = plan.events[last]
        record = _ticket_version(self._ticket_base(plan, person), state, event.at, event.generated)
        return _Versions(record, metric_set, rating_version)

    def _rating_version(self, plan: _TicketPlan, person: Person, event: _Event) -> dict:
        draws = plan.draws
        score = "good" if bool(draws.good) == (event.kind == "rated") else "bad"
        # The comment agrees with the score the customer gives, not with how the ticket began.
        tone = "pos" if score == "good" else "neg" if _MOOD.names[draws.mood] == "neg" else "neu"
        code, reason = BAD_REASONS[draws.reason]
        created = next(e.at for e in plan.events if e.kind == "rated")
        return {
            "id": plan.rating_id,
            "url": f"{ACCOUNT_URL}/api/v2/satisfaction_ratings/{plan.rating_id}.json",
            "assignee_id": AGENT_IDS[draws.assignee], "group_id": GROUP_IDS[draws.group],
            "requester_id": self.company.zendesk_user_id(person),
            "ticket_id": plan.ticket_id, "score": score,
            "comment": VERBATIMS[person.language][tone] if draws.with_comment else "",
            "reason": reason if score == "bad" else None,
            "reason_code": code if score == "bad" else None,
            "reason_id": None,
            "created_at": _at(created), "updated_at": _at(event.at),
        }

    def _deleted_ticket(self, j: int) -> dict:
        """Ticket `j` as the deleted tickets list shows it: by then nothing changes it but a restore."""
        plan = self._index_built().ticket(j)
        state = _State(status_since=plan.created)
        for event in plan.events:
            _fold(state, event.at, event.kind, AGENT_IDS[plan.draws.assignee])
        person = self.company.person(plan.person)
        return {"id": plan.ticket_id, "subject": _subject(person, plan.draws),
                # Deleted by the agent it was assigned to.
                "actor": {"id": AGENT_IDS[plan.draws.assignee], "name": AGENT_NAMES[plan.draws.assignee]},
                "deleted_at": _at(plan.events[-1].at), "previous_state": state.deleted_from}

    @staticmethod
    def _metric_base(plan: _TicketPlan) -> dict:
        return {"id": plan.metric_id, "ticket_id": plan.ticket_id,
                "url": f"{ACCOUNT_URL}/api/v2/ticket_metrics/{plan.metric_id}.json", "created_at": _at(plan.created)}

    def _ticket_base(self, plan: _TicketPlan, person: Person) -> dict:
        company, draws = self.company, plan.draws
        description = VERBATIMS[person.language][_MOOD.names[draws.mood]]
        subject = _subject(person, draws)
        channel = _CHANNEL.names[draws.channel]
        user_id = company.zendesk_user_id(person)
        return {
            "id": plan.ticket_id,
            "url": f"{ACCOUNT_URL}/api/v2/tickets/{plan.ticket_id}.json",
            "external_id": None,
            "type": _TYPE.names[draws.type],
            "subject": subject,
            "raw_subject": subject,
            "description": description,
            "priority": _PRIORITY.names[draws.priority],
            "recipient": "support@cxloop.example",
            "requester_id": user_id,
            "submitter_id": user_id,
            "organization_id": ORGANISATION_BASE + company.organisation_of(person),
            "group_id": GROUP_IDS[draws.group],
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "problem_id": None,
            "has_incidents": False,
            "is_public": True,
            "due_at": None,
            "tags": [person.language, channel],
            "custom_fields": [],
            "sharing_agreement_ids": [],
            "brand_id": 1,
            "via": _via(channel, company, person),
            "created_at": _at(plan.created),
        }

    # -- HTTP -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        admin = self._authorizations.get(lowered.get("authorization", "").strip())
        if admin is None:
            return Reply(401, {"error": "Couldn't authenticate you"})
        base_url = f"http://{lowered.get('host', 'localhost')}"
        if method == "GET" and (match := _EXPORT_PATH.match(path)):
            if not admin:
                return _forbidden()
            if match["cursor"]:
                return self._export(match["resource"], query, base_url + path)
            return self._time_export(match["resource"], query, base_url + path)
        if method == "GET" and _METRIC_EVENTS_PATH.match(path):
            return self._time_export("ticket_metric_events", query, base_url + path) if admin else _forbidden()
        if method == "GET" and _TICKET_EVENTS_PATH.match(path):
            return self._time_export("ticket_events", query, base_url + path) if admin else _forbidden()
        if method == "GET" and _SLA_POLICIES_PATH.match(path):
            if not admin:
                return _forbidden()
            view = self._view("sla_policies")
            policies = [self._policy(n) for n in view.handles]
            return Reply(200, {"sla_policies": policies, "count": len(policies), "next_page": None,
                               "previous_page": None})
        if method == "GET" and (match := _LIST_PATH.match(path)):
            if not admin and match["resource"] == "satisfaction_ratings":
                return _forbidden()
            return self._list(match["resource"], query, base_url + path)
        if method == "GET" and _DELETED_TICKETS_PATH.match(path):
            return self._deleted_tickets(query, base_url + path)
        if _TICKETS_PATH.match(path) and method in ("GET", "POST"):
            if method == "POST":
                return self._create_ticket(lowered.get("idempotency-key"), body, base_url)
            return self._tickets_by_external_id(query)
        if method == "GET" and _SCHEDULES_PATH.match(path):
            return Reply(200, {"schedules": self.schedules()}) if admin else _forbidden()
        if method == "GET" and (match := _HOLIDAYS_PATH.match(path)):
            return self._holidays(int(match["schedule"]), query) if admin else _forbidden()
        if method == "GET" and _TIME_ZONES_PATH.match(path):
            zones = self.time_zones()
            return Reply(200, {"time_zones": zones, "next_page": None, "previous_page": None, "count": len(zones)})
        return _error(404, "InvalidEndpoint", "Not found")

    # -- business hours and time zones -----------------------------------------------------

    def schedules(self) -> list[dict]:
        """The account's business-hours schedules, as `GET business_hours/schedules` serves them."""
        start = _epoch(self.company.start)
        # Set up well before the company's period, and last changed before it too.
        return [{"id": schedule["id"], "name": schedule["name"], "time_zone": schedule["time_zone"],
                 "intervals": [{"start_time": a, "end_time": b} for a, b in schedule["intervals"]],
                 "created_at": _at(start - (500 - 10 * n) * 86400), "updated_at": _at(start - (60 + n) * 86400)}
                for n, schedule in enumerate(SCHEDULES)]

    def holidays(self, schedule_id: int, start_date: date | None = None, end_date: date | None = None
                 ) -> list[dict]:
        """The schedule's holidays that overlap [start_date, end_date] (inclusive; None: unbounded)."""
        first_day = self.company.start.date()
        found = []
        for holiday_id, name, before, days in HOLIDAYS.get(schedule_id, ()):
            begins = first_day - timedelta(days=before)
            ends = begins + timedelta(days=days - 1)
            if (start_date is None or ends >= start_date) and (end_date is None or begins <= end_date):
                found.append({"id": holiday_id, "name": name, "start_date": begins.isoformat(),
                              "end_date": ends.isoformat()})
        return found

    def time_zones(self) -> list[dict]:
        """Zendesk's zones this account uses, with their offsets at `as_of`, by offset then name."""
        zones = []
        for name, iana in ZONE_NAMES.items():
            offset = self.as_of.astimezone(ZoneInfo(iana)).utcoffset()
            minutes = int(offset.total_seconds() // 60) if offset is not None else 0
            hours, rest = divmod(abs(minutes), 60)
            zones.append({"translated_name": name, "name": name, "offset": minutes,
                          "formatted_offset": f"GMT{'-' if minutes < 0 else '+'}{hours:02d}:{rest:02d}",
                          "iana_name": iana})
        return sorted(zones, key=lambda zone: (zone["offset"], zone["name"]))

    def _holidays(self, schedule_id: int, query: Query) -> Reply:
        if schedule_id not in {schedule["id"] for schedule in SCHEDULES}:
            return _error(404, "RecordNotFound", "Not found")
        bounds: dict[str, date | None] = {}
        for name in ("start_date", "end_date"):
            value = first(query, name)
            try:
                bounds[name] = date.fromisoformat(value) if value is not None else None
            except ValueError:
                return _error(400, "InvalidValue", f"{name} must be a date, YYYY-MM-DD")
        return Reply(200, {"holidays": self.holidays(schedule_id, bounds["start_date"], bounds["end_date"])})

    # -- creating tickets --------------------------------------------------------------------

    def created_tickets(self) -> list[dict]:
        """Every ticket the Tickets API created, as it is at `as_of`, by id."""
        moment = _epoch(self.as_of)
        versions = (self._created_version(k, moment, lagged=False).ticket for k in range(len(self._created)))
        return [ticket for ticket in versions if ticket is not None]

    def work_ticket(self, ticket_id: int, reply_after_minutes: int, solve_after_minutes: int | None = None) -> None:
        """An agent answers created ticket `ticket_id` `reply_after_minutes` after its creation (calendar
        minutes) and solves it `solve_after_minutes` after it (None: it stays open). It replaces what
        an earlier call decided; each change shows in the exports after the ticket's lag."""
        ticket = next((t for t in self._created if t.ticket_id == ticket_id), None)
        if ticket is None:
            raise KeyError(f"zendesk simulator: no created ticket {ticket_id}")
        if reply_after_minutes <= 0 or (solve_after_minutes is not None and solve_after_minutes <= reply_after_minutes):
            raise ValueError("a reply comes after the creation, and a solve after the reply")
        events = [(ticket.created + reply_after_minutes * 60, "replied")]
        if solve_after_minutes is not None:
            events.append((ticket.created + solve_after_minutes * 60, "solved"))
        ticket.events = events

    def _create_ticket(self, key: str | None, body: bytes, base_url: str) -> Reply:
        """`POST tickets`: a new ticket, or with an Idempotency-Key seen within its retention the first answer."""
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return _error(400, "InvalidJSON", "The request body is not valid JSON")
        canonical = json.dumps(payload, sort_keys=True)
        if key is not None and not 0 < len(key) <= IDEMPOTENCY_KEY_MAX:
            return _error(400, "InvalidValue", f"Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} characters")
        with self._lock:
            now = self._clock()
            remembered = self._idempotent.get(key) if key is not None else None
            if remembered is not None and now - remembered[1] < IDEMPOTENCY_RETENTION.total_seconds():
                if remembered[0] != canonical:
                    return _error(400, "IdempotentRequestError",
                                  "Request parameters do not match the original request for this Idempotency-Key")
                answer = remembered[2]
                return Reply(answer.status, answer.body, {**answer.headers, "x-idempotency-lookup": "hit"})
            reply = self._new_ticket(payload, base_url)
            if key is not None:
                reply.headers["x-idempotency-lookup"] = "miss"
                if reply.status == 201:
                    self._idempotent[key] = (canonical, now, reply)
            return reply

    def _new_ticket(self, payload: Any, base_url: str) -> Reply:
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, dict):
            return _invalid("ticket", "Ticket: is required")
        comment = ticket.get("comment")
        text = comment.get("body") if isinstance(comment, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _invalid("description", "Description: cannot be blank")
        for name, allowed in (("priority", PRIORITIES), ("type", TICKET_TYPES), ("group_id", GROUP_IDS)):
            if ticket.get(name) is not None and ticket[name] not in allowed:
                return _invalid(name, f"{name}: {ticket[name]!r} is not valid")
        tags = ticket.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            return _invalid("tags", "Tags: must be a list of strings")
        requester = self._requester(ticket)
        if isinstance(requester, Reply):
            return requester
        index = self._index_built()
        offset = index.tickets + len(self._created)
        ticket_id, created = FIRST_TICKET_ID + offset, _epoch(self.as_of)
        public = comment.get("public", True) is not False
        subject = ticket.get("subject") or text.strip().splitlines()[0][:80]
        base = {
            "id": ticket_id, "url": f"{ACCOUNT_URL}/api/v2/tickets/{ticket_id}.json",
            "external_id": ticket.get("external_id"), "type": ticket.get("type"), "subject": subject,
            "raw_subject": subject, "description": text, "priority": ticket.get("priority"),
            "recipient": None, "requester_id": requester, "submitter_id": requester, "organization_id": None,
            "group_id": ticket.get("group_id"), "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [],
            "problem_id": None, "has_incidents": False, "is_public": public, "due_at": None,
            "tags": list(dict.fromkeys(tag.strip().lower() for tag in tags)), "custom_fields": [],
            "sharing_agreement_ids": [], "brand_id": 1,
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": _at(created)}
        lag = self.company.rng("zendesk", "created ticket", ticket_id).choice(_LAGS)
        self._created.append(_Created(ticket_id, created, lag, AGENT_IDS[offset % len(AGENT_IDS)], base))
        record = self._created_version(len(self._created) - 1, created, lagged=False).ticket
        audit_id = FIRST_CREATED_AUDIT_ID + len(self._created) - 1
        audit = {"id": audit_id, "ticket_id": ticket_id, "created_at": _at(created), "author_id": requester,
                 "events": [{"id": audit_id + 1, "type": "Comment", "author_id": requester, "body": text,
                             "public": public}]}
        return Reply(201, {"ticket": record, "audit": audit},
                     {"Location": f"{base_url}/api/v2/tickets/{ticket_id}.json"})

    def _requester(self, ticket: dict) -> int | Reply:
        """The requester's user id: an existing user's, or a new end-user's for an email no user has."""
        company = self.company
        first_id = company.zendesk_user_id(company.person(0))
        if ticket.get("requester_id") is not None:
            wanted = ticket["requester_id"]
            created = {user["id"] for user in self._created_users}
            if isinstance(wanted, int) and (first_id <= wanted < first_id + company.customers or wanted in created):
                return wanted
            return _invalid("requester", f"Requester: {wanted!r} is not a user of this account")
        requester = ticket.get("requester")
        email = requester.get("email") if isinstance(requester, dict) else None
        if not isinstance(email, str) or "@" not in email:
            return _invalid("requester", "Requester: cannot be blank")
        known = self._users_by_email()
        found = known.get(email.strip().lower())
        if found is not None:
            return found
        user_id = first_id + company.customers + len(self._created_users)
        at = _epoch(self.as_of)
        name = requester.get("name") or email.split("@")[0]
        self._created_users.append({
            "id": user_id, "url": f"{ACCOUNT_URL}/api/v2/users/{user_id}.json", "name": name,
            "email": email.strip(), "phone": None, "role": "end-user", "locale": "en", "time_zone": "UTC",
            "organization_id": None, "external_id": None, "tags": [], "user_fields": {}, "active": True,
            "suspended": False, "shared": False, "created_at": _at(at), "verified": False, "updated_at": _at(at),
            "last_login_at": None, "_created": at})
        known[email.strip().lower()] = user_id
        return user_id

    def _users_by_email(self) -> dict[str, int]:
        # Built on the first creation by email: one pass over the company's people.
        if self._user_emails is None:
            company = self.company
            self._user_emails = {company.spelled_email(person, "zendesk").strip().lower():
                                 company.zendesk_user_id(person) for person in company.people()}
        return self._user_emails

    def _created_version(self, k: int, moment: int, *, lagged: bool, metric: bool = False) -> _Versions:
        """Created ticket `k` as the exports show it at `moment` (`lagged`), or as the API holds it then."""
        ticket = self._created[k]
        shown = [(at, kind) for at, kind in ticket.timeline() if (at + ticket.lag < moment if lagged else at <= moment)]
        if not shown:
            return _Versions(None, None, None)
        state = _State(status_since=ticket.created, requester_updated_at=ticket.created,
                       latest_comment_at=ticket.created)
        for at, kind in shown:
            _fold(state, at, kind, ticket.assignee)
        at = shown[-1][0]
        metric_set = None
        if metric:
            metric_id = FIRST_METRIC_ID + ticket.ticket_id - FIRST_TICKET_ID
            base = {"id": metric_id, "ticket_id": ticket.ticket_id, "created_at": _at(ticket.created),
                    "url": f"{ACCOUNT_URL}/api/v2/ticket_metrics/{metric_id}.json"}
            metric_set = _metric_version(base, state, ticket.created, at)
        return _Versions(_ticket_version(ticket.base, state, at, at + ticket.lag), metric_set, None)

    def _tickets_by_external_id(self, query: Query) -> Reply:
        external_id = first(query, "external_id")
        if external_id is None:
            return _error(400, "InvalidValue", "this simulator lists tickets by external_id only")
        tickets = [ticket for ticket in self.created_tickets() if ticket["external_id"] == external_id]
        return Reply(200, {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)})

    def _export(self, resource: str, query: Query, url: str) -> Reply:
        """One page of the cursor-based export."""
        limited, rate_headers = self._throttle(self.incremental_per_minute, self._recent, "incremental export API")
        if limited is not None:
            return limited
        try:
            export = self._export_request(resource, query, cursor_based=True)
        except _Refused as refused:
            return refused.reply
        per_page, tag, position = export.per_page, export.tag, export.position
        keys, served = export.keys, export.served
        if tag == "b":
            stop = bisect.bisect_left(keys, position, hi=served)
            begin = max(0, stop - per_page)
        else:
            begin = bisect.bisect_right(keys, position, hi=served)
            stop = min(served, begin + per_page)
        page = self._export_page(resource, export.view, range(begin, stop), export.sideloads)
        after = _encode(keys[stop - 1]) if stop > begin else _encode(position)
        before = _encode(keys[begin], "b") if stop > begin else None
        kept = _kept(query, ("per_page", "include", "exclude_deleted", "support_type_scope"))
        return Reply(200, {
            **page,
            "after_cursor": after,
            "after_url": f"{url}?{urlencode({'cursor': after, **kept})}",
            "before_cursor": before,
            "before_url": f"{url}?{urlencode({'cursor': before, **kept})}" if before else None,
            "end_of_stream": stop - begin < per_page,
        }, rate_headers)

    def _time_export(self, resource: str, query: Query, url: str) -> Reply:
        """One page of the time-based export: from `start_time`, never splitting a second."""
        limited, rate_headers = self._throttle(self.incremental_per_minute, self._recent, "incremental export API")
        if limited is not None:
            return limited
        try:
            export = self._export_request(resource, query, cursor_based=False)
        except _Refused as refused:
            return refused.reply
        keys, served, per_page = export.keys, export.served, export.per_page
        start = export.position[0]
        begin = bisect.bisect_right(keys, export.position, hi=served)
        stop = min(served, begin + per_page)
        if stop > begin:
            # The rest of the last second comes too: the next page starts at that second.
            stop = bisect.bisect_right(keys, (keys[stop - 1][0], math.inf), lo=stop, hi=served)
            end_time = keys[stop - 1][0]
            if keys[begin][0] == end_time and stop - begin >= per_page:
                end_time += 1
        else:
            end_time = start
        page = self._export_page(resource, export.view, range(begin, stop), export.sideloads)
        kept = _kept(query, ("per_page", "include", "exclude_deleted", "support_type_scope"))
        body = {**page, "count": stop - begin, "end_time": end_time,
                "next_page": f"{url}?{urlencode({'start_time': end_time, **kept})}",
                "end_of_stream": stop - begin < per_page}
        if resource == "ticket_metric_events":
            # Its documented page has no end_of_stream: a short page is the end.
            del body["end_of_stream"]
        return Reply(200, body, rate_headers)

    def _export_request(self, resource: str, query: Query, *, cursor_based: bool) -> _ExportRequest:
        """What an export request asks for, checked as Zendesk checks it; `_Refused` if it does not pass."""
        now = int(self._clock())
        try:
            per_page = int(first(query, "per_page") or EXPORT_MAX_PER_PAGE)
        except ValueError:
            raise _Refused(_error(400, "InvalidValue", "per_page must be an integer")) from None
        if not 1 <= per_page <= EXPORT_MAX_PER_PAGE:
            raise _Refused(_error(400, "InvalidValue", f"per_page must be between 1 and {EXPORT_MAX_PER_PAGE}"))
        scope = first(query, "support_type_scope") or "agent"
        if resource in ("tickets", "ticket_events") and scope not in SUPPORT_TYPE_SCOPES:
            raise _Refused(_error(400, "InvalidValue",
                                  f"support_type_scope must be one of {', '.join(SUPPORT_TYPE_SCOPES)}"))
        cursor, start_time = first(query, "cursor"), first(query, "start_time")
        if cursor and cursor_based:
            try:
                tag, position = _decode(cursor)
            except ValueError as exc:
                raise _Refused(_error(400, "InvalidPaginationParameter", str(exc))) from None
        elif start_time is not None:
            try:
                start = int(start_time)
            except ValueError:
                raise _Refused(_error(400, "InvalidValue", "start_time must be a Unix epoch time in seconds")) from None
            if start < 0:
                raise _Refused(_error(400, "InvalidValue", "start_time must not be negative"))
            if start > now - RECENT_SECONDS:
                raise _Refused(_error(400, "InvalidValue",
                                      "Too recent start_time. Use a start_time older than 1 minute"))
            # (start, -1) sorts before every record generated at `start`: those are included.
            tag, position = "", (start, -1)
        else:
            needed = "start_time or cursor is required" if cursor_based else "start_time is required"
            raise _Refused(_error(400, "InvalidValue", needed))
        view = self._view(resource, exclude_deleted=(first(query, "exclude_deleted") or "").lower() == "true")
        keys = _Keys(view, range(len(view)))
        # Data isn't provided for the most recent minute; and no ticket here is an AI agent's.
        served = 0 if scope == "ai_agent" else bisect.bisect_right(keys, (now - RECENT_SECONDS, math.inf))
        if resource == "tickets":
            sideloads = _sideloads(query, SIDELOADS)
        elif resource == "ticket_events":
            sideloads = _sideloads(query, (COMMENT_EVENTS,))
        else:
            sideloads = set()
        return _ExportRequest(view, keys, served, per_page, tag, position, sideloads)

    def _export_page(self, resource: str, view: _View, positions: range, sideloads: set[str]) -> dict[str, list]:
        if resource == "users":
            return {"users": [self._user_at(view.handles[i], view.moment) for i in positions]}
        if resource == "ticket_metric_events":
            # A ticket's events are made together: a page makes each of its tickets once.
            made: dict[int, tuple[_TicketPlan, list[_MetricEvent]]] = {}
            return {resource: [self._metric_event(view.handles[i], made) for i in positions]}
        if resource == "ticket_events":
            tickets: dict[int, tuple[_TicketPlan, Person]] = {}
            return {resource: [self._ticket_event(view.handles[i], sideloads, tickets) for i in positions]}
        sideloaded = "metric_sets" in sideloads
        versions = [self._ticket_at(view.handles[i], view.moment, ticket=True, metric=sideloaded) for i in positions]
        page: dict[str, list] = {"tickets": [v.ticket for v in versions]}
        if sideloaded:
            page["metric_sets"] = [v.metric for v in versions]
        return page

    def _throttle(self, limit: int | None, recent: deque[float], what: str) -> tuple[Reply | None, dict[str, str]]:
        """Admit a request within `limit` per window (None: no limit), counted in `recent`; else its 429."""
        if limit is None:
            return None, {}
        with self._lock:
            now = self._clock()
            while recent and recent[0] <= now - self.rate_window_seconds:
                recent.popleft()
            if len(recent) >= limit:
                wait = recent[0] + self.rate_window_seconds - now
                # Whole seconds, rounded up: clients int() the header, and waiting less would meet another 429.
                headers = {"Retry-After": str(max(1, math.ceil(wait))), "X-Rate-Limit": str(limit),
                           "X-Rate-Limit-Remaining": "0"}
                return Reply(429, {"error": "APIRateLimitExceeded", "description":
                                   f"Number of allowed {what} requests per minute exceeded"},
                             headers), {}
            recent.append(now)
            return None, {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(limit - len(recent))}

    def _list(self, resource: str, query: Query, url: str) -> Reply:
        view = self._view(resource)
        positions: Sequence[int] = range(len(view))
        if resource == "satisfaction_ratings":
            try:
                positions = self._ratings_chosen(view, query)
            except ValueError as exc:
                return _error(400, "InvalidValue", str(exc))

        def records(begin: int, stop: int) -> list[dict]:
            return [self._record(resource, view.handles[positions[i]], view.moment) for i in range(begin, stop)]

        return _list_page(resource, query, url, view, positions, records)

    def _deleted_tickets(self, query: Query, url: str) -> Reply:
        """The deleted tickets list: deletions of the last DELETED_LISTED as of `as_of`, sorted as asked."""
        limited, rate_headers = self._throttle(self.deleted_tickets_per_minute, self._recent_deleted_lists,
                                               "deleted tickets API")
        if limited is not None:
            return limited
        sort_by, sort_order = first(query, "sort_by") or "id", first(query, "sort_order") or "asc"
        if sort_by not in DELETED_SORTS:
            return _error(400, "InvalidValue", f"sort_by must be one of {', '.join(DELETED_SORTS)}")
        if sort_order not in ("asc", "desc"):
            return _error(400, "InvalidValue", "sort_order must be asc or desc")
        moment = _epoch(self.as_of)
        sign = -1 if sort_order == "desc" else 1
        # Keys ascend in the order asked for (negated when descending), so the list's cursors work on them.
        entries = sorted((sign * at, sign * ticket_id, j) if sort_by == "deleted_at" else (sign * ticket_id, 0, j)
                         for at, ticket_id, j in self._index_built().deletions_at(moment))
        view = _View(moment, array("q", (e[0] for e in entries)),
                     array("q", (e[1] for e in entries)) if sort_by == "deleted_at" else None,
                     array("i", (e[2] for e in entries)))

        def records(begin: int, stop: int) -> list[dict]:
            return [self._deleted_ticket(view.handles[i]) for i in range(begin, stop)]

        reply = _list_page("deleted_tickets", query, url, view, range(len(view)), records)
        if reply.status == 200:
            reply.headers.update(rate_headers)
        return reply

    def _ratings_chosen(self, view: _View, query: Query) -> Sequence[int]:
        """Positions in the ratings view that the query's filters keep.

        Ratings are numbered in creation order, so the time filter is a slice found by bisection;
        the score filter needs each rating's content, so it rebuilds the slice's ratings.
        """
        start, end, score = _rating_filter(query)
        created = self._index_built().rating_created

        def made(position: int) -> int:
            return created[view.handles[position]]

        everything = range(len(view))
        low = bisect.bisect_left(everything, start, key=made) if start is not None else 0
        high = bisect.bisect_right(everything, end, key=made) if end is not None else len(view)
        chosen = range(low, max(low, high))
        if score is None:
            return chosen
        rating = self._record
        return array("i", (i for i in chosen
                           if _score_matches(rating("satisfaction_ratings", view.handles[i], view.moment), score)))

    def spoil_record(self, body: Any) -> None:
        for name in (*RESOURCES, *SIDELOADS, "deleted_tickets"):
            if name != "ticket_events":
                spoil_first(body, name, "id")
        # A ticket event's records are its children: the first one that has a comment loses the comment's id.
        events = body.get("ticket_events") if isinstance(body, dict) else None
        for event in events or []:
            if event["child_events"][0].get("event_type") in ("Comment", "VoiceComment"):
                spoil_first(event, "child_events", "id")
                return


class _ExportRequest(NamedTuple):
    view: _View
    keys: _Keys
    served: int  # positions before this one may be served: the rest is the embargoed last minute
    per_page: int
    tag: str
    position: Key
    sideloads: set[str]


class _Refused(Exception):
    """A request the API answers with an error instead of a page."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body)
        self.reply = reply


def _kept(query: Query, names: Iterable[str]) -> dict[str, str]:
    """The parameters a next-page URL repeats, as the request sent them."""
    return {name: first(query, name) or "" for name in names if name in query}


def _sideloads(query: Query, known: Iterable[str]) -> set[str]:
    return {name.strip() for value in query.get("include", []) for name in value.split(",")} & set(known)


def _fold(state: _State, at: int, kind: str, assignee: int) -> None:
    """Apply one event to the ticket's state, the way Zendesk's metrics would count it."""
    def move(status: str) -> None:
        # Time spent waiting on the agent (new/open) or the requester (pending) is counted when it ends.
        if state.status in ("new", "open"):
            state.waiting_on_agent.append((state.status_since, at))
        elif state.status == "pending":
            state.waiting_on_requester.append((state.status_since, at))
        state.status, state.status_since = status, at

    if kind == "replied":
        move("open")
        state.assignee_id, state.assigned_at, state.first_reply_at = assignee, at, at
        state.replies += 1
        state.assignee_updated_at = state.latest_comment_at = at
    elif kind == "pending":
        move("pending")
        state.replies += 1
        state.assignee_updated_at = state.latest_comment_at = at
    elif kind in ("customer_replied", "reopened"):
        move("open")
        state.reopens += kind == "reopened"
        state.requester_updated_at = state.latest_comment_at = at
    elif kind == "solved":
        move("solved")
        state.solves.append(at)
        state.replies += 1
        state.assignee_updated_at = state.latest_comment_at = at
    elif kind == "offered":
        state.survey = "offered"
    elif kind in ("rated", "rating_changed"):
        state.requester_updated_at = at
    elif kind == "closed":
        move("closed")
    elif kind == "deleted":
        state.deleted_from, state.status = state.status, "deleted"


def _ticket_version(base: dict, state: _State, at: int, generated: int) -> dict:
    if state.rating is not None:
        satisfaction = {key: state.rating[key] for key in ("id", "score", "comment")}
    else:
        satisfaction = {"score": state.survey}
    return {**base, "status": state.status, "assignee_id": state.assignee_id,
            "satisfaction_rating": satisfaction, "updated_at": _at(at), "generated_timestamp": generated}


def _metric_version(base: dict, state: _State, created: int, at: int) -> dict:
    solved = state.status in ("solved", "closed")
    return {
        **base,
        "updated_at": _at(at),
        "group_stations": 1,
        "assignee_stations": 1 if state.assignee_id else 0,
        "reopens": state.reopens,
        "replies": state.replies,
        "reply_time_in_minutes": (_minutes([(created, state.first_reply_at)]) if state.first_reply_at
                                  else dict(_NO_MINUTES)),
        "first_resolution_time_in_minutes": (_minutes([(created, state.solves[0])]) if state.solves
                                             else dict(_NO_MINUTES)),
        "full_resolution_time_in_minutes": (_minutes([(created, state.solves[-1])]) if solved
                                            else dict(_NO_MINUTES)),
        "agent_wait_time_in_minutes": _minutes(state.waiting_on_requester),
        "requester_wait_time_in_minutes": _minutes(state.waiting_on_agent),
        "on_hold_time_in_minutes": {"calendar": 0, "business": 0},
        "solved_at": _at(state.solves[-1]) if solved else None,
        "assigned_at": _at(state.assigned_at) if state.assigned_at else None,
        "initially_assigned_at": _at(state.assigned_at) if state.assigned_at else None,
        "status_updated_at": _at(state.status_since),
        "latest_comment_added_at": _at(state.latest_comment_at) if state.latest_comment_at else None,
        "requester_updated_at": _at(state.requester_updated_at) if state.requester_updated_at else None,
        "assignee_updated_at": _at(state.assignee_updated_at) if state.assignee_updated_at else None,
    }


def _subject(person: Person, draws: _Draws) -> str:
    return _CLAUSE.split(VERBATIMS[person.language][_MOOD.names[draws.mood]])[0].strip()


def _via(channel: str, company: Company, person: Person) -> dict:
    sender: dict[str, Any] = {}
    if channel == "email":
        sender = {"address": company.spelled_email(person, "zendesk"),
                  "name": f"{person.first_name} {person.last_name}"}
    elif channel == "voice":
        sender = {"phone": company.spelled_phone(person, "zendesk"),
                  "name": f"{person.first_name} {person.last_name}"}
    receiver = {"address": "support@cxloop.example", "name": "cxloop Support"} if channel == "email" else {}
    return {"channel": channel, "source": {"from": sender, "to": receiver, "rel": None}}


def _rating_filter(query: Query) -> tuple[int | None, int | None, str | None]:
    """The ratings list's filters: start_time, end_time (inclusive, on created_at) and score."""
    bounds: dict[str, int] = {}
    for name in ("start_time", "end_time"):
        value = first(query, name)
        if value is not None:
            try:
                bounds[name] = int(value)
            except ValueError:
                raise ValueError(f"{name} must be a Unix epoch time in seconds") from None
    score = first(query, "score")
    if score is not None and score not in RATING_SCORES:
        raise ValueError(f"score must be one of {', '.join(sorted(RATING_SCORES))}")
    return bounds.get("start_time"), bounds.get("end_time"), score


def _score_matches(record: dict, score: str) -> bool:
    if score.startswith("received"):
        wanted = True
    elif score in ("offered", "unoffered"):
        wanted = False  # every served rating has been received
    else:
        wanted = record["score"] == score.split("_")[0]
    if score.endswith("_with_comment"):
        wanted = wanted and bool(record["comment"])
    if score.endswith("_without_comment"):
        wanted = wanted and not record["comment"]
    return wanted


def _list_page(resource: str, query: Query, url: str, view: _View, positions: Sequence[int],
               records: Callable[[int, int], list[dict]]) -> Reply:
    """A page of a list endpoint over `view` at `positions`: by cursor when `page[size]` is sent, else by offset."""
    if first(query, "page[size]") is None:
        return _offset_page(resource, query, url, len(positions), records)
    try:
        size = int(first(query, "page[size]"))
    except ValueError:
        return _error(400, "InvalidPaginationParameter", "page[size] must be an integer")
    if not 1 <= size <= LIST_MAX_PAGE_SIZE:
        return _error(400, "InvalidPaginationParameter", f"page[size] must be between 1 and {LIST_MAX_PAGE_SIZE}")
    keys = _Keys(view, positions)
    after, before = first(query, "page[after]"), first(query, "page[before]")
    try:
        if before:
            stop = bisect.bisect_left(keys, _decode(before)[1])
            begin = max(0, stop - size)
            has_more = begin > 0
        else:
            begin = bisect.bisect_right(keys, _decode(after)[1]) if after else 0
            stop = min(len(keys), begin + size)
            has_more = stop < len(keys)
    except ValueError as exc:
        return _error(400, "InvalidPaginationParameter", str(exc))
    after_cursor = _encode(keys[stop - 1]) if stop > begin else None
    before_cursor = _encode(keys[begin]) if stop > begin else None
    kept = [(k, v) for k, values in query.items() if not k.startswith("page[") for v in values]

    def link(name: str, cursor: str | None) -> str | None:
        return f"{url}?{urlencode([*kept, ('page[size]', size), (name, cursor)])}" if cursor else None

    return Reply(200, {
        resource: records(begin, stop),
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
        "links": {"next": link("page[after]", after_cursor), "prev": link("page[before]", before_cursor)},
    })


def _offset_page(resource: str, query: Query, url: str, count: int,
                 records: Callable[[int, int], list[dict]]) -> Reply:
    try:
        number = int(first(query, "page", "1"))
        per_page = int(first(query, "per_page", "100"))
    except ValueError:
        return _error(400, "InvalidPaginationParameter", "page and per_page must be integers")
    if number < 1 or not 1 <= per_page <= LIST_MAX_PAGE_SIZE:
        return _error(400, "InvalidPaginationParameter", f"page >= 1 and per_page 1-{LIST_MAX_PAGE_SIZE}")
    if number * per_page > OFFSET_RECORD_LIMIT:
        return _error(400, "InvalidPaginationParameter",
                      "Offset pagination is limited to the first 10,000 records; use cursor pagination")
    begin = (number - 1) * per_page
    kept = [(k, v) for k, values in query.items() if k != "page" for v in values]

    def link(page: int) -> str:
        return f"{url}?{urlencode([*kept, ('page', page)])}"

    return Reply(200, {
        resource: records(min(begin, count), min(begin + per_page, count)),
        "next_page": link(number + 1) if begin + per_page < count else None,
        "previous_page": link(number - 1) if number > 1 else None,
        "count": count,
    })


def _error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "description": description})


def _invalid(field_name: str, description: str) -> Reply:
    """Zendesk's 422 for a record it will not save, naming the field."""
    return Reply(422, {"error": "RecordInvalid", "description": "Record validation errors",
                       "details": {field_name: [{"description": description, "error": "InvalidValue"}]}})


def _forbidden() -> Reply:
    return _error(403, "Forbidden", "You do not have access to this page. Please contact the account owner of "
                  "this help desk for further help.")
