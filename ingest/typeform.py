"""Typeform Responses API: completed responses of the configured forms.

Protocol (docs/api-protocols.md §4): `GET /forms/{form_id}/responses`, newest first;
`since`/`until` are inclusive, `before=<token>` pages backwards and is exclusive; the last page
has `page_count <= 1` or no items. Typeform may publish a response up to ~30 minutes late,
hence the lookback.

Connection `cxloop_typeform`: host = base URL, password = personal token, extra =
`{"form_ids": [...], "metrics": {"nps": ref, "csat": ref, "ces": ref}, "start_date": ...}`.
Each landed response gains `_form_id` and `_metrics`, the answers mapped to CX metrics, so the
mapping lives in configuration and staging only renames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.connections import source_connection
from ingest.http import HttpClient
from ingest.streams import Record, Source, Stream, Window

CONN_ID = "cxloop_typeform"
DEFAULT_BASE_URL = "https://api.typeform.com"
PAGE_SIZE = 1000

STREAMS = (
    Stream(
        source="typeform",
        name="responses",
        key=lambda r: r["token"],
        updated_at=lambda r: r["submitted_at"],
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
    name: str = "typeform"
    streams: tuple[Stream, ...] = STREAMS

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        for form_id in self.form_ids:
            yield from self._responses(form_id, window)

    def _responses(self, form_id: str, window: Window) -> Iterator[list[Record]]:
        # `until` is inclusive to the second: stop one second short of the half-open window end.
        params: dict[str, Any] = {
            "page_size": PAGE_SIZE,
            "response_type": "completed",
            "until": _typeform_time(window.end - timedelta(seconds=1)),
        }
        if window.start is not None:
            params["since"] = _typeform_time(window.start)
        while True:
            body = self.client.get_json(f"forms/{form_id}/responses", params=params, stream="responses")
            items = body.get("items") or []
            yield [self._annotate(form_id, item) for item in items]
            if not items or int(body.get("page_count") or 0) <= 1:
                return
            last = items[-1]
            if not isinstance(last, dict) or not last.get("token"):
                raise ValueError(f"typeform form {form_id}: page ends with a response without a token; "
                                 "cannot page further")
            params["before"] = last["token"]

    def _annotate(self, form_id: str, item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        return {**item, "_form_id": form_id, "_metrics": self.metrics(item)}

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
    if not form_ids:
        raise ValueError(f"connection {CONN_ID}: extra.form_ids must list at least one form id")
    return TypeformSource(
        client=HttpClient("typeform", settings.base_url(DEFAULT_BASE_URL),
                          headers={"Authorization": f"Bearer {settings.password}"}, policy=settings.retry),
        form_ids=list(form_ids),
        metric_refs=dict(settings.extra.get("metrics") or {}),
        history_start=settings.history_start,
    )
