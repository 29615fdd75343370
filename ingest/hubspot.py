"""HubSpot CRM v3: contacts, companies, deals, line items and products with their associations;
deal pipelines and owners.

Protocol (docs/api-protocols.md §1):
- Full history: `GET /crm/v3/objects/{type}` paged by the opaque `paging.next.after`, with
  inline `associations`; the list endpoint has no updated-since filter.
- Incremental: `POST /crm/v3/objects/{type}/search` filtered GTE/LTE on the modified-date
  property (`lastmodifieddate` on contacts, `hs_lastmodifieddate` elsewhere) in epoch
  milliseconds, sorted by `hs_object_id`, up to 200 a page; a short page may still carry
  `paging.next.after`, so paging goes on while it is there.
- Search stops at 10,000 results per query (paging past it is a 400). A window whose `total`
  exceeds the cap is split in halves until each half fits; a window too narrow to split
  (a bulk import stamping thousands of records in one second) continues with `hs_object_id GT
  <last id>`, the workaround Airbyte uses; ids are compared as numbers by HubSpot's search.
- Search results carry no associations: they come from `POST /crm/v4/associations/{from}/{to}/
  batch/read` (following its per-record `paging.next.after` when a record has more than a page)
  and are attached in the list endpoint's shape, so raw rows look the same however they were
  loaded.
- Reads name every property the pipeline uses: HubSpot returns only those asked for.
- 429s do not always carry Retry-After; the shared client backs off exponentially then.
- Paging must move: a page whose `paging.next.after` is the one just asked for (the same page
  served again) fails the run instead of looping forever.
- Deal pipelines (`GET /crm/v3/pipelines/deals`, §1.9) and owners (`GET /crm/v3/owners`, paged by
  `after`, at most 500 a page) have no modified-date filter and are small: every run reads them
  whole, and the loader keeps only what changed. A pipeline's change time is the latest of its
  own and its stages' `updatedAt`, since editing a stage's probability need not touch the
  pipeline's.
- Line items are searched and listed like the other objects, with their deal association;
  products carry none (a line item names its product in `hs_product_id`).
- Deletions (§1b of part 2): search never returns archived records, so after its window the
  contacts, companies and deals streams page through `GET /crm/v3/objects/{type}?archived=true`
  (only archived records, each with `archivedAt`; no archivedAt filter exists, so the whole list
  is read and filtered here) and land a tombstone for each one archived within the window (all
  of them on a first run). Those reads ask for the default properties and no associations: a
  tombstone keeps only the id. A record restored later comes back through search as a newer
  version and replaces its tombstone.
- Merges (§1c): the surviving contact lists the merged-away ids in `hs_merged_object_ids`
  (semicolon-separated, chained merges included), which the contacts stream asks for; merged-away
  ids are not tombstoned, the warehouse maps them to their survivor.

Connection `cxloop_hubspot`: host = base URL (default `https://api.hubapi.com`), password =
private-app token; extra may carry `start_date` and `retry`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ingest.connections import source_connection
from ingest.http import HttpClient, redact_url
from ingest.streams import Record, RecordError, Source, Stream, Window, parse_timestamp, tombstone

CONN_ID = "cxloop_hubspot"
DEFAULT_BASE_URL = "https://api.hubapi.com"
LIST_LIMIT = 100
SEARCH_LIMIT = 200
SEARCH_CAP = 10_000
SMALLEST_SPLIT = timedelta(seconds=1)

OWNERS_LIMIT = 500
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate",
            "line_items": "hs_lastmodifieddate", "products": "hs_lastmodifieddate"}
# HubSpot has no product category: a portal keeps it in a custom product property, this one.
PRODUCT_CATEGORY_PROPERTY = "product_category"
PROPERTIES = {
    "contacts": ["email", "firstname", "lastname", "phone", "country", "hubspot_owner_id", "lifecyclestage",
                 "hs_merged_object_ids", "createdate", "lastmodifieddate", "hs_object_id"],
    "companies": ["name", "domain", "country", "annualrevenue", "hubspot_owner_id", "createdate",
                  "hs_lastmodifieddate", "hs_object_id"],
    "deals": ["dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id", "createdate",
              "hs_lastmodifieddate", "hs_object_id"],
    "line_items": ["name", "hs_product_id", "hs_sku", "quantity", "price", "amount", "hs_recurring_billing_period",
                   "createdate", "hs_lastmodifieddate", "hs_object_id"],
    "products": ["name", "hs_sku", "price", "hs_recurring_billing_period", PRODUCT_CATEGORY_PROPERTY, "createdate",
                 "hs_lastmodifieddate", "hs_object_id"],
}
ASSOCIATIONS = {"contacts": ["companies"], "companies": [], "deals": ["companies", "contacts"],
                "line_items": ["deals"], "products": []}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "line_items": "line_item",
            "products": "product"}
# Streams whose deletions are read from the archived list and landed as tombstones.
ARCHIVABLE = ("contacts", "companies", "deals")
# Streams read whole from a settings endpoint rather than searched by modified date.
SETTINGS = {"deal_pipelines": "crm/v3/pipelines/deals", "owners": "crm/v3/owners"}


def _updated_at(record: Record) -> Any:
    # The top-level updatedAt; a record without it falls back to the modified-date property.
    properties = record.get("properties") or {}
    return record.get("updatedAt") or properties.get("lastmodifieddate") or properties["hs_lastmodifieddate"]


def _pipeline_updated_at(record: Record) -> Any:
    # Compared as moments, not as text: HubSpot writes some stamps with milliseconds and some without.
    stamps = [record["updatedAt"], *(stage.get("updatedAt") for stage in record.get("stages") or [])]
    return max((stamp for stamp in stamps if stamp), key=parse_timestamp)


def _owner_updated_at(record: Record) -> Any:
    return record["updatedAt"]


UPDATED_AT = {"deal_pipelines": _pipeline_updated_at, "owners": _owner_updated_at}
STREAMS = tuple(
    Stream(source="hubspot", name=kind, key=lambda r: r["id"], updated_at=UPDATED_AT.get(kind, _updated_at))
    for kind in ("contacts", "companies", "deals", "deal_pipelines", "owners", "line_items", "products")
)


def _archived_within(record: Record, window: Window) -> bool:
    try:
        archived_at = parse_timestamp(record.get("archivedAt"))
    except RecordError:
        return True  # landed as a reject with its reason, rather than dropped unseen
    return (window.start is None or archived_at >= window.start) and archived_at < window.end


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


@dataclass
class HubSpotSource(Source):
    client: HttpClient
    history_start: datetime | None = None
    name: str = "hubspot"
    streams: tuple[Stream, ...] = STREAMS
    search_cap: int = SEARCH_CAP

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        if stream.name == "deal_pipelines":
            yield self._pipelines()
        elif stream.name == "owners":
            yield from self._owners()
        elif window.start is None:
            yield from self._list(stream.name)
        else:
            yield from self._search(stream.name, window.start, window.end)
        if stream.name in ARCHIVABLE:
            yield from self._archived(stream.name, window)

    def _archived(self, kind: str, window: Window) -> Iterator[list[Record]]:
        """Tombstones of the records archived within `window`, from the whole archived list."""
        params: dict[str, Any] = {"limit": LIST_LIMIT, "archived": "true"}
        for page in self._paged(f"crm/v3/objects/{kind}", params, kind):
            # Anything that is not a record goes to the loader as it is, to be rejected with its reason.
            deleted = [tombstone({"id": r.get("id")}, r.get("archivedAt")) if isinstance(r, dict) else r
                       for r in page if not isinstance(r, dict) or _archived_within(r, window)]
            if deleted:
                yield deleted

    def _pipelines(self) -> list[Record]:
        # One answer holds every pipeline: the collection has no paging.
        body = self.client.get_json(SETTINGS["deal_pipelines"], stream="deal_pipelines")
        return body.get("results") or []

    def _owners(self) -> Iterator[list[Record]]:
        yield from self._paged(SETTINGS["owners"], {"limit": OWNERS_LIMIT}, "owners")

    def _list(self, kind: str) -> Iterator[list[Record]]:
        params: dict[str, Any] = {"limit": LIST_LIMIT, "properties": ",".join(PROPERTIES[kind])}
        if ASSOCIATIONS[kind]:
            params["associations"] = ",".join(ASSOCIATIONS[kind])
        yield from self._paged(f"crm/v3/objects/{kind}", params, kind)

    def _paged(self, path: str, params: dict[str, Any], stream: str) -> Iterator[list[Record]]:
        """A GET collection page by page, following the opaque `paging.next.after`."""
        while True:
            body = self.client.get_json(path, params=params, stream=stream)
            yield body.get("results") or []
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return
            if after == params.get("after"):
                raise ValueError(f"hubspot.{stream}: the page after {after!r} says the next one is after {after!r} "
                                 "again (a page served twice?); cannot page further "
                                 f"({redact_url(self.client.url(path))})")
            params["after"] = after

    def _search_page(self, kind: str, start: datetime, end: datetime, after: int, above_id: str | None) -> dict:
        prop = MODIFIED[kind]
        filters = [{"propertyName": prop, "operator": "GTE", "value": _ms(start)},
                   {"propertyName": prop, "operator": "LTE", "value": _ms(end - timedelta(milliseconds=1))}]
        if above_id is not None:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": above_id})
        return self.client.post_json(f"crm/v3/objects/{kind}/search", {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": PROPERTIES[kind],
            "limit": SEARCH_LIMIT,
            "after": after,
        }, stream=kind)

    def _search(self, kind: str, start: datetime, end: datetime) -> Iterator[list[Record]]:
        body = self._search_page(kind, start, end, 0, None)
        if int(body.get("total") or 0) > self.search_cap and end - start > SMALLEST_SPLIT:
            middle = start + (end - start) / 2
            yield from self._search(kind, start, middle)
            yield from self._search(kind, middle, end)
            return
        after, above_id = 0, None
        while True:
            results = body.get("results") or []
            if results:
                yield self._with_associations(kind, results)
            next_after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not next_after:
                return
            if int(next_after) <= after:
                raise ValueError(f"hubspot.{kind}: search paging goes from after={after} to after={next_after}, "
                                 "not forward (a page served twice?); cannot page further "
                                 f"({redact_url(self.client.url(f'crm/v3/objects/{kind}/search'))})")
            after = int(next_after)
            if after + SEARCH_LIMIT > self.search_cap:
                # Past the cap the API answers 400: restart after the last id seen instead.
                last = next((r.get("id") for r in reversed(results) if isinstance(r, dict) and r.get("id")), None)
                if last is None:
                    raise ValueError(f"hubspot.{kind}: cannot continue past the search cap without an id")
                after, above_id = 0, str(last)
            body = self._search_page(kind, start, end, after, above_id)

    def _with_associations(self, kind: str, results: list[Any]) -> list[Any]:
        ids = [r["id"] for r in results if isinstance(r, dict) and r.get("id")]
        for other in ASSOCIATIONS[kind]:
            if not ids:
                break
            linked = self._linked(kind, other, ids)
            for record in results:
                if isinstance(record, dict) and linked.get(record.get("id")):
                    record.setdefault("associations", {})[other] = {"results": [
                        {"id": i, "type": f"{SINGULAR[kind]}_to_{SINGULAR[other]}"} for i in linked[record["id"]]]}
        return results

    def _linked(self, kind: str, other: str, ids: list[str]) -> dict[str, list[str]]:
        """Each id's associated `other` ids, following the per-record paging of the v4 batch read."""
        linked: dict[str, list[str]] = {}
        inputs: list[dict[str, str]] = [{"id": i} for i in ids]
        asked: set[tuple[str, str]] = set()
        while inputs:
            body = self.client.post_json(f"crm/v4/associations/{kind}/{other}/batch/read", {"inputs": inputs},
                                         stream=kind)
            inputs = []
            for item in body.get("results") or []:
                from_id = str(item["from"]["id"])
                linked.setdefault(from_id, []).extend(str(to["toObjectId"]) for to in item.get("to", []))
                after = ((item.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    if (from_id, after) in asked:
                        raise ValueError(f"hubspot.{kind}: the {other} associations of {from_id} page after "
                                         f"{after!r} twice; cannot page further")
                    asked.add((from_id, after))
                    inputs.append({"id": from_id, "after": after})
        return linked


def from_connection(conn: Any) -> HubSpotSource:
    settings = source_connection(conn, CONN_ID, password="the private-app token")
    return HubSpotSource(
        client=HttpClient("hubspot", settings.base_url(DEFAULT_BASE_URL),
                          headers={"Authorization": f"Bearer {settings.password}"}, policy=settings.retry,
                          connection=CONN_ID),
        history_start=settings.history_start,
    )
