"""Zendesk Support: tickets, users, ticket metrics, satisfaction (CSAT) ratings, SLA policies, metric events,
ticket comments, and the business-hours schedules, holidays and time zones.

Protocol (docs/api-protocols.md §2), the facts this module relies on:
- Base URL `https://{subdomain}.zendesk.com/api/v2`; an API token authenticates as HTTP Basic
  with user `"{email}/token"` and the token as password.
- Tickets and users come from the cursor-based incremental exports,
  `incremental/{tickets,users}/cursor.json`: the first request sends `start_time` (Unix seconds,
  which must be at least one minute in the past; the most recent minute is never served), the
  next ones only `cursor=<after_cursor>`, until `end_of_stream` is true. Each record comes once,
  in its latest version, ordered by `generated_timestamp` (tickets; it can be later than
  `updated_at`, so a ticket may arrive with `updated_at` before start_time) or `updated_at`
  (users). The export runs to "now", not to the end of our window.
- The exports allow 10 requests a minute; a 429 carries `Retry-After`, which HttpClient honours.
- Ticket metrics come with the ticket export: `include=metric_sets` sideloads a top-level
  `metric_sets[]` beside `tickets[]`, one metric set per ticket of the page, shaped as the
  `GET ticket_metrics` list serves them. That list (newest created first, no updated-since
  filter) is never called.
- Ticket metric sets carry every duration twice, `{calendar, business}` minutes; both land (the
  record is kept whole) and staging keeps both.
- `sla_policies`: `GET slas/policies` (admins), `{sla_policies[], count, next_page, previous_page}`;
  a handful of records, read whole every run (whether it ever pages is unconfirmed: a `next_page`
  on the account's own host is followed, any other refused).
- `ticket_metric_events`: `GET incremental/ticket_metric_events?start_time=` (admins), the
  time-based export `{ticket_metric_events[], count, end_time, next_page}`, chronological. The
  next page is the same request from `start_time=end_time`; a page shorter than 1000 is the last.
  A page holds every event of its last second, which the next page serves again: those are
  dropped there rather than landed twice. Events only arrive; `time` is their change time.
- `ticket_comments`: `GET incremental/ticket_events.json?start_time=&include=comment_events` (admins), the
  time-based ticket events export `{ticket_events[], count, end_time, next_page, end_of_stream}`.
  Each event (an audit: `id, ticket_id, timestamp, created_at, updater_id, via, child_events[]`)
  holds its changes as child events; with the sideload a comment is one of them, `{id, type,
  event_type: Comment|VoiceComment, author_id, body, html_body, plain_body (not always), public,
  audit_id, via, created_at}`, and `public: false` is an internal note. Pages run until
  `end_of_stream`, the next from `start_time=end_time`; a page can exceed `per_page` when events
  share a second, and the next page serves that second again. Comments only arrive.
- `satisfaction_ratings` uses the cursor envelope: `page[size]` (at most 100),
  `page[after]=<meta.after_cursor>`, until `meta.has_more` is false; it filters `created_at`
  with `start_time` and `end_time` (Unix seconds).
- Deleted tickets (§2f) are in the ticket export by default, with `status: "deleted"`
  (`exclude_deleted=true` would hide them, so it is never sent). `GET deleted_tickets` lists
  soft-deleted tickets of the last 30 days that are not yet scrubbed, `{id, subject, actor,
  deleted_at, previous_state}`, in the cursor envelope above, `sort_by`/`sort_order`; 10 requests
  a minute.
- `schedules`, `schedule_holidays`, `time_zones` (§2.3c): `GET business_hours/schedules` (admins,
  `{schedules[]}`, unpaginated as far as known: `id, name, time_zone` (a Zendesk name),
  `intervals[{start_time, end_time}]` in minutes since Sunday 00:00 in that zone, `created_at,
  updated_at`); per schedule `GET business_hours/schedules/{id}/holidays?start_date=&end_date=`
  (admins, `{holidays[{id, name, start_date, end_date}]}`, inclusive dates); and `GET time_zones`
  (`{time_zones[{translated_name, name, offset, formatted_offset, iana_name}]}`).

Choices, and why:
- Where a run starts. The export restarts from the window's start rather than from a saved
  `after_cursor` (the documented way to resume), so that the one per-stream watermark in
  `raw._state` is the only state and a backfill or rerun of any interval works the same way.
  A ten-minute lookback re-reads what the last minute's embargo (and Zendesk's background
  processing) may have held back when the previous run started right after its window ended.
- Where a run ends. Records changed at or after the window's end still arrive, because the
  export cannot be stopped at a time; they land anyway: the export only ever holds a record's
  latest version, which the loader would keep over any older one, and the next run sees it
  again as no change.
- Ticket metrics. A metric set changes only when its ticket does, and the ticket export is
  incremental, so the `ticket_metrics` stream reads the ticket export with `include=metric_sets`
  over its own window and cursor (the same start_time, lookback and paging as `tickets`) and
  lands the sideloaded metric sets: a night costs what changed, not every metric ever made (the
  metrics list has no updated-since filter and comes newest created first, so it would have to
  be paged in full every run). A ticket changed for another reason (a rating, a closure) brings
  its metric set along unchanged, which lands as no change. The price is a second pass over the
  ticket export, counted against its 10 requests a minute.
- Satisfaction ratings. The filter is on creation, but a customer can change a rating until its
  ticket closes. Solved tickets close within 28 days (Zendesk's system limit; 4 days by the
  default automation; UNCONFIRMED in the protocol notes) and a rating is made after its
  ticket is solved, so re-reading 28 days of creations catches every change; a rating changed
  on a ticket reopened for longer still reaches the warehouse through the ticket's own
  `satisfaction_rating`.
- Deleted tickets. A ticket the export serves as deleted lands as a tombstone (its id and the
  deletion time, its `updated_at`), which replaces the landed ticket and keeps none of its
  personal data. After the export the `tickets` stream also reads the deleted tickets list,
  newest deletion first, down to the window's start (the runner's window already reaches back
  by the stream's lookback; a first run with no start reads the whole list), and lands a
  tombstone for each deletion there that the export did not show: a deleted ticket is scrubbed
  within 30 days, so whatever the export misses, the list is the last place to see it. A ticket
  tombstoned by both is landed once, from the export, so the batch records no superseded copy.

- Ticket comments. One record per comment child event, keyed by the child's id: the child as served
  plus its event's `ticket_id`, `_event_id` and `_event_timestamp` (the child's own `created_at`,
  else its event's). Other child events (status, tags, ...) are not landed. Internal notes land
  too, with `public: false`: staging decides what is a customer's verbatim. A child id already
  landed by this run's previous page (its second served again) is dropped there; the protocol
  notes call such repeats unconfirmed, so the same id twice on one page is dropped too. The read
  follows `start_time=end_time` rather than `next_page`'s URL, so credentials go only to the
  connection's host. Comments of a ticket deleted at the source are not tombstoned here: the
  export does not say so; staging drops them (stg_zendesk__ticket_comments).

- Reference lists (schedules, their holidays, time zones). A few records, read whole every run
  (full refresh): a record the account no longer serves gets a tombstone, so a removed schedule
  leaves. Holidays and time zones carry no change time, so the run stamps `_updated_at` on a record
  whose content differs from the version landed (or is new) and keeps the landed stamp on an
  unchanged one, which then lands as no change. Holidays are read from the history start (else a
  year back) to a year ahead of the run, each with its `schedule_id`.

Connection `cxloop_zendesk`: host = `https://<subdomain>.zendesk.com`, login = the agent's email,
password = API token, extra = `{"start_date": ..., "retry": {...}}`. The host is checked before
use: a scheme-less host gets https://, and one with a user, a query, a fragment or a path other
than `/api/v2` is refused naming the connection, so nothing in it can change the endpoints read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from typing import Any
from urllib.parse import urlsplit

import psycopg

from ingest import schema
from ingest.connections import base_url, source_connection
from ingest.http import HttpClient, SourceHTTPError
from ingest.streams import Record, RecordError, Source, Stream, Window, parse_timestamp, tombstone

CONN_ID = "cxloop_zendesk"
SOURCE = "zendesk"
EXPORT_PAGE_SIZE = 1000
LIST_PAGE_SIZE = 100
# "All history": the export wants a start_time, and the earliest second is as good as any.
EARLIEST_START_TIME = 1
# Zendesk rejects a start_time inside the last minute; the second minute absorbs clock skew.
RECENT_GUARD = timedelta(minutes=2)
EXPORT_LOOKBACK = timedelta(minutes=10)
RATING_CHANGE_LOOKBACK = timedelta(days=28)
# A full page of a time-based export: one shorter is the last.
TIME_EXPORT_PAGE_SIZE = 1000
# Events asked for per page of the ticket events export (its documented maximum).
TICKET_EVENTS_PAGE_SIZE = 1000
# The child events of the ticket events export that are comments.
COMMENT_EVENT_TYPES = frozenset({"Comment", "VoiceComment"})


def _id(record: Record) -> Any:
    return record["id"]


def _updated_at(record: Record) -> Any:
    return record["updated_at"]


STREAMS = (
    Stream(source=SOURCE, name="tickets", key=_id, updated_at=_updated_at, lookback=EXPORT_LOOKBACK),
    Stream(source=SOURCE, name="users", key=_id, updated_at=_updated_at, lookback=EXPORT_LOOKBACK),
    Stream(source=SOURCE, name="ticket_metrics", key=_id, updated_at=_updated_at, lookback=EXPORT_LOOKBACK),
    Stream(source=SOURCE, name="satisfaction_ratings", key=_id, updated_at=_updated_at,
           lookback=RATING_CHANGE_LOOKBACK),
    Stream(source=SOURCE, name="sla_policies", key=_id, updated_at=_updated_at),
    Stream(source=SOURCE, name="ticket_metric_events", key=_id, updated_at=lambda r: r["time"],
           lookback=EXPORT_LOOKBACK),
    Stream(source=SOURCE, name="ticket_comments", key=_id, updated_at=lambda r: r["created_at"],
           lookback=EXPORT_LOOKBACK),
    Stream(source=SOURCE, name="schedules", key=_id, updated_at=_updated_at),
    Stream(source=SOURCE, name="schedule_holidays", key=lambda r: f"{r['schedule_id']}:{r['id']}",
           updated_at=lambda r: r[STAMP]),
    Stream(source=SOURCE, name="time_zones", key=lambda r: r["name"], updated_at=lambda r: r[STAMP]),
)
# Streams read whole every run, and the fields of their natural key (for a tombstone).
FULL_REFRESH = {"schedules": ("id",), "schedule_holidays": ("schedule_id", "id"), "time_zones": ("name",)}
# Set by the connector on records the API serves with no change time.
STAMP = "_updated_at"
HOLIDAYS_AHEAD = timedelta(days=365)
HOLIDAYS_BEHIND = timedelta(days=365)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ZendeskSource(Source):
    client: HttpClient
    history_start: datetime | None = None
    # The wall clock, to keep start_time out of the minute Zendesk refuses, to stamp reference lists'
    # changes and to bound the holidays read; never for windows.
    clock: Callable[[], datetime] = _utc_now
    name: str = SOURCE
    streams: tuple[Stream, ...] = STREAMS
    # A full-refresh stream's live records in the warehouse by key, read by before_read; None when not read.
    _landed: dict[str, Record] | None = field(default=None, init=False, repr=False)

    def before_read(self, conn: psycopg.Connection, stream: Stream) -> None:
        self._landed = None
        if stream.name in FULL_REFRESH:
            schema.ensure_raw_table(conn, stream.table)
            self._landed = dict(conn.execute(
                f"select record_key, record from raw.{stream.table} where not record ? '_deleted_at'").fetchall())

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        if stream.name in FULL_REFRESH:
            return self._full_refresh(stream)
        if stream.name == "tickets":
            return self._tickets(window)
        if stream.name == "users":
            return self._export(stream.name, window)
        if stream.name == "ticket_metrics":
            return self._export("tickets", window, sideload="metric_sets", stream=stream.name)
        if stream.name == "satisfaction_ratings":
            return self._satisfaction_ratings(window)
        if stream.name == "sla_policies":
            return self._sla_policies()
        if stream.name == "ticket_metric_events":
            return self._metric_events(window)
        if stream.name == "ticket_comments":
            return self._ticket_comments(window)
        raise ValueError(f"zendesk has no stream {stream.name!r}; streams: {', '.join(s.name for s in STREAMS)}")

    def start_time(self, window: Window) -> int:
        """The export's `start_time` for `window`: its start, but never inside Zendesk's last minute."""
        if window.start is None:
            return EARLIEST_START_TIME
        latest = math.floor((self.clock() - RECENT_GUARD).timestamp())
        return max(EARLIEST_START_TIME, min(math.floor(window.start.timestamp()), latest))

    def _export(self, resource: str, window: Window, *, sideload: str | None = None,
                stream: str | None = None) -> Iterator[list[Record]]:
        """Pages of the `resource` export from the window's start, or of its `sideload` array when given."""
        path, stream = f"incremental/{resource}/cursor.json", stream or resource
        include = {"include": sideload} if sideload else {}
        params: dict[str, Any] = {"start_time": self.start_time(window), "per_page": EXPORT_PAGE_SIZE, **include}
        while True:
            body = self._get(path, params, stream)
            yield _records(body, sideload or resource, stream)
            if body.get("end_of_stream") is True:
                return
            cursor = body.get("after_cursor")
            if not cursor or cursor == params.get("cursor"):
                raise ValueError(f"zendesk.{stream}: the export is not at its end but gave no new after_cursor; "
                                 "cannot page further")
            params = {"cursor": cursor, "per_page": EXPORT_PAGE_SIZE, **include}

    def _tickets(self, window: Window) -> Iterator[list[Record]]:
        """The export's tickets, a deleted one as its tombstone; then the deletions only the list shows."""
        tombstoned: set[Any] = set()
        for page in self._export("tickets", window):
            yield [_deleted(ticket, tombstoned) if _is_deleted(ticket) else ticket for ticket in page]
        yield from self._deleted_tickets(window, tombstoned)

    def _deleted_tickets(self, window: Window, tombstoned: set[Any]) -> Iterator[list[Record]]:
        params = {"sort_by": "deleted_at", "sort_order": "desc"}
        for page in self._cursor_pages("deleted_tickets", params, stream="tickets"):
            # Newest first: the first deletion before the window's start ends the read.
            recent = list(takewhile(lambda entry: not _deleted_before(entry, window.start), page))
            yield [_deleted(entry, tombstoned, deleted_at="deleted_at") for entry in recent
                   if not (isinstance(entry, dict) and entry.get("id") in tombstoned)]
            if len(recent) < len(page):
                return

    def _sla_policies(self) -> Iterator[list[Record]]:
        return self._listed("slas/policies", "sla_policies", "sla_policies")

    def _listed(self, path: str, array: str, stream: str, params: dict[str, Any] | None = None
                ) -> Iterator[list[Record]]:
        """A short list read whole, following a `next_page` on the account's own host (unconfirmed that one comes)."""
        first_path = path
        while True:
            body = self._get(path, (params or {}) if path == first_path else {}, stream)
            yield _records(body, array, stream)
            next_page = body.get("next_page")
            if not next_page:
                return
            # The URL comes from the response: credentials go only to the account's own host.
            if not self.client.url(next_page).startswith(self.client.base_url) or next_page == path:
                raise ValueError(f"zendesk.{stream}: next_page is not a new page of this account's "
                                 f"{first_path}; cannot page further")
            path = next_page

    def _full_refresh(self, stream: Stream) -> Iterator[list[Record]]:
        """Every record the account serves now, stamped where it has no change time; then a tombstone
        for each landed record it no longer serves."""
        landed, now = self._landed, _iso(self.clock())
        served: set[str] = set()
        for page in self._reference(stream.name):
            out = []
            for record in page:
                if isinstance(record, dict):
                    try:
                        key = str(stream.key(record))
                    except (KeyError, TypeError):
                        out.append(record)  # the loader rejects it, naming why
                        continue
                    served.add(key)
                    if stream.name != "schedules":
                        record = _stamped(record, (landed or {}).get(key), now)
                out.append(record)
            yield out
        if landed is not None:
            gone = sorted(landed.keys() - served)
            if gone:
                fields = FULL_REFRESH[stream.name]
                yield [tombstone({name: landed[key].get(name) for name in fields}, now) for key in gone]

    def _reference(self, name: str) -> Iterator[list[Record]]:
        if name == "schedules":
            yield from self._listed("business_hours/schedules", "schedules", name)
        elif name == "time_zones":
            yield from self._listed("time_zones", "time_zones", name)
        else:
            today = self.clock().date()
            start = self.history_start.date() if self.history_start else today - HOLIDAYS_BEHIND
            dates = {"start_date": start.isoformat(), "end_date": (today + HOLIDAYS_AHEAD).isoformat()}
            for page in self._listed("business_hours/schedules", "schedules", name):
                for schedule in page:
                    if not isinstance(schedule, dict) or isinstance(schedule.get("id"), bool) \
                            or not isinstance(schedule.get("id"), int):
                        raise ValueError(f"zendesk.{name}: a schedule without an integer id; cannot read its "
                                         "holidays")
                    path = f"business_hours/schedules/{schedule['id']}/holidays"
                    for holidays in self._listed(path, "holidays", name, dates):
                        yield [{**holiday, "schedule_id": schedule["id"]} if isinstance(holiday, dict) else holiday
                               for holiday in holidays]

    def _metric_events(self, window: Window) -> Iterator[list[Record]]:
        stream, start = "ticket_metric_events", self.start_time(window)
        again: set[Any] = set()  # ids of the last page's last second, which this page serves again
        while True:
            body = self._get(f"incremental/{stream}", {"start_time": start}, stream)
            events = _records(body, stream, stream)
            yield [event for event in events if not (isinstance(event, dict) and event.get("id") in again)]
            end_time = body.get("end_time")
            if len(events) < TIME_EXPORT_PAGE_SIZE or body.get("end_of_stream") is True or not body.get("next_page"):
                return
            if isinstance(end_time, bool) or not isinstance(end_time, int) or end_time <= start:
                raise ValueError(f"zendesk.{stream}: a full page whose end_time {end_time!r} does not move past "
                                 f"start_time {start}; cannot page further")
            again = {event.get("id") for event in events if isinstance(event, dict) and _second(event) == end_time}
            start = end_time

    def _ticket_comments(self, window: Window) -> Iterator[list[Record]]:
        stream, start = "ticket_comments", self.start_time(window)
        again: set[Any] = set()  # comment ids of the last page's last second, which this page serves again
        while True:
            params = {"start_time": start, "include": "comment_events", "per_page": TICKET_EVENTS_PAGE_SIZE}
            body = self._get("incremental/ticket_events.json", params, stream)
            events = _records(body, "ticket_events", stream)
            page: list[Record] = []
            for event in events:
                for comment in _comments(event, stream):
                    if isinstance(comment, dict) and comment.get("id") is not None:
                        if comment["id"] in again:
                            continue
                        again.add(comment["id"])
                    page.append(comment)
            yield page
            if body.get("end_of_stream") is True:
                return
            end_time = body.get("end_time")
            if isinstance(end_time, bool) or not isinstance(end_time, int) or end_time <= start:
                raise ValueError(f"zendesk.{stream}: the export is not at its end but its end_time {end_time!r} "
                                 f"does not move past start_time {start}; cannot page further")
            again = {comment.get("id") for event in events if _from_second(event, end_time)
                     for comment in _comments(event, stream) if isinstance(comment, dict)}
            start = end_time

    def _satisfaction_ratings(self, window: Window) -> Iterator[list[Record]]:
        # Both bounds are whole seconds and taken as inclusive: end_time is the window's last second.
        params: dict[str, Any] = {"end_time": math.ceil(window.end.timestamp()) - 1}
        if window.start is not None:
            params["start_time"] = math.floor(window.start.timestamp())
        return self._cursor_pages("satisfaction_ratings", params)

    def _cursor_pages(self, resource: str, filters: dict[str, Any], stream: str | None = None
                      ) -> Iterator[list[Record]]:
        params: dict[str, Any] = {**filters, "page[size]": LIST_PAGE_SIZE}
        stream = stream or resource
        while True:
            body = self._get(resource, params, stream)
            yield _records(body, resource, stream)
            meta = body.get("meta") or {}
            if not meta.get("has_more"):
                return
            cursor = meta.get("after_cursor")
            if not cursor or cursor == params.get("page[after]"):
                raise ValueError(f"zendesk.{stream}: {resource} has_more is true but meta.after_cursor gives no "
                                 "new position; cannot page further")
            params = {**params, "page[after]": cursor}

    def _get(self, path: str, params: dict[str, Any], stream: str) -> Any:
        try:
            return self.client.get_json(path, params=params, stream=stream)
        except SourceHTTPError as exc:
            # These two need a hint, not the body.
            if exc.status == 401:
                raise SourceHTTPError(SOURCE, stream, exc.url, f"HTTP 401, credentials refused: check the login "
                                      f"(agent email) and password (API token) of connection {CONN_ID}",
                                      status=401) from None
            if exc.status == 403:
                raise SourceHTTPError(SOURCE, stream, exc.url, "HTTP 403, access denied: the incremental exports "
                                      f"need an admin's API token; check the login of connection {CONN_ID}",
                                      status=403) from None
            raise


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamped(record: Record, landed: Record | None, now: str) -> Record:
    """`record` with its change time: the landed version's when nothing else differs, else now."""
    if landed is not None and STAMP in landed and {k: v for k, v in landed.items() if k != STAMP} == record:
        return {**record, STAMP: landed[STAMP]}
    return {**record, STAMP: now}


