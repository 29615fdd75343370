"""Typeform Responses API: completed responses of the configured forms, and partial ones on request.

Protocol (docs/api-protocols.md §4): `GET /forms/{form_id}/responses`, newest first;
`since`/`until` are inclusive, `before=<token>` pages backwards and is exclusive; the last page
has `page_count <= 1` or no items. Typeform may publish a response up to ~30 minutes late,
hence the lookback.

Response types. `response_type=completed` (Typeform's default, sent anyway) serves submitted
responses, with since/until on `submitted_at`. A connection with `extra.include_partial: true`
also reads `response_type=partial`, started but never submitted with some answers staged, where
since/until apply to `staged_at`. Each type is its own request, so each is filtered by its own
time as documented (a mixed request filters everything by `submitted_at`, which a response never
submitted does not have). Every landed response carries its `response_type`, set from the
request when the API leaves it out, so staging tells a partial answer from a counted one; a
partial response's change time is `staged_at`. Responses merely started (no answers) are never
read: they hold nothing to measure.

Paging is checked as it goes: a page that ends on the token it was asked to page before (the
same page served again) or that comes back empty while the previous one said more pages follow
(the `before` response deleted meanwhile, which the API answers with nothing) fails the run
rather than loop forever or stop short of the window's start and advance the cursor over
responses never read. A rerun reads the window afresh.

Deleted responses. Typeform keeps no feed of deletions, so every `extra.reconcile_every_days`
(default 7; 0 turns it off) the responses stream, after reading its window, lists every response
of each form (ids and all, `page_size=1000`; the API has no documented way to leave the answers
out) and lands a tombstone, stamped with the listing's time, for each key landed for that form
and no longer listed. It never tombstones a response less than 30 minutes old at the listing
(the API may not serve it yet), nor one of a type the connection does not read (a partial
response while `include_partial` is off). The last reconciliation's time is kept in
`raw._state` as stream `responses_reconciliation` and moves with the batch that landed its
tombstones: a failed batch leaves it due.

Form ids go into the URL path quoted as one segment (`ingest.http.path_segment`): a form id
holding `/`, `?` or `%` cannot reach another endpoint.

Connection `cxloop_typeform`: host = base URL, password = personal token, extra =
`{"form_ids": [...], "metrics": {"nps": ref, "csat": ref, "ces": ref}, "start_date": ...,
"include_partial": false, "reconcile_every_days": 7}`.
Each landed response gains `_form_id` and `_metrics`, the answers mapped to CX metrics, so the
mapping lives in configuration and staging only renames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ingest import schema
from ingest.connections import path_id, source_connection
from ingest.http import HttpClient, path_segment, redact_url
from ingest.streams import BatchResult, Record, RecordError, Source, Stream, Window, tombstone

if TYPE_CHECKING:
    import psycopg

CONN_ID = "cxloop_typeform"
DEFAULT_BASE_URL = "https://api.typeform.com"
PAGE_SIZE = 1000
COMPLETED, PARTIAL = "completed", "partial"
RECONCILIATION = "responses_reconciliation"
DEFAULT_RECONCILE_EVERY_DAYS = 7
# Typeform: "Very recent responses (say within the last 30 minutes) may not be returned".
UNLISTED_WHILE_RECENT = timedelta(minutes=30)


def _now() -> datetime:
    return datetime.now(UTC)


def _changed_at(record: Record) -> Any:
    """When the response last changed: its submission, or for a partial one its last staged answer."""
    if record.get("response_type", COMPLETED) == COMPLETED:
        return record["submitted_at"]
    if record.get("response_type") == PARTIAL:
        return record["staged_at"]
    raise RecordError(f"unknown response_type {record.get('response_type')!r}")


STREAMS = (
    Stream(
        source="typeform",
        name="responses",
        key=lambda r: r["token"],
        updated_at=_changed_at,
        lookback=timedelta(hours=1),
    ),
)

# Answer value keys by answer type, per Typeform's JSON response explanation.
_VALUE_KEYS = ("number", "text", "email", "boolean", "choice", "choices", "date", "url", "phone_number")


def _answer_value(answer: dict[str, Any]) -> Any:
    kind = answer.get("type")
    if kind in _VALUE_KEYS:
        return answer.get(kind)
    return next((answer[k] for k in _VALUE_KEYS if k in answer), None)


@dataclass
class TypeformSource(Source):
    client: HttpClient
    form_ids: list[str]
    metric_refs: dict[str, str] = field(default_factory=dict)
    history_start: datetime | None = None
    include_partial: bool = False
    # None: deleted responses are never looked for.
    reconcile_every: timedelta | None = timedelta(days=DEFAULT_RECONCILE_EVERY_DAYS)
    name: str = "typeform"
    streams: tuple[Stream, ...] = STREAMS
    # Set by before_read when a reconciliation is due: each form's landed live keys and when they
    # last changed; set by read when it ran, for on_landed to record.
    _landed: dict[str, dict[str, datetime]] | None = field(default=None, init=False, repr=False)
    _reconciled_at: datetime | None = field(default=None, init=False, repr=False)

    @property
    def response_types(self) -> tuple[str, ...]:
        return (COMPLETED, PARTIAL) if self.include_partial else (COMPLETED,)

    def before_read(self, conn: psycopg.Connection, stream: Stream) -> None:
        self._landed, self._reconciled_at = None, None
        if self.reconcile_every is None:
            return
        row = conn.execute("select watermark from raw._state where source = %s and stream = %s",
                           (self.name, RECONCILIATION)).fetchone()
        if row is not None and row[0] + self.reconcile_every > _now():
            return
        schema.ensure_raw_table(conn, stream.table)
        # Keys of the types this connection reads: one of another type is not listed on purpose.
        rows = conn.execute(
            f"""select record->>'_form_id', record_key, record_updated_at from raw.{stream.table}
                where record->>'_form_id' = any(%s) and not record ? '_deleted_at'
                  and coalesce(record->>'response_type', '{COMPLETED}') = any(%s)""",
            (self.form_ids, list(self.response_types))).fetchall()
        self._landed = {form_id: {} for form_id in self.form_ids}
        for form_id, key, changed_at in rows:
            self._landed[form_id][key] = changed_at

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        for form_id in self.form_ids:
            for response_type in self.response_types:
                yield from self._responses(form_id, window, response_type)
        if self._landed is not None:
            yield from self._reconcile(self._landed)

    def on_landed(self, conn: psycopg.Connection, result: BatchResult) -> None:
        if self._reconciled_at is None:
            return
        conn.execute(
            """insert into raw._state as s (source, stream, watermark) values (%s, %s, %s)
               on conflict (source, stream) do update
                   set watermark = greatest(s.watermark, excluded.watermark), updated_at = now()""",
            (self.name, RECONCILIATION, self._reconciled_at))

    def _reconcile(self, landed: dict[str, dict[str, datetime]]) -> Iterator[list[Record]]:
        """Tombstones of the landed responses each form no longer lists."""
        started = _now()
        for form_id in self.form_ids:
            listed_at = _now()
            listed = {item.get("token") for response_type in self.response_types
                      for page in self._responses(form_id, None, response_type) for item in page
                      if isinstance(item, dict)}
            settled = listed_at - UNLISTED_WHILE_RECENT
            gone = sorted(key for key, changed_at in landed[form_id].items()
                          if key not in listed and changed_at < settled)
            if gone:
                yield [tombstone({"token": key, "form_id": form_id}, listed_at) for key in gone]
        self._reconciled_at = started

    def _responses(self, form_id: str, window: Window | None,
                   response_type: str = COMPLETED) -> Iterator[list[Record]]:
        """The form's responses of one type in `window`; every one it lists with no window."""
        params: dict[str, Any] = {"page_size": PAGE_SIZE, "response_type": response_type}
        if window is not None:
            # `until` is inclusive to the second: stop one second short of the half-open window end.
            params["until"] = _typeform_time(window.end - timedelta(seconds=1))
            if window.start is not None:
                params["since"] = _typeform_time(window.start)
        path = f"forms/{path_segment(form_id)}/responses"
        where = redact_url(self.client.url(path))
        more_promised = False
        while True:
            body = self.client.get_json(path, params=params, stream="responses")
            items = body.get("items") or []
            if not items and more_promised:
                raise ValueError(f"typeform.responses: form {form_id!r}: the page before response "
                                 f"{params['before']} is empty, but the page that ended with it said more "
                                 "followed (was that response deleted meanwhile?); the window is not read to its "
                                 "start, so nothing lands; run it again "
                                 f"({where})")
            yield [self._annotate(form_id, item, response_type) for item in items]
            if not items or int(body.get("page_count") or 0) <= 1:
                return
            last = items[-1]
            if not isinstance(last, dict) or not last.get("token"):
                raise ValueError(f"typeform.responses: form {form_id!r}: page ends with a response without a "
                                 f"token; cannot page further ({where})")
            if last["token"] == params.get("before"):
                raise ValueError(f"typeform.responses: form {form_id!r}: the page before response "
                                 f"{last['token']} ends with that same response (a page served again?); "
                                 f"cannot page further ({where})")
            params["before"] = last["token"]
            more_promised = True

    def _annotate(self, form_id: str, item: Any, response_type: str) -> Any:
        if not isinstance(item, dict):
            return item
        # The type asked for, where the API does not say: each request asks for one.
        return {**item, "response_type": item.get("response_type") or response_type, "_form_id": form_id,
                "_metrics": self.metrics(item)}

    def metrics(self, item: Record) -> dict[str, Any]:
        """The response's NPS/CSAT/CES scores, verbatim and email, by field ref or type."""
        by_ref = {ref: metric for metric, ref in self.metric_refs.items()}
        found: dict[str, Any] = {}
        for answer in item.get("answers") or []:
            if not isinstance(answer, dict):
                continue
            fld = answer.get("field") or {}
            value = _answer_value(answer)
            metric = by_ref.get(fld.get("ref")) or ("nps" if fld.get("type") == "nps" else None)
            if metric:
                found.setdefault(metric, value)
            elif fld.get("type") == "long_text":
                found.setdefault("verbatim", value)
            elif answer.get("type") == "email":
                found.setdefault("email", value)
        hidden_email = (item.get("hidden") or {}).get("email")
        if hidden_email and "email" not in found:
            found["email"] = hidden_email
        return found


