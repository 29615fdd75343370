"""Typeform Responses API simulator (docs/api-protocols.md §4).

`GET /forms/{form_id}/responses` with bearer auth; `page_size` (default 25, max 1000);
`since`/`until` inclusive, as Unix seconds or ISO 8601; `before`/`after` response tokens,
exclusive; newest first; `{"total_items", "page_count", "items"}` where the counts describe
what is left from this request on, so a client stops when `page_count <= 1`.

Responses only arrive, never change: the API answers as of `as_of` (default `company.end`; tests
move it), serving the responses submitted before it. Per form it keeps a compact index (the
company's `typeform_plan` rows in the API's order, and the tokens sorted for lookup), built on the
first request; a page regenerates only its own responses, so memory does not grow with the
company and a page costs what it holds.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from simulators.company import FORMS, Company, TypeformPlan
from simulators.server import Query, Reply, bearer_ok, first, spoil_first

_PATH = re.compile(r"^/forms/(?P<form_id>[^/]+)/responses$")
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def _epoch(value: str) -> int:
    if value.isdigit():
        return int(value)
    parsed = datetime.fromisoformat(value)
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _error(status: int, code: str, description: str) -> Reply:
    return Reply(status, {"code": code, "description": description})


@dataclass(frozen=True)
class _Index:
    """Per form, plan ordinals newest first (ties by token); tokens sorted to find a response's place."""

    plan: TypeformPlan
    ordinals: dict[str, np.ndarray]
    negated_times: dict[str, np.ndarray]  # ascending, aligned with `ordinals`
    place: np.ndarray  # plan ordinal -> position in its form's `ordinals`
    by_token: np.ndarray  # plan ordinals sorted by token
    sorted_hi: np.ndarray  # their tokens' high halves


def _build_index(company: Company) -> _Index:
    plan = company.typeform_plan
    place = np.empty(len(plan.person), dtype=np.int32)
    ordinals, negated = {}, {}
    for number, form in enumerate(FORMS):
        of_form = np.flatnonzero(plan.form == number)
        # lexsort's last key sorts first: newest submitted, then the token as a 128-bit number,
        # which orders as the 32-digit hex string does.
        newest = np.lexsort((plan.token_lo[of_form], plan.token_hi[of_form], -plan.submitted[of_form]))
        order = of_form[newest].astype(np.int32)
        ordinals[form], negated[form] = order, -plan.submitted[order]
        place[order] = np.arange(len(order))
    by_token = np.lexsort((plan.token_lo, plan.token_hi)).astype(np.int32)
    return _Index(plan, ordinals, negated, place, by_token, plan.token_hi[by_token])


class TypeformApi:
    name = "typeform"

    def __init__(self, company: Company, token: str = "tf-demo-token") -> None:
        self.company = company
        self.token = token
        self.as_of = company.end
        self._lock = threading.Lock()
        self._index: _Index | None = None

    def _built(self) -> _Index:
        with self._lock:
            if self._index is None:
                self._index = _build_index(self.company)
            return self._index

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
        except ValueError as exc:
            return _error(400, "VALIDATION_ERROR", str(exc))
        if not 1 <= page_size <= 1000:
            return _error(400, "VALIDATION_ERROR", "page_size must be between 1 and 1000")
        index = self._built()
        begin, end = self._bounds(index, form, since_at, until_at)
        before, after = first(query, "before"), first(query, "after")
        if before:
            position = self._position(index, form, before)
            begin = position + 1 if position is not None and begin <= position < end else end
        if after:
            position = self._position(index, form, after)
            end = position if position is not None and begin <= position < end else begin
        total = max(0, end - begin)
        chosen = index.ordinals[form][begin:min(end, begin + page_size)]
        items = [self._item(int(ordinal)) for ordinal in chosen]
        return Reply(200, {"total_items": total, "page_count": max(1, math.ceil(total / page_size)),
                           "items": items})

    def _bounds(self, index: _Index, form: str, since: int | None, until: int | None) -> tuple[int, int]:
        """Positions [begin, end) of the form's responses submitted in [since, until] and before `as_of`."""
        negated = index.negated_times[form]
        # Newest first is ascending in -submitted: the latest allowed moment bounds the start.
        latest = math.ceil(self.as_of.timestamp()) - 1
        if until is not None:
            latest = min(latest, until)
        begin = int(np.searchsorted(negated, -latest, side="left"))
        end = int(np.searchsorted(negated, -since, side="right")) if since is not None else len(negated)
        return begin, max(begin, end)

    @staticmethod
    def _position(index: _Index, form: str, token: str) -> int | None:
        if not _TOKEN.match(token):
            return None
        hi, lo = np.uint64(int(token[:16], 16)), np.uint64(int(token[16:], 16))
        at = int(np.searchsorted(index.sorted_hi, hi, side="left"))
        while at < len(index.by_token) and index.sorted_hi[at] == hi:
            ordinal = int(index.by_token[at])
            if index.plan.token_lo[ordinal] == lo and FORMS[index.plan.form[ordinal]] == form:
                return int(index.place[ordinal])
            at += 1
        return None

    def _item(self, ordinal: int) -> dict:
        response = self.company.typeform_response(ordinal)
        response.pop("_form_id")
        return response

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "items", "token")
