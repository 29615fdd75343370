"""Zendesk Support API simulator (shared/api-protocols.md §2).

One Zendesk account over the shared `Company`, behind HTTP Basic auth with user
`"{email}/token"` and the API token as password (401 `{"error": "Couldn't authenticate you"}`
otherwise). Endpoints, as documented:

- `GET /api/v2/incremental/{tickets,users}/cursor.json`: the first request needs `start_time`
  (Unix seconds, at least one minute in the past, else 400), later ones `cursor=<after_cursor>`
  alone; `per_page` defaults to 1000. The answer is `tickets[]`/`users[]` with `after_cursor`,
  `after_url`, `before_cursor`, `before_url` and `end_of_stream`. Each record appears once, in
  its latest version, ordered by `generated_timestamp` (users: `updated_at`) then id, and is
  included when that time is >= start_time; the most recent minute is never served. The cursor
  encodes a position in that order, so it stays valid while records change.
- `GET /api/v2/ticket_metrics[.json]` and `GET /api/v2/satisfaction_ratings[.json]`: the cursor
  envelope (`page[size]` 1-100, `page[after]`/`page[before]`; `meta {has_more, after_cursor,
  before_cursor}`, `links {next, prev}`), or offset pagination (`page`, `per_page`, `next_page`,
  400 past the first 10,000 records) when `page[size]` is absent. Metrics come newest created
  first with no filter; ratings accept `start_time`/`end_time` (Unix seconds on `created_at`)
  and `score`.
- Optionally (`incremental_per_minute`), the incremental endpoints allow that many requests per
  `rate_window_seconds` and answer 429 with `Retry-After`, `X-Rate-Limit` and
  `X-Rate-Limit-Remaining`; off by default.

Where the documentation is silent, this simulator decides, and a client must not lean on more:
- `end_of_stream` is true when a page comes back short of `per_page`, so an export whose size is
  a multiple of `per_page` ends with an empty page. `after_cursor` is always set, as in the
  official example; with no records it keeps the position asked for.
- `meta.has_more` looks ahead: it is false on the last page with records.
- The ratings list serves received ratings (good/bad) ordered by id, i.e. by creation;
  `start_time` and `end_time` are both inclusive.
- `per_page` of the exports is capped at 1000. `Retry-After` is fractional seconds, rounded up
  to 0.01 s, so tests can use tiny rate windows; Zendesk sends whole seconds.
- Agents (assignees) and organisations are referenced by id but not served as users.

Time model: every ticket, user, metric set and rating has a history of versions, each visible
from its `generated_timestamp` (up to 30 s after `updated_at`, like Zendesk's background
processing). The API answers as of `as_of` (default `company.end`; tests move it to replay
updates): the latest version generated before it. Ticket lifecycle: new -> open (first agent
reply, assignment) -> maybe pending -> open -> solved (90%) -> maybe reopened and solved again;
then a survey may be offered and rated good/bad, a rating may be changed, and the ticket closes
four days after its last solve (Zendesk's default automation), after which nothing changes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any
from urllib.parse import urlencode

from simulators.company import VERBATIMS, Company, Person, iso
from simulators.server import Query, Reply, first, spoil_first

DEFAULT_EMAIL = "agent@cxloop.example"
DEFAULT_TOKEN = "zd-demo-token"
ACCOUNT_URL = "https://cxloop.zendesk.com"
RESOURCES = ("tickets", "users", "ticket_metrics", "satisfaction_ratings")

EXPORT_MAX_PER_PAGE = 1000
LIST_MAX_PAGE_SIZE = 100
OFFSET_RECORD_LIMIT = 10_000
RECENT_SECONDS = 60
AUTO_CLOSE = timedelta(days=4)

CHANNELS = {"email": 40, "web": 25, "chat": 15, "api": 5, "voice": 10, "mobile": 5}
TICKETS_PER_PERSON = [0, 0, 1, 1, 1, 2, 2, 3, 4]
MOODS = {"pos": 35, "neu": 40, "neg": 25}
GOOD_SHARE = {"pos": 0.95, "neu": 0.6, "neg": 0.15}
TIME_ZONES = {"GB": "London", "PL": "Warsaw", "FR": "Paris", "IR": "Tehran", "CN": "Beijing"}
AGENT_IDS = tuple(range(9_100_001, 9_100_009))
GROUP_IDS = (20_000_001, 20_000_002)
FIRST_TICKET_ID = 10_001
FIRST_METRIC_ID = 40_000_001
FIRST_RATING_ID = 80_000_001
ORGANISATION_BASE = 360_000_000
# Zendesk's default satisfaction reasons for a bad rating (code, text).
BAD_REASONS = [(5, "The issue took too long to resolve"), (6, "The issue was not resolved"),
               (7, "The agent's knowledge is unsatisfactory"), (8, "The agent's attitude is unsatisfactory"),
               (100, "Some other reason")]
RATING_SCORES = {"offered", "unoffered", "received", "received_with_comment", "received_without_comment",
                 "good", "good_with_comment", "good_without_comment", "bad", "bad_with_comment",
                 "bad_without_comment"}

_EXPORT_PATH = re.compile(r"^/api/v2/incremental/(?P<resource>tickets|users)/cursor\.json$")
_LIST_PATH = re.compile(r"^/api/v2/(?P<resource>ticket_metrics|satisfaction_ratings)(?:\.json)?$")
_CLAUSE = re.compile(r"[,，،.。]")

Key = tuple[int, ...]
History = list[tuple[int, dict]]  # (generated epoch, record), oldest first


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _at(epoch: int) -> str:
    return iso(datetime.fromtimestamp(epoch, tz=UTC))


def _span(rng: Random, low_minutes: float, high_minutes: float) -> int:
    """Seconds, log-uniform between the bounds: most replies are quick, a few take days."""
    return int(math.exp(rng.uniform(math.log(low_minutes), math.log(high_minutes))) * 60)


def business_minutes(start: int, end: int) -> int:
    """Minutes of [start, end) inside business hours, Monday-Friday 09:00-17:00 UTC."""
    seconds = 0
    day = datetime.fromtimestamp(start, tz=UTC).date()
    last = datetime.fromtimestamp(end, tz=UTC).date()
    while day <= last:
        if day.weekday() < 5:
            opens = _epoch(datetime(day.year, day.month, day.day, 9, tzinfo=UTC))
            seconds += max(0, min(end, opens + 8 * 3600) - max(start, opens))
        day += timedelta(days=1)
    return seconds // 60


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


@dataclass
class _Ticket:
    """One ticket's timeline before ids are dealt out in creation order."""

    person: Person
    user_id: int
    created: int
    events: list[tuple[int, str]]
    rng_state: Random
    ticket_id: int = 0
    metric_id: int = 0
    rating_id: int = 0