def _typeform_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def from_connection(conn: Any) -> TypeformSource:
    settings = source_connection(conn, CONN_ID, password="the personal access token")
    form_ids = settings.extra.get("form_ids") or []
    if not isinstance(form_ids, list) or not form_ids:
        # A lone string is refused too: read as a list it would be one form id per character.
        raise ValueError(f"connection {CONN_ID}: extra.form_ids must list at least one form id, "
                         f"e.g. [\"aBc123\"]; got {form_ids!r}")
    form_ids = [path_id(form_id, CONN_ID, f"extra.form_ids[{i}]") for i, form_id in enumerate(form_ids)]
    include_partial = settings.extra.get("include_partial", False)
    if not isinstance(include_partial, bool):
        # A string "false" would read as true: only a JSON boolean is taken.
        raise ValueError(f"connection {CONN_ID}: extra.include_partial must be true or false; "
                         f"got {include_partial!r}")
    every = settings.extra.get("reconcile_every_days", DEFAULT_RECONCILE_EVERY_DAYS)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValueError(f"connection {CONN_ID}: extra.reconcile_every_days must be a whole number of days, "
                         f"0 to never look for deleted responses; got {every!r}")
    return TypeformSource(
        client=HttpClient("typeform", settings.base_url(DEFAULT_BASE_URL),
                          headers={"Authorization": f"Bearer {settings.password}"}, policy=settings.retry,
                          connection=CONN_ID),
        form_ids=form_ids,
        metric_refs=dict(settings.extra.get("metrics") or {}),
        history_start=settings.history_start,
        include_partial=include_partial,
        reconcile_every=timedelta(days=every) if every else None,
    )