def _is_deleted(ticket: Any) -> bool:
    return isinstance(ticket, dict) and ticket.get("status") == "deleted"


def _deleted(record: Any, tombstoned: set[Any], *, deleted_at: str = "updated_at") -> Any:
    """The tombstone of a deleted ticket (an export ticket, or an entry of the deleted tickets list)."""
    if not isinstance(record, dict):
        return record  # the loader rejects it, naming why
    # Without an id the tombstone has no key either, and the loader rejects it as missing one,
    # keeping none of the ticket's personal data.
    key = {"id": record["id"]} if "id" in record else {}
    if key:
        tombstoned.add(record["id"])
    return tombstone(key, record.get(deleted_at))


def _deleted_before(entry: Any, start: datetime | None) -> bool:
    if start is None or not isinstance(entry, dict):
        return False
    try:
        return parse_timestamp(entry.get("deleted_at")) < start
    except RecordError:
        return False  # not a reason to stop; the loader rejects its tombstone, naming why


def _second(event: Record) -> int | None:
    try:
        return math.floor(parse_timestamp(event.get("time")).timestamp())
    except RecordError:
        return None  # the loader rejects it, naming why


def _comments(event: Any, stream: str) -> list[Any]:
    """The comment child events of one ticket event, each with its event's ticket and id; a malformed
    event is passed on whole, for the loader to reject naming why."""
    if not isinstance(event, dict):
        return [event]
    children = event.get("child_events", [])
    if not isinstance(children, list):
        raise ValueError(f"zendesk.{stream}: ticket event {event.get('id')!r} has no child_events array")
    found = []
    for child in children:
        if not isinstance(child, dict):
            found.append(child)
        elif child.get("event_type") in COMMENT_EVENT_TYPES:
            found.append({"created_at": event.get("created_at"), **child, "ticket_id": event.get("ticket_id"),
                          "_event_id": event.get("id"), "_event_timestamp": event.get("timestamp")})
    return found


