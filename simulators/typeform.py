"""Typeform Responses API simulator (docs/api-protocols.md §4).

`GET /forms/{form_id}/responses` with bearer auth; `page_size` (default 25, max 1000);
`since`/`until` inclusive, as Unix seconds or ISO 8601; `before`/`after` response tokens,
exclusive; newest first; `{"total_items", "page_count", "items"}` where the counts describe
what is left from this request on, so a client stops when `page_count <= 1`.

Response types, as Typeform documents them: `response_type` is a comma list of `started`,
`partial` and `completed`, default `completed`. It changes which time since/until filter and the
order follow: `submitted_at` when completed responses are asked for, else `staged_at` when partial
ones are, else `landed_at`. The deprecated `completed=true` asks for completed responses (by
`submitted_at`); `completed=false` for the ones not submitted, by `landed_at` and without their
`answers`, `hidden` and `calculated` members. A response has no time it never reached: Typeform
writes `0001-01-01T00:00:00Z` for the submission of one never submitted, so such a response
never falls inside a since/until range on that time and comes last in its order.

Where the documentation is silent, this simulator decides:
- With both `response_type` and `completed`, `response_type` wins (it replaced `completed`).
- An unfinished response is served in its final state (a partial one with all the answers it
  will ever hold) from the moment it reaches it (`staged_at`, or `landed_at` when started); it
  is never submitted later.
- A response type other than the three is answered 400.

Responses arrive and never change, but may be deleted: the API answers as of `as_of` (default
`company.end`; tests move it), serving the responses that reached their final state before it
and were not deleted by then. About one completed response in a hundred is deleted, at a moment
drawn from the seed (`Company.typeform_deleted`); a deleted response is absent from every
listing from that moment on, as after `DELETE /forms/{form_id}/responses`, which Typeform
documents without any feed or tombstone of what it deleted. Tests delete more with `delete()`. Every response of the
company, completed (`typeform_plan`) then unfinished (`typeform_unfinished_plan`), has one
ordinal; per form and request kind a compact order of ordinals is built on first use, and tokens
are sorted once for lookup. A page regenerates only its own responses, so memory does not grow
with the company and a page costs what it holds.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from simulators.company import FORMS, NEVER_DELETED, Company
from simulators.server import Query, Reply, bearer_ok, first, spoil_first

_PATH = re.compile(r"^/forms/(?P<form_id>[^/]+)/responses$")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
RESPONSE_TYPES = ("started", "partial", "completed")
_COMPLETED, _PARTIAL, _STARTED = (RESPONSE_TYPES.index(t) for t in ("completed", "partial", "started"))
# 0001-01-01T00:00:00Z in Unix seconds: the time of a moment a response never reached.
NEVER_EPOCH = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())
# Orders kept built: a client asks for one or two kinds per form.
CACHED_ORDERS = 8


def _epoch(value: str) -> int:
    if value.isdigit():
        return int(value)
    parsed = datetime.fromisoformat(value)
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _error(status: int, code: str, description: str) -> Reply:
    return Reply(status, {"code": code, "description": description})


@dataclass(frozen=True)
class _Kind:
    """What a request asks for: which response types, ordered and filtered by which time."""

    types: frozenset[str]
    clock: str  # "submitted", "staged" or "landed"
    bare: bool = False  # completed=false: without answers, hidden and calculated


def _kind(query: Query) -> _Kind:
    """The request's response types and time, as `response_type` (or the older `completed`) asks."""
    if "response_type" in query:
        types = frozenset(t.strip() for value in query["response_type"] for t in value.split(",") if t.strip())
        unknown = sorted(types - set(RESPONSE_TYPES))
        if unknown or not types:
            raise ValueError(f"response_type must list some of {', '.join(RESPONSE_TYPES)}; got "
                             f"{','.join(query['response_type'])!r}")
        clock = "submitted" if "completed" in types else "staged" if "partial" in types else "landed"
        return _Kind(types, clock)
    completed = first(query, "completed")
    if completed is None or completed == "true":
        return _Kind(frozenset({"completed"}), "submitted")
    if completed == "false":
        return _Kind(frozenset({"started", "partial"}), "landed", bare=True)
    raise ValueError(f"completed must be true or false; got {completed!r}")