@dataclass
class _View:
    keys: list[Key]
    records: list[dict]


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


class ZendeskApi:
    name = "zendesk"

    def __init__(self, company: Company, email: str = DEFAULT_EMAIL, token: str = DEFAULT_TOKEN, *,
                 incremental_per_minute: int | None = None, rate_window_seconds: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.company = company
        self.as_of = company.end
        self._credentials = base64.b64encode(f"{email}/token:{token}".encode()).decode()
        self.incremental_per_minute = incremental_per_minute
        self.rate_window_seconds = rate_window_seconds
        self._clock = clock
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._views: dict[tuple[str, int], _View] = {}
        self._histories: dict[str, list[History]] = {name: [] for name in RESOURCES}
        self._build()

    # -- dataset ----------------------------------------------------------------------------

    def records(self, resource: str, as_of: datetime | None = None) -> list[dict]:
        """Every record of `resource` as the API serves it at `as_of` (default: `self.as_of`), in API order."""
        return list(self._view(resource, as_of).records)

    def _build(self) -> None:
        company = self.company
        end = _epoch(company.end)
        tickets: list[_Ticket] = []
        for person in company.people():
            user_created = self._build_user(person, end)
            rng = company.rng("zendesk", "tickets", person.index)
            earliest = max(_epoch(company.start), user_created + 60)
            for _ in range(rng.choice(TICKETS_PER_PERSON)):
                if earliest >= end:
                    break
                created = earliest + rng.randrange(end - earliest)
                events = [e for e in self._timeline(rng, created) if e[0] < end]
                tickets.append(_Ticket(person, company.zendesk_user_id(person), created, events,
                                       company.rng("zendesk", "ticket", person.index, created)))
        # Zendesk deals ids out in creation order, so ids are dealt only once all tickets exist.
        tickets.sort(key=lambda t: (t.created, t.user_id))
        for offset, ticket in enumerate(tickets):
            ticket.ticket_id, ticket.metric_id = FIRST_TICKET_ID + offset, FIRST_METRIC_ID + offset
        rated = sorted((at, offset) for offset, t in enumerate(tickets) for at, kind in t.events if kind == "rated")
        for number, (_, offset) in enumerate(rated):
            tickets[offset].rating_id = FIRST_RATING_ID + number
        for ticket in tickets:
            self._build_ticket(ticket)

    def _build_user(self, person: Person, end: int) -> int:
        company = self.company
        rng = company.rng("zendesk", "user", person.index)
        start = _epoch(company.start)
        # Most customers were users before the period; the rest sign up during it.
        joined_before = rng.random() < 0.6
        created = start - rng.randrange(86400, 400 * 86400) if joined_before else _epoch(company.moment(rng))
        has_external_id = rng.random() < 0.7
        updates = sorted({created + 1 + rng.randrange(max(1, end - created - 1))
                          for _ in range(rng.choice([0, 0, 1, 1, 2]))})
        base = {
            "id": company.zendesk_user_id(person),
            "url": f"{ACCOUNT_URL}/api/v2/users/{company.zendesk_user_id(person)}.json",
            "name": f"{person.first_name} {person.last_name}",
            "email": company.spelled_email(person, "zendesk"),
            "phone": company.spelled_phone(person, "zendesk"),
            "role": "end-user",
            "locale": person.language,
            "time_zone": TIME_ZONES[person.country],
            "organization_id": ORGANISATION_BASE + company.organisation_of(person),
            "external_id": company.hubspot_contact_id(person) if has_external_id else None,
            "tags": [],
            "user_fields": {},
            "active": True,
            "suspended": False,
            "shared": False,
            "created_at": _at(created),
        }
        history: History = []
        for moment in [created, *(u for u in updates if u < end)]:
            history.append((moment, {**base, "verified": moment > created, "updated_at": _at(moment),
                                     "last_login_at": _at(moment) if moment > created else None}))
        self._histories["users"].append(history)
        return created

    @staticmethod
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

    def _build_ticket(self, ticket: _Ticket) -> None:
        company, person, rng = self.company, ticket.person, ticket.rng_state
        mood = rng.choices(list(MOODS), weights=list(MOODS.values()))[0]
        channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
        description = VERBATIMS[person.language][mood]
        subject = _CLAUSE.split(description)[0].strip()
        assignee = rng.choice(AGENT_IDS)
        group = rng.choice(GROUP_IDS)
        good = rng.random() < GOOD_SHARE[mood]
        with_comment = rng.random() < 0.6
        reason = rng.choice(BAD_REASONS)
        base = {
            "id": ticket.ticket_id,
            "url": f"{ACCOUNT_URL}/api/v2/tickets/{ticket.ticket_id}.json",
            "external_id": None,
            "type": rng.choices(["question", "incident", "problem", "task"], weights=[50, 35, 5, 10])[0],
            "subject": subject,
            "raw_subject": subject,
            "description": description,
            "priority": rng.choices(["low", "normal", "high", "urgent"], weights=[20, 55, 20, 5])[0],
            "recipient": "support@cxloop.example",
            "requester_id": ticket.user_id,
            "submitter_id": ticket.user_id,
            "organization_id": ORGANISATION_BASE + company.organisation_of(person),
            "group_id": group,
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
            "created_at": _at(ticket.created),
        }
        metric_base = {"id": ticket.metric_id, "ticket_id": ticket.ticket_id,
                       "url": f"{ACCOUNT_URL}/api/v2/ticket_metrics/{ticket.metric_id}.json",
                       "created_at": _at(ticket.created)}
        tickets: History = []
        metrics: History = []
        ratings: History = []
        state = _State(status_since=ticket.created, requester_updated_at=ticket.created,
                       latest_comment_at=ticket.created)
        rating_created = None
        for at, kind in ticket.events:
            _fold(state, at, kind, assignee)
            if kind in ("rated", "rating_changed"):
                score = "good" if good == (kind == "rated") else "bad"
                # The comment agrees with the score the customer gives, not with how the ticket began.
                tone = "pos" if score == "good" else "neg" if mood == "neg" else "neu"
                comment = VERBATIMS[person.language][tone] if with_comment else ""
                rating_created = rating_created or at
                state.rating = {
                    "id": ticket.rating_id,
                    "url": f"{ACCOUNT_URL}/api/v2/satisfaction_ratings/{ticket.rating_id}.json",
                    "assignee_id": assignee, "group_id": group, "requester_id": ticket.user_id,
                    "ticket_id": ticket.ticket_id, "score": score, "comment": comment,
                    "reason": reason[1] if score == "bad" else None,
                    "reason_code": reason[0] if score == "bad" else None,
                    "reason_id": None,
                    "created_at": _at(rating_created), "updated_at": _at(at),
                }
            # Background processing: a version becomes visible a few seconds after it is made.
            generated = at + rng.randrange(0, 31)
            tickets.append((generated, self._ticket_version(base, state, at, generated)))
            if kind not in ("offered", "rated", "rating_changed"):
                metrics.append((generated, _metric_version(metric_base, state, ticket.created, at)))
            if state.rating is not None and kind in ("rated", "rating_changed"):
                ratings.append((generated, dict(state.rating)))
        self._histories["tickets"].append(tickets)
        self._histories["ticket_metrics"].append(metrics)
        if ratings:
            self._histories["satisfaction_ratings"].append(ratings)

    @staticmethod
    def _ticket_version(base: dict, state: _State, at: int, generated: int) -> dict:
        if state.rating is not None:
            satisfaction = {key: state.rating[key] for key in ("id", "score", "comment")}
        else:
            satisfaction = {"score": state.survey}
        return {**base, "status": state.status, "assignee_id": state.assignee_id,
                "satisfaction_rating": satisfaction, "updated_at": _at(at), "generated_timestamp": generated}

    def _view(self, resource: str, as_of: datetime | None = None) -> _View:
        moment = _epoch(as_of or self.as_of)
        with self._lock:
            cached = self._views.get((resource, moment))
            if cached is not None:
                return cached
        rows = []
        for history in self._histories[resource]:
            # Visible: the newest version generated strictly before `as_of`.
            index = bisect.bisect_left(history, moment, key=lambda version: version[0]) - 1
            if index >= 0:
                generated, record = history[index]
                rows.append((_sort_key(resource, generated, record), record))
        rows.sort(key=lambda row: row[0])
        view = _View([row[0] for row in rows], [row[1] for row in rows])
        with self._lock:
            self._views[(resource, moment)] = view
        return view

    # -- HTTP -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("authorization", "") != f"Basic {self._credentials}":
            return Reply(401, {"error": "Couldn't authenticate you"})
        base_url = f"http://{lowered.get('host', 'localhost')}"
        if method == "GET" and (match := _EXPORT_PATH.match(path)):
            return self._export(match["resource"], query, base_url + path)
        if method == "GET" and (match := _LIST_PATH.match(path)):
            return self._list(match["resource"], query, base_url + path)
        return _error(404, "InvalidEndpoint", "Not found")

    def _export(self, resource: str, query: Query, url: str) -> Reply:
        limited, rate_headers = self._throttle()
        if limited is not None:
            return limited
        now = int(self._clock())
        try:
            per_page = int(first(query, "per_page", str(EXPORT_MAX_PER_PAGE)))
        except ValueError:
            return _error(400, "InvalidValue", "per_page must be an integer")
        if not 1 <= per_page <= EXPORT_MAX_PER_PAGE:
            return _error(400, "InvalidValue", f"per_page must be between 1 and {EXPORT_MAX_PER_PAGE}")
        cursor, start_time = first(query, "cursor"), first(query, "start_time")
        if cursor:
            try:
                tag, position = _decode(cursor)
            except ValueError as exc:
                return _error(400, "InvalidPaginationParameter", str(exc))
        elif start_time is not None:
            try:
                start = int(start_time)
            except ValueError:
                return _error(400, "InvalidValue", "start_time must be a Unix epoch time in seconds")
            if start < 0:
                return _error(400, "InvalidValue", "start_time must not be negative")
            if start > now - RECENT_SECONDS:
                return _error(400, "InvalidValue", "Too recent start_time. Use a start_time older than 1 minute")
            # (start, -1) sorts before every record generated at `start`: those are included.
            tag, position = "", (start, -1)
        else:
            return _error(400, "InvalidValue", "start_time or cursor is required")
        view = self._view(resource)
        # Data isn't provided for the most recent minute.
        served = bisect.bisect_right(view.keys, (now - RECENT_SECONDS, math.inf))
        if tag == "b":
            stop = bisect.bisect_left(view.keys, position, hi=served)
            begin = max(0, stop - per_page)
        else:
            begin = bisect.bisect_right(view.keys, position, hi=served)
            stop = min(served, begin + per_page)
        records = view.records[begin:stop]
        after = _encode(view.keys[stop - 1]) if records else _encode(position)
        before = _encode(view.keys[begin], "b") if records else None
        page = {"per_page": per_page} if "per_page" in query else {}
        return Reply(200, {
            resource: records,
            "after_cursor": after,
            "after_url": f"{url}?{urlencode({'cursor': after, **page})}",
            "before_cursor": before,
            "before_url": f"{url}?{urlencode({'cursor': before, **page})}" if before else None,
            "end_of_stream": len(records) < per_page,
        }, rate_headers)

    def _throttle(self) -> tuple[Reply | None, dict[str, str]]:
        limit = self.incremental_per_minute
        if limit is None:
            return None, {}
        with self._lock:
            now = self._clock()
            while self._recent and self._recent[0] <= now - self.rate_window_seconds:
                self._recent.popleft()
            if len(self._recent) >= limit:
                wait = self._recent[0] + self.rate_window_seconds - now
                headers = {"Retry-After": f"{math.ceil(wait * 100) / 100:g}", "X-Rate-Limit": str(limit),
                           "X-Rate-Limit-Remaining": "0"}
                return Reply(429, {"error": "APIRateLimitExceeded", "description":
                                   "Number of allowed incremental export API requests per minute exceeded"},
                             headers), {}
            self._recent.append(now)
            return None, {"X-Rate-Limit": str(limit), "X-Rate-Limit-Remaining": str(limit - len(self._recent))}

    def _list(self, resource: str, query: Query, url: str) -> Reply:
        view = self._view(resource)
        keys, records = view.keys, view.records
        if resource == "satisfaction_ratings":
            try:
                keep = _rating_filter(query)
            except ValueError as exc:
                return _error(400, "InvalidValue", str(exc))
            chosen = [i for i, record in enumerate(records) if keep(record)]
            keys, records = [keys[i] for i in chosen], [records[i] for i in chosen]
        if first(query, "page[size]") is None:
            return _offset_page(resource, query, url, records)
        try:
            size = int(first(query, "page[size]"))
        except ValueError:
            return _error(400, "InvalidPaginationParameter", "page[size] must be an integer")
        if not 1 <= size <= LIST_MAX_PAGE_SIZE:
            return _error(400, "InvalidPaginationParameter", f"page[size] must be between 1 and {LIST_MAX_PAGE_SIZE}")
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
        page = records[begin:stop]
        after_cursor = _encode(keys[stop - 1]) if page else None
        before_cursor = _encode(keys[begin]) if page else None
        kept = [(k, v) for k, values in query.items() if not k.startswith("page[") for v in values]

        def link(name: str, cursor: str | None) -> str | None:
            return f"{url}?{urlencode([*kept, ('page[size]', size), (name, cursor)])}" if cursor else None

        return Reply(200, {
            resource: page,
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
            "links": {"next": link("page[after]", after_cursor), "prev": link("page[before]", before_cursor)},
        })

    def spoil_record(self, body: Any) -> None:
        for resource in RESOURCES:
            if spoil_first(body, resource, "id"):
                return


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


def _sort_key(resource: str, generated: int, record: dict) -> Key:
    if resource == "tickets":
        return generated, record["id"]
    if resource == "users":
        return _epoch(datetime.fromisoformat(record["updated_at"])), record["id"]
    if resource == "ticket_metrics":
        # Newest created first; ascending keys keep one bisect-based pager for every list.
        return -_epoch(datetime.fromisoformat(record["created_at"])), -record["id"]
    return (record["id"],)


def _rating_filter(query: Query) -> Callable[[dict], bool]:
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

    def keep(record: dict) -> bool:
        created = _epoch(datetime.fromisoformat(record["created_at"]))
        if created < bounds.get("start_time", -math.inf) or created > bounds.get("end_time", math.inf):
            return False
        if score is None or score.startswith("received"):
            wanted = True
        elif score in ("offered", "unoffered"):
            wanted = False  # every served rating has been received
        else:
            wanted = record["score"] == score.split("_")[0]
        if score and score.endswith("_with_comment"):
            wanted = wanted and bool(record["comment"])
        if score and score.endswith("_without_comment"):
            wanted = wanted and not record["comment"]
        return wanted

    return keep


def _offset_page(resource: str, query: Query, url: str, records: list[dict]) -> Reply:
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
        resource: records[begin:begin + per_page],
        "next_page": link(number + 1) if begin + per_page < len(records) else None,
        "previous_page": link(number - 1) if number > 1 else None,
        "count": len(records),
    })


def _error(status: int, error: str, description: str) -> Reply:
    return Reply(status, {"error": error, "description": description})