def _from_second(event: Any, second: int) -> bool:
    """Whether the ticket event happened at or after `second`: the next page serves it again."""
    if not isinstance(event, dict):
        return False
    timestamp = event.get("timestamp")
    return isinstance(timestamp, int) and not isinstance(timestamp, bool) and timestamp >= second


def _records(body: Any, array: str, stream: str) -> list[Record]:
    records = body.get(array) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise ValueError(f"zendesk.{stream}: the response has no `{array}` array; is the connection host "
                         "https://<subdomain>.zendesk.com?")
    return records


def from_connection(conn: Any) -> ZendeskSource:
    settings = source_connection(conn, CONN_ID, login="the agent's email", password="an API token")
    host = (settings.host or "").rstrip("/")
    if not host:
        raise ValueError(f"connection {CONN_ID}: host must be the account's URL, https://<subdomain>.zendesk.com")
    if "://" not in host:
        host = f"https://{host}"
    host = base_url(host, CONN_ID, example="https://<subdomain>.zendesk.com").removesuffix("/api/v2")
    if urlsplit(host).path.strip("/"):
        raise ValueError(f"connection {CONN_ID}: host must be the account's URL, https://<subdomain>.zendesk.com, "
                         f"with no path but /api/v2; got {host!r}")
    return ZendeskSource(
        client=HttpClient(SOURCE, f"{host}/api/v2", auth=(f"{settings.login}/token", settings.password),
                          policy=settings.retry, connection=CONN_ID),
        history_start=settings.history_start,
    )