@dataclass(frozen=True)
class _Responses:
    """Every response in one ordinal space: the completed plan's, then the unfinished plan's.

    Each time is NEVER_EPOCH where the response has none; `final` is when it reached the state
    served (submitted, last answer staged, or landed), from which it is visible.
    """

    completed: int  # ordinals below this are typeform_plan's
    kind: np.ndarray
    form: np.ndarray
    submitted: np.ndarray
    staged: np.ndarray
    landed: np.ndarray
    final: np.ndarray
    deleted: np.ndarray  # when each is deleted, NEVER_DELETED for most; `delete()` writes into it
    token_hi: np.ndarray
    token_lo: np.ndarray
    by_token: np.ndarray  # ordinals sorted by token
    sorted_hi: np.ndarray  # their tokens' high halves

    def clock(self, name: str) -> np.ndarray:
        return {"submitted": self.submitted, "staged": self.staged, "landed": self.landed}[name]


def _gather(company: Company) -> _Responses:
    done, left = company.typeform_plan, company.typeform_unfinished_plan
    n, m = len(done.person), len(left.person)
    never = np.full(n, NEVER_EPOCH, dtype=np.int64)
    partial = left.staged > 0
    staged = np.where(partial, left.staged, NEVER_EPOCH).astype(np.int64)
    landed = left.landed.astype(np.int64)
    # The landing time of a completed response is drawn with its content; no request orders
    # completed responses by it (asking for completed ones orders by submission).
    token_hi = np.concatenate([done.token_hi, left.token_hi])
    token_lo = np.concatenate([done.token_lo, left.token_lo])
    by_token = np.lexsort((token_lo, token_hi)).astype(np.int32)
    return _Responses(
        completed=n,
        kind=np.concatenate([np.full(n, _COMPLETED, np.int8), np.where(partial, _PARTIAL, _STARTED).astype(np.int8)]),
        form=np.concatenate([done.form, left.form]),
        submitted=np.concatenate([done.submitted.astype(np.int64), np.full(m, NEVER_EPOCH, dtype=np.int64)]),
        staged=np.concatenate([never, staged]),
        landed=np.concatenate([never, landed]),
        final=np.concatenate([done.submitted.astype(np.int64), np.where(partial, staged, landed)]),
        deleted=np.concatenate([company.typeform_deleted, np.full(m, NEVER_DELETED, dtype=np.int64)]),
        token_hi=token_hi, token_lo=token_lo, by_token=by_token, sorted_hi=token_hi[by_token],
    )


@dataclass(frozen=True)
class _Order:
    """One form's responses of one kind, newest first by the kind's time, ties by token."""

    ordinals: np.ndarray
    negated: np.ndarray  # -time, ascending, aligned with `ordinals`
    final: np.ndarray | None  # when each became visible; None where that is its time in the order


def _build_order(responses: _Responses, form: int, kind: _Kind) -> _Order:
    codes = [RESPONSE_TYPES.index(t) for t in kind.types]
    members = np.flatnonzero((responses.form == form) & np.isin(responses.kind, codes))
    clock = responses.clock(kind.clock)
    # lexsort's last key sorts first: newest, then the token as a 128-bit number, which orders as
    # the 32-digit hex string does.
    newest = np.lexsort((responses.token_lo[members], responses.token_hi[members], -clock[members]))
    ordinals = members[newest].astype(np.int32)
    times, final = clock[ordinals], responses.final[ordinals]
    return _Order(ordinals, -times, None if np.array_equal(times, final) else final)


