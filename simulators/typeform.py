"""Typeform Responses API simulator (shared/api-protocols.md §4a).

`GET /forms/{form_id}/responses` with bearer auth; `page_size` (default 25, max 1000);
`since`/`until` inclusive, as Unix seconds or ISO 8601; `before`/`after` response tokens,
exclusive; newest first; `{"total_items", "page_count", "items"}` where the counts describe
what is left from this request on, so a client stops when `page_count <= 1`.
"""

from __future__ import annotations

import bisect
import math
import re
from datetime import UTC, datetime
from typing import Any

from simulators.company import Company
from simulators.server import Query, Reply, bearer_ok, first, spoil_first

_PATH = re.compile(r"^/forms/(?P<form_id>[^/]+)/responses$")


def _epoch(value: str) -> int:
    if value.isdigit():
        return int(value)
    parsed = datetime.fromisoformat(value)
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def _error(status: int, code: str, description: str) -> Reply:
    return Reply(status, {"code": code, "description": description})


class TypeformApi:
    name = "typeform"

    def __init__(self, company: Company, token: str = "tf-demo-token") -> None:
        self.token = token
        # Per form, responses in the API's order: newest submitted first, ties by token.
        self._forms: dict[str, list[tuple[int, str, dict]]] = {}
        for item in company.typeform_responses():
            form = item.pop("_form_id")
            moment = int(datetime.fromisoformat(item["submitted_at"]).timestamp())
            self._forms.setdefault(form, []).append((-moment, item["token"], item))
        for rows in self._forms.values():
            rows.sort(key=lambda row: (row[0], row[1]))

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        if not bearer_ok(headers, self.token):
            return _error(401, "AUTHENTICATION_FAILED", "Authentication credentials not found on the Request Headers")
        match = _PATH.match(path)
        if method != "GET" or not match:
            return _error(404, "NOT_FOUND", f"{method} {path} is not a Responses API endpoint")
        rows = self._forms.get(match["form_id"])
        if rows is None:
            return _error(404, "FORM_NOT_FOUND", f"Form {match['form_id']} not found")
        try:
            page_size = int(first(query, "page_size", "25"))
            since = first(query, "since")
            until = first(query, "until")
            lo = -_epoch(until) if until else -math.inf
            hi = -_epoch(since) if since else math.inf
        except ValueError as exc:
            return _error(400, "VALIDATION_ERROR", str(exc))
        if not 1 <= page_size <= 1000:
            return _error(400, "VALIDATION_ERROR", "page_size must be between 1 and 1000")
        before, after = first(query, "before"), first(query, "after")
        # The sort key is (-submitted, token): inclusive since/until bound the negated epoch.
        begin = bisect.bisect_left(rows, (lo, ""))
        end = bisect.bisect_right(rows, (hi, "\uffff"))
        selected = rows[begin:end]
        if before:
            position = self._position(selected, before)
            selected = selected[position + 1:] if position is not None else []
        if after:
            position = self._position(selected, after)
            selected = selected[:position] if position is not None else []
        items = [row[2] for row in selected[:page_size]]
        total = len(selected)
        return Reply(200, {"total_items": total, "page_count": max(1, math.ceil(total / page_size)),
                           "items": items})

    @staticmethod
    def _position(rows: list[tuple[int, str, dict]], token: str) -> int | None:
        return next((i for i, row in enumerate(rows) if row[1] == token), None)

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "items", "token")
