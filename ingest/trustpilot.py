"""Trustpilot Business Units API: every review written about one business unit.

Protocol (docs/api-protocols.md §3): `GET /v1/private/business-units/{businessUnitId}/reviews`
with the `apikey` header; `page` from 1 and `perPage` up to 100; `orderBy=createdat.asc`;
`startDateTime`/`endDateTime` filter on creation time ("if no time is specified then time is
implicit 00:00:00"). The response is `{"reviews": [...], "links": [...]}`; the stream ends when
there is no `rel == "next-page"` link or `reviews` is empty (a page past the end is an empty
array). A review's `updatedAt` is null until its author edits it.

Choices where the protocol is silent or unconfirmed:
- Window bounds go out as UTC to the second with no zone suffix, the documented example's form,
  the start floored and the end rounded up so no second of the window is skipped. We take
  `startDateTime` as inclusive and `endDateTime` as exclusive, which is undocumented: were the
  end inclusive, a review created on that very second is read by two runs and lands once; were
  the start exclusive, the lookback has already read any review on that second.
- From a next-page link only its `page` is taken: the documented href shows only `page` and
  `perPage`, so requesting it as-is could drop the date filters.
- Reading a closed `[start, end)` window oldest first keeps page boundaries still while reviews
  keep arriving, as new ones fall after `endDateTime`. A review removed mid-read shifts later
  ones back a page, so one can be skipped; the next run's lookback re-reads it if it is young.
- The 429 and its `Retry-After` are unconfirmed; HttpClient honours whichever wait header comes.

Edits, and the lookback trade-off: there is no "updated since" filter, so an edited review is
seen again only when a run re-reads the window its *creation* falls in. Every run therefore
re-reads `lookback` (default 30 days, `extra.edit_lookback_days`) before the saved cursor:
edits to reviews younger than that land on the next run (latest `updatedAt` wins in the
loader); edits to older reviews wait for a backfill over their creation dates. A longer lookback
catches more edits at the cost of re-reading that many days of reviews on every run, at 100 per
call against a recommended 833 calls per 5 minutes.

Auth: cxloop sends the API key in the `apikey` header. §3.1 documents a business-user OAuth
bearer token for private endpoints, so the live API may refuse the key alone (401) until a token
flow is added here; the simulator accepts the key.

Connection `cxloop_trustpilot`: host = base URL (default `https://api.trustpilot.com`), password =
API key, extra = `{"business_unit_id": "...", "start_date": ..., "edit_lookback_days": 30,
"retry": {...}}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingest.connections import path_id, source_connection
from ingest.http import HttpClient, path_segment, redact_url
from ingest.streams import Record, Source, Stream, Window

CONN_ID = "cxloop_trustpilot"
DEFAULT_BASE_URL = "https://api.trustpilot.com"
PAGE_SIZE = 100
DEFAULT_EDIT_LOOKBACK = timedelta(days=30)


def _updated_at(review: Record) -> Any:
    # A null updatedAt means never edited: the review last changed when it was created.
    return review.get("updatedAt") or review["createdAt"]


def reviews_stream(lookback: timedelta = DEFAULT_EDIT_LOOKBACK) -> Stream:
    """The `reviews` stream, re-reading `lookback` of creation time to pick up edits."""
    return Stream(source="trustpilot", name="reviews", key=lambda r: r["id"], updated_at=_updated_at,
                  lookback=lookback)


# With the default lookback; a connection's `edit_lookback_days` gives its source its own stream.
STREAMS = (reviews_stream(),)


@dataclass
class TrustpilotSource(Source):
    client: HttpClient
    business_unit_id: str
    history_start: datetime | None = None
    name: str = "trustpilot"
    streams: tuple[Stream, ...] = STREAMS

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        if stream.name != "reviews":
            raise ValueError(f"trustpilot has no stream {stream.name!r}; streams: reviews")
        path = f"v1/private/business-units/{path_segment(self.business_unit_id)}/reviews"
        params: dict[str, Any] = {
            "orderBy": "createdat.asc",
            "perPage": PAGE_SIZE,
            "page": 1,
            "endDateTime": _trustpilot_time(_ceil_second(window.end)),
        }
        if window.start is not None:
            params["startDateTime"] = _trustpilot_time(window.start)
        while True:
            body = self.client.get_json(path, params=params, stream=stream.name)
            reviews = body.get("reviews") if isinstance(body, dict) else None
            if not isinstance(reviews, list):
                raise ValueError(f"trustpilot.reviews: page {params['page']} has no `reviews` array; "
                                 "is the base URL the Trustpilot API?")
            if not reviews:
                return
            yield reviews
            next_page = _next_page(body.get("links"), params["page"])
            if next_page is None:
                return
            params["page"] = next_page


def _next_page(links: Any, current: int) -> int | None:
    """The page number of the `next-page` link, or None at the end."""
    href = next((link.get("href") for link in links or [] if isinstance(link, dict)
                 and link.get("rel") == "next-page"), None)
    if not href:
        return None
    try:
        page = int(parse_qs(urlsplit(href).query)["page"][0])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"trustpilot.reviews: next-page link without a page number: {redact_url(href)}") from exc
    if page <= current:
        # Following it would loop forever or re-read from the start.
        raise ValueError(f"trustpilot.reviews: next-page link goes back to page {page} from page {current}")
    return page


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def _trustpilot_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def from_connection(conn: Any) -> TrustpilotSource:
    settings = source_connection(conn, CONN_ID, password="the API key")
    extra = settings.extra
    unit = extra.get("business_unit_id")
    if not unit or not isinstance(unit, str):
        raise ValueError(f"connection {CONN_ID}: extra.business_unit_id is required; find it with "
                         "GET /v1/business-units/find?name=<your domain>")
    unit = path_id(unit, CONN_ID, "extra.business_unit_id")
    days = extra.get("edit_lookback_days")
    if days is None:
        lookback = DEFAULT_EDIT_LOOKBACK
    elif isinstance(days, int) and not isinstance(days, bool) and days >= 0:
        lookback = timedelta(days=days)
    else:
        raise ValueError(f"connection {CONN_ID}: extra.edit_lookback_days must be a whole number of days "
                         f"(0 or more), got {days!r}")
    return TrustpilotSource(
        client=HttpClient("trustpilot", settings.base_url(DEFAULT_BASE_URL), headers={"apikey": settings.password},
                          policy=settings.retry, connection=CONN_ID),
        business_unit_id=unit,
        history_start=settings.history_start,
        streams=(reviews_stream(lookback),),
    )