class TypeformApi:
    name = "typeform"

    def __init__(self, company: Company, token: str = "tf-demo-token") -> None:
        self.company = company
        self.token = token
        self.as_of = company.end
        self._lock = threading.Lock()
        self._responses: _Responses | None = None
        self._orders: dict[tuple[int, _Kind], _Order] = {}

    def _order(self, form: int, kind: _Kind) -> tuple[_Responses, _Order]:
        with self._lock:
            if self._responses is None:
                self._responses = _gather(self.company)
            order = self._orders.get((form, kind))
            if order is None:
                order = self._orders[(form, kind)] = _build_order(self._responses, form, kind)
                while len(self._orders) > CACHED_ORDERS:
                    self._orders.pop(next(iter(self._orders)))
            return self._responses, order

    def delete(self, token: str, at: datetime) -> None:
        """Delete the response with `token` at `at` (for tests), as its form's owner would."""
        with self._lock:
            if self._responses is None:
                self._responses = _gather(self.company)
            responses = self._responses
        found = [int(o) for o in np.flatnonzero(responses.token_hi == np.uint64(int(token[:16], 16)))
                 if responses.token_lo[o] == np.uint64(int(token[16:], 16))]
        if not found:
            raise KeyError(f"no response {token}")
        responses.deleted[found[0]] = int(at.timestamp())

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        if not bearer_ok(headers, self.token):
            return _error(401, "AUTHENTICATION_FAILED", "Authentication credentials not found on the Request Headers")
        match = _PATH.match(path)
        if method != "GET" or not match:
            return _error(404, "NOT_FOUND", f"{method} {path} is not a Responses API endpoint")
        form = match["form_id"]
        if form not in FORMS:
            return _error(404, "FORM_NOT_FOUND", f"Form {form} not found")
        try:
            page_size = int(first(query, "page_size", "25"))
            since, until = first(query, "since"), first(query, "until")
            since_at = _epoch(since) if since else None
            until_at = _epoch(until) if until else None
            kind = _kind(query)
        except ValueError as exc:
            return _error(400, "VALIDATION_ERROR", str(exc))
        if not 1 <= page_size <= 1000:
            return _error(400, "VALIDATION_ERROR", "page_size must be between 1 and 1000")
        responses, order = self._order(FORMS.index(form), kind)
        chosen = self._undeleted(responses, order, self._chosen(order, since_at, until_at))
        before, after = first(query, "before"), first(query, "after")
        if before:
            at = self._place(responses, order, chosen, kind, before)
            chosen = chosen[at + 1:] if at is not None else chosen[:0]
        if after:
            at = self._place(responses, order, chosen, kind, after)
            chosen = chosen[:at] if at is not None else chosen[:0]
        total = len(chosen)
        items = [self._item(responses, int(order.ordinals[p]), kind) for p in chosen[:page_size]]
        return Reply(200, {"total_items": total, "page_count": max(1, math.ceil(total / page_size)),
                           "items": items})

    def _chosen(self, order: _Order, since: int | None, until: int | None) -> range | np.ndarray:
        """Positions in `order` of the responses timed in [since, until] and visible before `as_of`."""
        negated = order.negated
        # Newest first is ascending in -time: the latest allowed moment bounds the start.
        visible_until = math.ceil(self.as_of.timestamp()) - 1
        latest = until if until is not None else None
        if order.final is None:
            latest = visible_until if latest is None else min(latest, visible_until)
        begin = int(np.searchsorted(negated, -latest, side="left")) if latest is not None else 0
        end = int(np.searchsorted(negated, -since, side="right")) if since is not None else len(negated)
        if order.final is None:
            return range(begin, max(begin, end))
        # A response's time in this order is not when it became visible: look at each.
        return begin + np.flatnonzero(order.final[begin:max(begin, end)] <= visible_until)

    def _undeleted(self, responses: _Responses, order: _Order, chosen: range | np.ndarray) -> range | np.ndarray:
        """`chosen` without the responses deleted before `as_of`."""
        positions = np.asarray(chosen, dtype=np.int64)
        deleted = responses.deleted[order.ordinals[positions]]
        visible_until = math.ceil(self.as_of.timestamp()) - 1
        kept = deleted > visible_until
        return chosen if kept.all() else positions[kept]

    @staticmethod
    def _place(responses: _Responses, order: _Order, chosen: range | np.ndarray, kind: _Kind,
               token: str) -> int | None:
        """Where the response with `token` stands in `chosen`, or None when it is not there."""
        if not _TOKEN.match(token):
            return None
        hi, lo = np.uint64(int(token[:16], 16)), np.uint64(int(token[16:], 16))
        at = int(np.searchsorted(responses.sorted_hi, hi, side="left"))
        while at < len(responses.by_token) and responses.sorted_hi[at] == hi:
            ordinal = int(responses.by_token[at])
            at += 1
            if responses.token_lo[ordinal] != lo:
                continue
            # Its time in this order finds the run of equal times; the token its place in the run.
            time = -int(responses.clock(kind.clock)[ordinal])
            low = int(np.searchsorted(order.negated, time, side="left"))
            high = int(np.searchsorted(order.negated, time, side="right"))
            found = np.flatnonzero(order.ordinals[low:high] == ordinal)
            if not len(found):
                return None
            position = low + int(found[0])
            if isinstance(chosen, range):
                return position - chosen.start if position in chosen else None
            spot = int(np.searchsorted(chosen, position))
            return spot if spot < len(chosen) and chosen[spot] == position else None
        return None

    def _item(self, responses: _Responses, ordinal: int, kind: _Kind) -> dict:
        if ordinal < responses.completed:
            response = self.company.typeform_response(ordinal)
        else:
            response = self.company.typeform_unfinished_response(ordinal - responses.completed)
        response.pop("_form_id")
        if kind.bare:
            for member in ("answers", "hidden", "calculated"):
                response.pop(member, None)
        return response

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "items", "token")
