"""HubSpot CRM v3 simulator (docs/api-protocols.md §1).

- `GET /crm/v3/objects/{contacts|companies|deals|line_items|products}`: `limit` (default 10, max 100), opaque `after`,
  `archived` (`true` lists only archived records, with `archivedAt`), `properties` and
  `associations`, each repeated or comma-separated (the official clients repeat them);
  `paging.next.after` while more exist, absent at the end.
- `POST /crm/v3/objects/{type}/search`: OR-ed filterGroups of AND-ed filters (at most 5 groups, 6
  filters a group, 18 in all; a body of at most 3,000 characters), with every documented operator
  on any property; one sorting rule, else the documented default, oldest created first;
  `properties`; `limit` max 200; paging past the result cap (10,000 by default) is a 400;
  results carry no associations, as in the real API.
- `POST /crm/v4/associations/{from}/{to}/batch/read`, paged per input past
  `association_page_size` associations (the vendor documents the per-input `paging`, not the
  size).
- A read returns only the properties asked for, plus `hs_object_id`, `createdate` and the
  modified date, which HubSpot always adds; asked for nothing, the object's default set. A known
  property with no value comes back as null; an unknown one is left out.
- `GET /crm/v3/pipelines/deals[/{id}]`: every pipeline in one answer, no paging (404 for an
  unknown id); stage metadata as strings. `GET /crm/v3/owners`: `limit` (default 100, max 500),
  opaque `after`, `archived`. Both are small settings held in `pipelines` and `owners`, which
  tests edit in place.
- Line items: 1 to 3 per deal, whose amounts add up to the deal's, associated with it both
  ways (types 19 and 20); products: a fixed library whose category is the custom property
  `product_category`. Both are regenerated from the seed like the other objects.
- Errors carry HubSpot's body: `status`, `message`, `correlationId`, `category`.
- Bearer auth; an optional secondly limit answers 429 with HubSpot's error body, sending
  `Retry-After` on some answers and not on others, as HubSpot does.

Search semantics, from HubSpot's search guide: values compare case-insensitively except on
enumeration properties; `IN`/`NOT_IN` on a string property match only lowercase values; numbers
and dates compare as numbers (dates as epoch milliseconds, so `hs_object_id` is numeric).
Choices no vendor page states (unconfirmed): the negative operators (`NEQ`, `NOT_IN`,
`NOT_CONTAINS_TOKEN`) also match records without a value; a token is a run of letters and
digits, or a whole whitespace-separated word, and `*` is a wildcard; sorting puts records
without a value last and breaks ties by id; a filter on a property the object does not have
matches as if no record had a value; more than one sorting rule is a 400.

Time model: every record has a few versions: its creation, then up to two later edits a CRM
team makes over the following weeks (a contact moves along the lifecycle, or to another owner
once a customer; a company is re-estimated and reassigned; a deal moves to the next stage until
it closes). The API answers as of `as_of` (default `company.end`; tests move it to replay
updates): a record exists once created, in its latest version before `as_of`, and its modified
date is that version's. So a day's search window holds the records created that day plus the
older ones edited that day.

Deletions and merges, drawn per record from the seed (shares `archive_share`, default 1%, and
`merge_share`, default 0.5%, which tests raise): a contact, company or deal is archived at a
moment between an hour and two months after its creation, and from then on is absent from live
lists and search and served by `archived=true` lists (paged, projected and associated like live
records) with `archived: true` and `archivedAt`; edits it would have had later never happen, and
associations pointing at it are dropped. A contact is merged into a colleague's contact (the
company has no duplicate people; merging two people of one account is the plausible stand-in)
at a moment as long after both were created. This follows HubSpot's older merge behaviour, the
primary keeping its id; the newer one (a new id for the merged record) is documented without an
effective date, so it is not simulated. From the merge the survivor's `hs_merged_object_ids`
lists the merged-away ids, `;`-separated, chained merges accumulating on the last survivor, and
its modified date moves to the merge (a merge is a version, not an edit: its lifecycle stage
stays); the merged-away contact is in no live list, search or archived list, and its
associations move to the survivor. Whether HubSpot lists merged-away ids under `archived=true`
is unconfirmed; here it does not.

Scale: no record is held in memory. Per object type a compact index (numpy arrays: each
record's version times, and every version sorted by time with the time it was superseded) is
built on the first request that needs it, in seconds at a million contacts; a page regenerates
only its own records from the seed. A search over a window reads the index between two
binary searches and is cached while its pages are fetched, so a page costs what it holds.
Filters and sorts on `hs_object_id`, `createdate` and the modified date read the index; on any
other property they regenerate the records still in play, so they cost what they match. Only
records edited by hand through `touch()` are kept, as overrides.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from simulators.company import Company, iso
from simulators.server import Query, Reply, bearer_ok, first, spoil_first

MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate",
            "line_items": "hs_lastmodifieddate", "products": "hs_lastmodifieddate"}
KINDS = tuple(MODIFIED)
# The portal's users who own records: (id, first name, last name). Owner ids are what records'
# `hubspot_owner_id` holds; `userId` is another number, which HubSpot refuses as an owner.
OWNER_PEOPLE = [("71001", "Ana", "Ruiz"), ("71002", "Tomasz", "Nowak"), ("71003", "Grace", "Okafor"),
                ("71004", "Liam", "Byrne")]
OWNERS = [owner_id for owner_id, _, _ in OWNER_PEOPLE]
OWNER_DOMAIN = "crm-team.example"
OWNERS_MAX_LIMIT = 500
LIFECYCLE = ["lead", "opportunity", "customer"]
PURPOSES = ["renewal", "expansion", "new"]
# Two deal pipelines, as a portal that added one has: HubSpot's default, whose stage ids are
# words, and a renewals pipeline whose ids are numbers, as every pipeline a portal adds gets.
# Only the stage metadata says which closed stage is won: renewals go to that pipeline.
PIPELINES: list[dict[str, Any]] = [
    {"id": "default", "label": "Sales Pipeline", "stages": [
        ("appointmentscheduled", "Appointment scheduled", "false", "0.2"),
        ("qualifiedtobuy", "Qualified to buy", "false", "0.4"),
        ("closedwon", "Closed won", "true", "1.0"),
        ("closedlost", "Closed lost", "true", "0.0")]},
    {"id": "34567891", "label": "Renewals", "stages": [
        ("91583228", "Renewal due", "false", "0.3"),
        ("91583229", "Quote sent", "false", "0.7"),
        ("91583231", "Renewed", "true", "1.0"),
        ("91583232", "Churned", "true", "0.0")]},
]
OPEN_STAGES = 2  # each pipeline's first stages are open, then one won and one lost stage
RENEWALS_PIPELINE = 1
# The product library: (name, sku, category, price, billing period or None for one-off).
PRODUCTS = [("Core licence", "CORE-1", "software", 4000, "P12M"),
            ("Analytics add-on", "ANL-1", "software", 1500, "P12M"),
            ("Onboarding package", "ONB-1", "services", 2500, None),
            ("Training day", "TRN-1", "services", 900, None),
            ("Premium support", "SUP-1", "support", 1200, "P12M"),
            ("Hardware kit", "HW-1", "hardware", 3000, None)]
# How often a line item sells each product: the core licence is in most deals, hardware in few,
# so the cross-sell gaps a segment shows are not uniform noise.
PRODUCT_WEIGHTS = [0.34, 0.16, 0.14, 0.1, 0.18, 0.08]
LINE_ITEMS_PER_DEAL = [1, 1, 2, 2, 3]
# A line item is added a minute after its deal is created and never edited.
LINE_ITEM_DELAY_SECONDS = 60
# The custom product property this portal keeps its product category in (HubSpot has none).
CATEGORY_PROPERTY = "product_category"
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal", "line_items": "line_item",
            "products": "product"}
FIRST_ID = {"contacts": 1001, "companies": 900_001, "deals": 5_000_000, "line_items": 30_000_000,
            "products": 140_001}

NEVER = np.iinfo(np.int64).max
MAX_UPDATES = 2
UPDATES = {"contacts": [0, 0, 0, 1, 1, 2], "companies": [0, 0, 1, 1, 2]}
DEALS_PER_ORGANISATION = [0, 1, 1, 2, 3]
# Deletions (archiving) and merges, drawn per record from the seed so tests and the demo replay them.
ARCHIVE_SHARE = 0.01
MERGE_SHARE = 0.005
RETIRED_KINDS = ("contacts", "companies", "deals")
# A record is archived, or a contact merged, between an hour and two months after its creation.
RETIRE_GAP_SECONDS = (3600, 60 * 86400)
# Edits come between an hour and a month after the previous version, most within days.
EDIT_GAP_SECONDS = (3600, 30 * 86400)
SEARCH_CACHE = 8
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
             "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
# Operators that need `value`; BETWEEN needs `highValue` too, IN and NOT_IN need `values`.
VALUED = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
# The search guide's limits: more groups or filters is a VALIDATION_ERROR, a longer body a 400.
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS, MAX_SEARCH_BODY = 5, 6, 18, 3000
DIRECTIONS = ("ASCENDING", "DESCENDING")
ASSOCIATION_PAGE_SIZE = 500

# The simulated portal's properties and their HubSpot types: a type decides how search compares
# and sorts. `country` on companies exists in every portal but this company never fills it.
PROPERTY_TYPES: dict[str, dict[str, str]] = {
    "contacts": {"email": "string", "firstname": "string", "lastname": "string", "phone": "string",
                 "country": "string", "hubspot_owner_id": "enumeration", "lifecyclestage": "enumeration",
                 "hs_merged_object_ids": "string"},
    "companies": {"name": "string", "domain": "string", "country": "string", "annualrevenue": "number",
                  "hubspot_owner_id": "enumeration"},
    "deals": {"dealname": "string", "amount": "number", "dealstage": "enumeration", "pipeline": "enumeration",
              "closedate": "datetime", "hubspot_owner_id": "enumeration"},
    "line_items": {"name": "string", "hs_product_id": "number", "hs_sku": "string", "quantity": "number",
                   "price": "number", "amount": "number", "hs_recurring_billing_period": "string"},
    "products": {"name": "string", "hs_sku": "string", "price": "number", "hs_recurring_billing_period": "string",
                 CATEGORY_PROPERTY: "enumeration"},
}
for _kind in KINDS:
    PROPERTY_TYPES[_kind].update({"hs_object_id": "number", "createdate": "datetime", MODIFIED[_kind]: "datetime"})
# What a read returns when it names no properties (the search guide's table; the list endpoint's
# defaults are the same).
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    "line_items": ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "price", "quantity"),
    "products": ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
}
# HubSpot-defined association type ids, as the official clients' AssociationType lists them.
ASSOCIATION_TYPE_IDS = {("contacts", "companies"): 1, ("companies", "contacts"): 2, ("deals", "contacts"): 3,
                        ("contacts", "deals"): 4, ("deals", "companies"): 5, ("companies", "deals"): 6,
                        ("deals", "line_items"): 19, ("line_items", "deals"): 20}


def _error(status: int, category: str, message: str, **extra: Any) -> Reply:
    return Reply(status, {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                          "category": category, **extra})


class SearchError(ValueError):
    """A search request HubSpot would refuse: answered 400 with this message."""


def _encode(row: int) -> str:
    return base64.urlsafe_b64encode(str(row).encode()).decode()


def _decode(after: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(after.encode()).decode())
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid after {after!r}") from exc


def _at(epoch: int) -> str:
    return iso(datetime.fromtimestamp(epoch, tz=UTC))


@dataclass(frozen=True)
class _Index:
    """One object type: rows in id order, each with its version times; every version sorted by time."""

    versions: np.ndarray  # (rows, 1 + MAX_UPDATES) epoch seconds, NEVER where there is no such version
    event_times: np.ndarray  # every version's time, ascending
    event_rows: np.ndarray  # the row each version belongs to
    event_until: np.ndarray  # when the version was superseded, NEVER for a row's last one
    keys: np.ndarray  # row -> id minus FIRST_ID (ascending)
    extra: dict[str, np.ndarray]  # per-row attributes drawn in bulk (deals: org, first stage, ...)


def _version_times(company: Company, kind: str, rows: int, updates: np.ndarray) -> np.ndarray:
    draw = company.bulk("hubspot", kind, "versions")
    created = company.start_epoch + draw.integers(0, company.days * 86400, size=rows)
    low, high = (math.log(g) for g in EDIT_GAP_SECONDS)
    gaps = np.exp(draw.uniform(low, high, size=(rows, MAX_UPDATES))).astype(np.int64)
    times = np.column_stack([created, created[:, None] + np.cumsum(gaps, axis=1)])
    beyond = np.arange(1 + MAX_UPDATES)[None, :] > updates[:, None]
    # Edits after the company's end have not happened: the record stays in its earlier version.
    times[beyond | (times >= company.end_epoch)] = NEVER
    return times


def _index(versions: np.ndarray, keys: np.ndarray, extra: dict[str, np.ndarray]) -> _Index:
    rows, width = versions.shape
    until = np.column_stack([versions[:, 1:], np.full(rows, NEVER)])
    real = versions != NEVER
    event_rows = np.broadcast_to(np.arange(rows, dtype=np.int32)[:, None], (rows, width))[real]
    event_times, event_until = versions[real], until[real]
    order = np.argsort(event_times, kind="stable")
    return _Index(versions, event_times[order], event_rows[order], event_until[order], keys, extra)


def _gaps(draw: np.random.Generator, rows: int, bounds: tuple[int, int]) -> np.ndarray:
    low, high = (math.log(g) for g in bounds)
    return np.exp(draw.uniform(low, high, size=rows)).astype(np.int64)


def _archive(company: Company, kind: str, versions: np.ndarray, share: float) -> np.ndarray:
    """When each row is archived (NEVER for most); edits it would have had later never happen."""
    rows = len(versions)
    draw = company.bulk("hubspot", kind, "archived")
    chosen = draw.random(size=rows) < share
    at = versions[:, 0] + _gaps(draw, rows, RETIRE_GAP_SECONDS)
    archived = np.where(chosen & (at < company.end_epoch), at, NEVER)
    versions[versions >= archived[:, None]] = NEVER
    return archived


def _merge(company: Company, versions: np.ndarray, archived: np.ndarray, share: float) -> tuple[np.ndarray, ...]:
    """Contacts merged into a colleague's contact: when, into which row; and each survivor's absorptions.

    The company has no duplicate people, so a merge joins a contact to the colleague listed just
    before it in its organisation, as a sales team merges two records it takes for one buyer. A
    merge into a contact already merged away goes to the contact that one was merged into, so
    chained merges accumulate on the last survivor. Archived contacts take no part.
    """
    rows = len(versions)
    draw = company.bulk("hubspot", "contacts", "merged")
    chosen = draw.random(size=rows) < share
    gaps = _gaps(draw, rows, RETIRE_GAP_SECONDS)
    order, bounds = company.membership
    org = company.organisation_by_person
    place = np.empty(rows, dtype=np.int64)
    place[order] = np.arange(rows)
    first, size = bounds[org], bounds[org + 1] - bounds[org]
    partner = order[first + (place - first - 1) % size]
    at = np.maximum(versions[:, 0], versions[partner, 0]) + gaps
    candidates = chosen & (size > 1) & (archived == NEVER) & (archived[partner] == NEVER) & (at < company.end_epoch)
    merged_at = np.full(rows, NEVER, dtype=np.int64)
    merged_into = np.full(rows, -1, dtype=np.int32)
    absorbed: dict[int, list[tuple[int, int]]] = {}
    for row in sorted(np.flatnonzero(candidates).tolist(), key=lambda r: (int(at[r]), r)):
        target = int(partner[row])
        while merged_at[target] < at[row]:
            target = int(merged_into[target])
        if target == row:
            continue  # its colleague was merged into it first: nothing left to merge
        merged_at[row], merged_into[row] = at[row], target
        absorbed.setdefault(target, []).append((int(at[row]), row))
    versions[versions >= merged_at[:, None]] = NEVER
    width = max((len(found) for found in absorbed.values()), default=0)
    absorbed_at = np.full((rows, width), NEVER, dtype=np.int64)
    absorbed_row = np.full((rows, width), -1, dtype=np.int32)
    for target, found in absorbed.items():
        absorbed_at[target, :len(found)] = [moment for moment, _ in found]
        absorbed_row[target, :len(found)] = [row for _, row in found]
    return merged_at, merged_into, absorbed_at, absorbed_row


def _retire(company: Company, kind: str, versions: np.ndarray, extra: dict[str, np.ndarray],
            shares: tuple[float, float]) -> np.ndarray:
    """Archive (and for contacts, merge) a share of the rows; the versions to index, merges included.

    A merge is a version of the survivor (its modified date moves to the merge), though not an
    edit: contacts keep their edit times apart (`edits`) for the lifecycle stage they reached.
    """
    archive_share, merge_share = shares
    archived = _archive(company, kind, versions, archive_share)
    extra["archived"] = archived
    if kind != "contacts":
        extra["gone"] = archived
        return versions
    merged_at, merged_into, absorbed_at, absorbed_row = _merge(company, versions, archived, merge_share)
    extra.update({"gone": np.minimum(archived, merged_at), "merged_at": merged_at, "merged_into": merged_into,
                  "absorbed_at": absorbed_at, "absorbed_row": absorbed_row, "edits": versions})
    return np.sort(np.column_stack([versions, absorbed_at]), axis=1)


def _build(company: Company, kind: str, shares: tuple[float, float] = (ARCHIVE_SHARE, MERGE_SHARE)) -> _Index:
    if kind == "deals":
        return _build_deals(company, shares)
    if kind == "products":
        return _build_products(company)
    rows = company.customers if kind == "contacts" else company.organisations
    draw = company.bulk("hubspot", kind)
    updates = draw.choice(UPDATES[kind], size=rows)
    extra = {"owner": draw.integers(0, len(OWNERS), size=rows).astype(np.int8)}
    if kind == "contacts":
        extra["stage"] = draw.choice([0, 1, 2, 2], size=rows).astype(np.int8)
    else:
        extra["revenue"] = draw.integers(100, 50_000, size=rows).astype(np.int32)
    versions = _retire(company, kind, _version_times(company, kind, rows, updates), extra, shares)
    return _index(versions, np.arange(rows, dtype=np.int32), extra)


def _build_deals(company: Company, shares: tuple[float, float]) -> _Index:
    draw = company.bulk("hubspot", "deals")
    order, bounds = company.membership
    sizes = np.diff(bounds)
    # An organisation nobody works at has no deals.
    counts = draw.choice(DEALS_PER_ORGANISATION, size=company.organisations) * (sizes > 0)
    org = np.repeat(np.arange(company.organisations), counts)
    number = np.arange(len(org)) - np.repeat(np.cumsum(counts) - counts, counts)
    # A deal starts scheduled, qualified or already closed, and each edit moves it one stage on.
    first_stage = draw.choice(3, p=[0.45, 0.35, 0.2], size=len(org))
    won = draw.random(size=len(org)) < 0.6
    contact = order[bounds[org] + (draw.random(size=len(org)) * sizes[org]).astype(np.int64)]
    updates = np.minimum(2 - first_stage, draw.choice([0, 1, 2, 2], size=len(org)))
    versions = _version_times(company, "deals", len(org), updates)
    retired: dict[str, np.ndarray] = {}
    versions = _retire(company, "deals", versions, retired, shares)
    small = {"purpose": draw.integers(0, len(PURPOSES), size=len(org)), "amount": draw.integers(5, 500, size=len(org)),
             "owner": draw.integers(0, len(OWNERS), size=len(org)), "first_stage": first_stage}
    return _index(versions, (org * 10 + number).astype(np.int32), {
        "org": org.astype(np.int32), "won": won, "contact": contact.astype(np.int32),
        **{name: values.astype(np.int16) for name, values in small.items()}, **retired})


def _build_products(company: Company) -> _Index:
    # The library is set up before the company's first deal and left alone.
    versions = np.full((len(PRODUCTS), 1 + MAX_UPDATES), NEVER, dtype=np.int64)
    versions[:, 0] = company.start_epoch - 86400
    return _index(versions, np.arange(len(PRODUCTS), dtype=np.int32), {})


def _build_line_items(company: Company, deals: _Index) -> _Index:
    draw = company.bulk("hubspot", "line_items")
    counts = draw.choice(LINE_ITEMS_PER_DEAL, size=len(deals.keys))
    deal = np.repeat(np.arange(len(deals.keys)), counts)
    number = np.arange(len(deal)) - np.repeat(np.cumsum(counts) - counts, counts)
    # The deal's amount split over its line items by weight, the last taking the rounding, so
    # they add up to the deal's amount exactly.
    weight = draw.integers(1, 4, size=len(deal))
    starts = np.cumsum(counts) - counts
    total_weight = np.add.reduceat(weight, starts)[np.repeat(np.arange(len(counts)), counts)]
    deal_amount = deals.extra["amount"][deal].astype(np.int64) * 100
    amount = deal_amount * weight // total_weight
    last = np.cumsum(counts) - 1
    amount[last] += deal_amount[last - counts + 1] - np.add.reduceat(amount, starts)
    product = draw.choice(len(PRODUCTS), p=PRODUCT_WEIGHTS, size=len(deal))
    versions = np.full((len(deal), 1 + MAX_UPDATES), NEVER, dtype=np.int64)
    versions[:, 0] = np.minimum(deals.versions[deal, 0] + LINE_ITEM_DELAY_SECONDS, company.end_epoch - 1)
    # Keys follow their deal's, so rows stay in id order and a deal's line items sit together.
    keys = deals.keys[deal].astype(np.int64) * 4 + number
    return _index(versions, keys.astype(np.int32), {
        "deal": deal.astype(np.int32), "amount": amount.astype(np.int64), "product": product.astype(np.int8)})


def pipeline_records(created: str) -> list[dict]:
    """The deal pipelines as `GET /crm/v3/pipelines/deals` lists them (stage metadata values are strings)."""
    return [{"id": pipeline["id"], "label": pipeline["label"], "displayOrder": order, "archived": False,
             "createdAt": created, "updatedAt": created,
             "stages": [{"id": stage_id, "label": label, "displayOrder": position,
                         "metadata": {"isClosed": closed, "probability": probability},
                         # HubSpot stamps the default pipeline's stages with epoch 0.
                         "createdAt": "1970-01-01T00:00:00Z" if pipeline["id"] == "default" else created,
                         "updatedAt": created, "archived": False, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                        for position, (stage_id, label, closed, probability) in enumerate(pipeline["stages"])]}
            for order, pipeline in enumerate(PIPELINES)]


class _Objects(Mapping[str, dict]):
    """The records of one type as the API holds them at `as_of`, by id, in id order (for tests).

    Live records by default; with `archived`, the ones the `archived=true` list serves.
    """

    def __init__(self, api: HubSpotApi, kind: str, *, archived: bool = False) -> None:
        self._api, self._kind, self._archived = api, kind, archived

    def _rows(self) -> np.ndarray:
        return self._api._archived_rows(self._kind) if self._archived else self._api._visible(self._kind)

    def __getitem__(self, object_id: str) -> dict:
        row = self._api._row(self._kind, object_id)
        rows = self._rows()
        if row is None or not np.isin(row, rows):
            raise KeyError(object_id)
        return self._api._record(self._kind, row)

    def __iter__(self) -> Iterator[str]:
        for row in self._rows():
            yield self._api._id(self._kind, int(row))

    def __len__(self) -> int:
        return len(self._rows())


class HubSpotApi:
    name = "hubspot"

    def __init__(self, company: Company, token: str = "hs-demo-token", *, search_cap: int = 10_000,
                 secondly_limit: int | None = None, association_page_size: int = ASSOCIATION_PAGE_SIZE,
                 archive_share: float = ARCHIVE_SHARE, merge_share: float = MERGE_SHARE) -> None:
        self.company = company
        # Shares of records archived and of contacts merged away; tests raise them to get some.
        self.archive_share, self.merge_share = archive_share, merge_share
        self.token = token
        self.search_cap = search_cap
        self.secondly_limit = secondly_limit
        self.association_page_size = association_page_size
        self.as_of = company.end
        self._calls: list[float] = []
        self._lock = threading.RLock()
        self._indexes: dict[str, _Index] = {}
        self._visible_rows: dict[tuple[str, bool], tuple[int, np.ndarray]] = {}
        self._searches: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._deals_by_contact: tuple[np.ndarray, np.ndarray] | None = None
        # Records edited through touch(): kind -> row -> (edited at, the record as edited).
        self._touched: dict[str, dict[int, tuple[int, dict]]] = {kind: {} for kind in KINDS}
        self._generation = 0
        self.objects = {kind: _Objects(self, kind) for kind in KINDS}
        self.archived = {kind: _Objects(self, kind, archived=True) for kind in KINDS}
        # Settings a portal admin edits; tests change them in place (a stage's metadata, an owner's name).
        self.pipelines = pipeline_records(_at(company.start_epoch - 86400))
        self.owners = [{"id": owner_id, "email": f"{given.lower()}.{family.lower()}@{OWNER_DOMAIN}",
                        "firstName": given, "lastName": family, "userId": 1_296_600 + number,
                        "userIdIncludingInactive": 1_296_600 + number, "type": "PERSON", "teams": [],
                        "createdAt": _at(company.start_epoch - 86400), "updatedAt": _at(company.start_epoch - 86400),
                        "archived": False}
                       for number, (owner_id, given, family) in enumerate(OWNER_PEOPLE)]

    # -- dataset ------------------------------------------------------------------------------

    def touch(self, kind: str, object_id: str, at: datetime, **properties: Any) -> dict:
        """Edit a record the way a CRM user would (for tests): new properties, later modified date."""
        record = self.objects[kind][object_id]
        record["properties"].update({k: str(v) for k, v in properties.items()})
        record["properties"][MODIFIED[kind]] = iso(at)
        record["updatedAt"] = iso(at)
        row = self._row(kind, object_id)
        with self._lock:
            self._touched[kind][row] = (int(at.timestamp()), record)
            self._generation += 1
        return record

    def _moment(self) -> int:
        """`as_of` in epoch seconds, rounded up: a version at second t is visible when t < this."""
        return math.ceil(self.as_of.timestamp())

    def _built(self, kind: str) -> _Index:
        if kind not in KINDS:
            raise KeyError(f"unknown object type {kind}")
        with self._lock:
            if kind not in self._indexes:
                self._indexes[kind] = _build_line_items(self.company, self._built("deals")) \
                    if kind == "line_items" else _build(self.company, kind, (self.archive_share, self.merge_share))
            return self._indexes[kind]

    def _id(self, kind: str, row: int) -> str:
        return str(FIRST_ID[kind] + int(self._built(kind).keys[row]))

    def _row(self, kind: str, object_id: str | int) -> int | None:
        keys = self._built(kind).keys
        try:
            key = int(object_id) - FIRST_ID[kind]
        except ValueError:
            return None
        if not len(keys) or not 0 <= key <= keys[-1]:
            return None
        # Searched in the keys' own type: a Python int would make numpy convert the whole array.
        row = int(np.searchsorted(keys, keys.dtype.type(key)))
        return row if keys[row] == key else None

    def _visible(self, kind: str) -> np.ndarray:
        """Rows created before `as_of` and still live (not archived, not merged away), ascending; cached."""
        return self._rows_at(kind, archived=False)

    def _archived_rows(self, kind: str) -> np.ndarray:
        """Rows archived before `as_of`, ascending: what `archived=true` lists; cached."""
        return self._rows_at(kind, archived=True)

    def _rows_at(self, kind: str, *, archived: bool) -> np.ndarray:
        index, moment = self._built(kind), self._moment()
        with self._lock:
            cached = self._visible_rows.get((kind, archived))
            if cached is None or cached[0] != moment:
                if archived:
                    rows = np.flatnonzero(index.extra["archived"] < moment) if "archived" in index.extra \
                        else np.arange(0)
                else:
                    live = index.versions[:, 0] < moment
                    if "gone" in index.extra:
                        live &= index.extra["gone"] >= moment
                    rows = np.flatnonzero(live)
                cached = (moment, rows)
                self._visible_rows[(kind, archived)] = cached
            return cached[1]

    def _visible_row(self, kind: str, row: int) -> bool:
        index, moment = self._built(kind), self._moment()
        gone = index.extra.get("gone")
        return bool(index.versions[row, 0] < moment and (gone is None or gone[row] >= moment))

    def _absorbed(self, row: int, moment: int) -> list[int]:
        """Contact rows merged into this one before `moment`, and those merged into them before that."""
        extra = self._built("contacts").extra
        found: list[int] = []
        for at, merged in zip(extra["absorbed_at"][row], extra["absorbed_row"][row], strict=True):
            if at < moment:
                found += [int(merged), *self._absorbed(int(merged), int(at))]
        return found

    def _canonical(self, row: int) -> int:
        """The contact row that holds this one at `as_of`: itself, or the survivor of its merges."""
        extra, moment = self._built("contacts").extra, self._moment()
        while extra["merged_at"][row] < moment:
            row = int(extra["merged_into"][row])
        return row

    def _record(self, kind: str, row: int) -> dict:
        """The row's record as of `as_of`: a touched one as edited, else regenerated from the seed."""
        moment = self._moment()
        touched = self._touched[kind].get(row)
        if touched is not None and touched[0] < moment:
            return json.loads(json.dumps(touched[1]))  # a copy: a page must not share the override
        index = self._built(kind)
        versions = index.versions[row]
        version = int(np.count_nonzero(versions < moment)) - 1
        record = getattr(self, f"_{kind}")(row, versions, version)
        archived = index.extra.get("archived")
        if archived is not None and archived[row] < moment:
            record["archived"], record["archivedAt"] = True, _at(int(archived[row]))
        return record

    def _shell(self, kind: str, object_id: str, versions: np.ndarray, version: int, props: dict) -> dict:
        created, modified = _at(int(versions[0])), _at(int(versions[version]))
        properties = {"hs_object_id": object_id, "createdate": created, MODIFIED[kind]: modified,
                      **{k: (None if v is None else str(v)) for k, v in props.items()}}
        return {"id": object_id, "properties": properties, "createdAt": created, "updatedAt": modified,
                "archived": False}

    def _contacts(self, row: int, versions: np.ndarray, version: int) -> dict:
        c, extra = self.company, self._built("contacts").extra
        person = c.person(row)
        # Each edit moves the contact one lifecycle stage on; a customer's edit is a new owner.
        # A merge also dates a version, but moves no stage: count the edits alone.
        moment = self._moment()
        edits = int(np.count_nonzero(extra["edits"][row] < moment)) - 1
        reached = int(extra["stage"][row]) + edits
        merged = sorted(self._absorbed(row, moment))
        return self._shell("contacts", self._id("contacts", row), versions, version, {
            "email": c.spelled_email(person, "hubspot"), "firstname": person.first_name,
            "lastname": person.last_name, "phone": c.spelled_phone(person, "hubspot"),
            "country": person.country,
            "hubspot_owner_id": OWNERS[(int(extra["owner"][row]) + max(0, reached - 2)) % len(OWNERS)],
            "lifecyclestage": LIFECYCLE[min(reached, 2)],
            "hs_merged_object_ids": ";".join(self._id("contacts", r) for r in merged) or None})

    def _companies(self, row: int, versions: np.ndarray, version: int) -> dict:
        c, extra = self.company, self._built("companies").extra
        # Each edit re-estimates the revenue (up a tenth) and hands the account to the next owner.
        return self._shell("companies", self._id("companies", row), versions, version, {
            "name": c.organisation_name(row), "domain": c.organisation_domain(row),
            "annualrevenue": int(extra["revenue"][row]) * (10 + version) // 10 * 1000,
            "hubspot_owner_id": OWNERS[(int(extra["owner"][row]) + version) % len(OWNERS)]})

    def _deals(self, row: int, versions: np.ndarray, version: int) -> dict:
        c, extra = self.company, self._built("deals").extra
        org, first_stage = int(extra["org"][row]), int(extra["first_stage"][row])
        stage = first_stage + version
        closed = stage >= OPEN_STAGES
        purpose = PURPOSES[extra["purpose"][row]]
        pipeline = PIPELINES[RENEWALS_PIPELINE if purpose == "renewal" else 0]
        stage_ids = [stage_id for stage_id, _, _, _ in pipeline["stages"]]
        outcome = stage_ids[OPEN_STAGES] if extra["won"][row] else stage_ids[OPEN_STAGES + 1]
        return self._shell("deals", self._id("deals", row), versions, version, {
            "dealname": f"{c.organisation_name(org)} — {purpose}",
            "amount": int(extra["amount"][row]) * 100, "dealstage": outcome if closed else stage_ids[stage],
            "pipeline": pipeline["id"],
            "closedate": _at(int(versions[OPEN_STAGES - first_stage])) if closed else None,
            "hubspot_owner_id": OWNERS[extra["owner"][row]]})

    def _line_items(self, row: int, versions: np.ndarray, version: int) -> dict:
        extra = self._built("line_items").extra
        name, sku, _, _, period = PRODUCTS[int(extra["product"][row])]
        amount = int(extra["amount"][row])
        return self._shell("line_items", self._id("line_items", row), versions, version, {
            "name": name, "hs_product_id": self._id("products", int(extra["product"][row])), "hs_sku": sku,
            "quantity": 1, "price": amount, "amount": amount, "hs_recurring_billing_period": period})

    def _products(self, row: int, versions: np.ndarray, version: int) -> dict:
        name, sku, category, price, period = PRODUCTS[row]
        return self._shell("products", self._id("products", row), versions, version, {
            "name": name, "hs_sku": sku, "price": price, "hs_recurring_billing_period": period,
            CATEGORY_PROPERTY: category})

    def _links(self, kind: str, row: int, other: str) -> list[str]:
        """Ids of the live `other` records associated with the row, in id order.

        Archiving a record drops its associations; merging a contact moves them to the survivor.
        """
        seeded = [row]
        if kind == "contacts" and "merged_at" in self._built("contacts").extra:
            seeded += self._absorbed(row, self._moment())
        ids = {i for r in seeded for i in self._seeded_links(kind, r, other)}
        if other == "contacts" and "merged_at" in self._built("contacts").extra:
            ids = {self._id("contacts", self._canonical(target)) if target is not None else i
                   for i, target in ((i, self._row("contacts", i)) for i in ids)}
        live = [i for i in ids if (target := self._row(other, i)) is not None and self._visible_row(other, target)]
        return sorted(live, key=int)

    def _seeded_links(self, kind: str, row: int, other: str) -> list[str]:
        """Ids of `other` records the seed associates with the row, in id order."""
        c = self.company
        if kind == other or other not in KINDS:
            return []
        if "products" in (kind, other):
            return []  # products cannot be associated; a line item names its product instead
        if kind == "line_items":
            return [self._id("deals", int(self._built("line_items").extra["deal"][row]))] if other == "deals" else []
        if kind == "deals" and other == "line_items":
            of_deal = self._built("line_items").extra["deal"]
            rows = range(*np.searchsorted(of_deal, np.array([row, row + 1], dtype=of_deal.dtype)))
            return [self._id("line_items", r) for r in rows]
        if other == "line_items":
            return []
        if kind == "deals":
            extra = self._built("deals").extra
            target = int(extra["org" if other == "companies" else "contact"][row])
            return [self._id(other, target)]
        if kind == "contacts" and other == "companies":
            return [self._id("companies", int(c.organisation_by_person[row]))]
        if kind == "companies" and other == "contacts":
            return [self._id("contacts", int(p)) for p in c.members(row)]
        deals = self._built("deals")
        if kind == "companies":
            orgs = deals.extra["org"]
            rows = range(*np.searchsorted(orgs, np.array([row, row + 1], dtype=orgs.dtype)))
        else:
            by_contact, contacts = self._contact_deals()
            rows = by_contact[slice(*np.searchsorted(contacts, np.array([row, row + 1], dtype=contacts.dtype)))]
        return [self._id("deals", int(r)) for r in rows]

    def _contact_deals(self) -> tuple[np.ndarray, np.ndarray]:
        """Deal rows ordered by their contact, and those contacts (to find a contact's deals by bisection)."""
        deals = self._built("deals")
        with self._lock:
            if self._deals_by_contact is None:
                order = np.argsort(deals.extra["contact"], kind="stable")
                self._deals_by_contact = (order, deals.extra["contact"][order])
            return self._deals_by_contact

    # -- protocol -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        if not bearer_ok(headers, self.token):
            return _error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        parts = path.strip("/").split("/")
        try:
            if method == "GET" and parts[:3] == ["crm", "v3", "objects"] and len(parts) == 4:
                return self._list(parts[3], query)
            if method == "GET" and parts[:4] == ["crm", "v3", "pipelines", "deals"] and len(parts) <= 5:
                return self._pipelines(parts[4] if len(parts) == 5 else None)
            if method == "GET" and parts == ["crm", "v3", "owners"]:
                return self._owners(query)
            if method == "POST" and parts[:3] == ["crm", "v3", "objects"] and parts[4:] == ["search"]:
                limited = self._secondly_limited()
                return limited or self._search(parts[3], body)
            if method == "POST" and parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]:
                return self._associations(parts[3], parts[4], json.loads(body or b"{}"))
        except SearchError as exc:
            return _error(400, "VALIDATION_ERROR", str(exc))
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, "VALIDATION_ERROR", f"Invalid input: {exc}")
        return _error(404, "OBJECT_NOT_FOUND", f"{method} {path} is not a CRM endpoint")

    def _pipelines(self, pipeline_id: str | None) -> Reply:
        # The vendor's collection has no paging: every pipeline comes in one answer.
        live = [p for p in self.pipelines if not p.get("archived")]
        if pipeline_id is None:
            return Reply(200, {"results": json.loads(json.dumps(live))})
        found = next((p for p in live if p["id"] == pipeline_id), None)
        if found is None:
            return _error(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id} for object type deals")
        return Reply(200, json.loads(json.dumps(found)))

    def _owners(self, query: Query) -> Reply:
        limit = int(first(query, "limit", "100"))
        if not 1 <= limit <= OWNERS_MAX_LIMIT:
            return _error(400, "VALIDATION_ERROR", f"limit: Must be less than or equal to {OWNERS_MAX_LIMIT}")
        archived = (first(query, "archived") or "false").lower() == "true"
        wanted = [o for o in self.owners if bool(o.get("archived")) == archived]
        after = first(query, "after")
        begin = _decode(after) if after else 0
        reply: dict[str, Any] = {"results": json.loads(json.dumps(wanted[begin:begin + limit]))}
        if begin + limit < len(wanted):
            token = _encode(begin + limit)
            reply["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
        return Reply(200, reply)

    def _project(self, kind: str, record: dict, wanted: list[str] | None) -> dict:
        """Keep the properties a read asked for (HubSpot always adds three), or the defaults."""
        names = set(DEFAULT_PROPERTIES[kind]) if not wanted else {"hs_object_id", "createdate", MODIFIED[kind],
                                                                   *wanted}
        values, known = record["properties"], PROPERTY_TYPES[kind]
        record["properties"] = {name: values.get(name) for name in sorted(names) if name in values or name in known}
        return record

    def _inline(self, kind: str, record: dict, row: int, wanted: list[str]) -> dict:
        blocks = {}
        for other in wanted:
            ids = self._links(kind, row, other)
            if ids:
                blocks[other] = {"results": [{"id": i, "type": f"{SINGULAR[kind]}_to_{SINGULAR[other]}"}
                                             for i in ids]}
        return {**record, "associations": blocks} if blocks else record

    def _list(self, kind: str, query: Query) -> Reply:
        limit = int(first(query, "limit", "10"))
        if not 1 <= limit <= 100:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
        after = first(query, "after")
        wanted = list(dict.fromkeys(_listed(query, "associations") or []))
        properties = _listed(query, "properties")
        # archived=true lists only archived records (paged, projected and associated alike).
        archived = (first(query, "archived") or "false").lower() == "true"
        visible = self._archived_rows(kind) if archived else self._visible(kind)
        # `after` names the first row of the next page, so it stays valid while records are added.
        begin = int(np.searchsorted(visible, _decode(after))) if after else 0
        rows = visible[begin:begin + limit]
        page = [self._inline(kind, self._project(kind, self._record(kind, int(r)), properties), int(r), wanted)
                for r in rows]
        reply: dict[str, Any] = {"results": page}
        if begin + limit < len(visible):
            token = _encode(int(visible[begin + limit]))
            reply["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
        return Reply(200, reply)

    def _search(self, kind: str, body: bytes) -> Reply:
        text = body.decode() if body else "{}"
        if len(text) > MAX_SEARCH_BODY:
            raise SearchError(f"The request body has {len(text)} characters; a search accepts at most "
                              f"{MAX_SEARCH_BODY}.")
        request = json.loads(text)
        if not isinstance(request, dict):
            raise SearchError("The request body must be a JSON object.")
        self._built(kind)
        limit = int(request.get("limit") if request.get("limit") is not None else 10)
        if not 1 <= limit <= 200:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        offset = _offset(request.get("after"))
        groups = _filter_groups(request.get("filterGroups"), kind)
        sort = _sort_rule(request.get("sorts"))
        properties = request.get("properties")
        if properties is not None and not (isinstance(properties, list)
                                           and all(isinstance(name, str) for name in properties)):
            raise SearchError("properties must be a list of property names.")
        if offset + limit > self.search_cap:
            return _error(400, "VALIDATION_ERROR",
                          f"There was a problem with the request. Paging beyond {self.search_cap} results "
                          "is not supported.")
        found = self._found(kind, groups, sort)
        page = [self._project(kind, self._record(kind, int(r)), properties) for r in found[offset:offset + limit]]
        reply: dict[str, Any] = {"total": len(found), "results": page}
        if offset + limit < len(found):
            reply["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return Reply(200, reply)

    def _found(self, kind: str, groups: list[list[dict]], sort: tuple[str, bool] | None) -> np.ndarray:
        """Rows matching any filter group, in the search's order; cached so that paging through them stays cheap."""
        key = (kind, json.dumps(groups, sort_keys=True), json.dumps(sort), self._moment(), self._generation)
        with self._lock:
            if key in self._searches:
                self._searches.move_to_end(key)
                return self._searches[key]
        found = np.unique(np.concatenate([self._group(kind, filters) for filters in groups]))
        found = self._sorted(kind, found, sort)
        with self._lock:
            self._searches[key] = found
            while len(self._searches) > SEARCH_CACHE:
                self._searches.popitem(last=False)
        return found

    def _indexed(self, kind: str) -> set[str]:
        return {"hs_object_id", "createdate", MODIFIED[kind]}

    def _group(self, kind: str, filters: list[dict]) -> np.ndarray:
        """Rows matching every filter of one group."""
        # Filters the index can answer go first, narrowing what the rest must regenerate.
        indexed = self._indexed(kind)
        answerable = [f["propertyName"] in indexed and "TOKEN" not in f["operator"] for f in filters]
        fast = [f for f, yes in zip(filters, answerable, strict=True) if yes]
        slow = [f for f, yes in zip(filters, answerable, strict=True) if not yes]
        low, high = _seconds([f for f in fast if f["propertyName"] == MODIFIED[kind]])
        bounded = (low, high) != (-NEVER, NEVER)
        rows = self._modified_between(kind, low, high) if bounded else self._visible(kind)
        if fast:
            keep = np.ones(len(rows), dtype=bool)
            for flt in fast:
                keep &= _compare_numbers(self._numbers(kind, flt["propertyName"], rows), flt,
                                         PROPERTY_TYPES[kind][flt["propertyName"]])
            rows = rows[keep]
        if slow:
            rows = np.array([r for r in rows if all(_matches(kind, self._record(kind, int(r)), f) for f in slow)],
                            dtype=np.int64)
        return rows.astype(np.int64)

    def _numbers(self, kind: str, prop: str, rows: np.ndarray) -> np.ndarray:
        """An indexed property of each row as a number: the id, or a date in epoch milliseconds."""
        index = self._built(kind)
        if prop == "hs_object_id":
            return FIRST_ID[kind] + index.keys[rows].astype(np.int64)
        if prop == "createdate":
            return index.versions[rows, 0] * 1000
        moment = self._moment()
        versions = index.versions[rows]
        modified = np.where(versions < moment, versions, -NEVER).max(axis=1)
        active = sorted((row, at) for row, (at, _) in self._touched[kind].items() if at < moment)
        if active and len(rows):
            touched_rows = np.array([row for row, _ in active], dtype=np.int64)
            touched_at = np.array([at for _, at in active], dtype=np.int64)
            where = np.minimum(np.searchsorted(touched_rows, rows), len(active) - 1)
            hit = touched_rows[where] == rows
            modified[hit] = touched_at[where[hit]]
        return modified * 1000

    def _sorted(self, kind: str, rows: np.ndarray, sort: tuple[str, bool] | None) -> np.ndarray:
        # Without a sorting rule HubSpot returns the oldest created first.
        prop, descending = sort or ("createdate", False)
        if prop in self._indexed(kind):
            keys = self._numbers(kind, prop, rows)
            return rows[np.lexsort((rows, -keys if descending else keys))]
        kind_type = PROPERTY_TYPES[kind].get(prop, "string")
        valued, empty = [], []
        for row in rows:  # already in id order, which the stable sort keeps among equal values
            raw = self._record(kind, int(row))["properties"].get(prop)
            if raw is None or raw == "":
                empty.append(int(row))
            else:
                valued.append((_comparable(kind_type, raw), int(row)))
        valued.sort(key=lambda pair: pair[0], reverse=descending)
        return np.array([row for _, row in valued] + empty, dtype=np.int64)

    def _modified_between(self, kind: str, low: int, high: int) -> np.ndarray:
        """Rows whose version at `as_of` was made in [low, high] (epoch seconds, both inclusive)."""
        index, moment = self._built(kind), self._moment()
        begin = np.searchsorted(index.event_times, low, side="left")
        end = np.searchsorted(index.event_times, min(high, moment - 1), side="right")
        # A version counts if it is the row's latest before `as_of`: the next one came later.
        current = index.event_until[begin:end] >= moment
        rows = index.event_rows[begin:end][current]
        active = {row: at for row, (at, _) in self._touched[kind].items() if at < moment}
        if active:
            rows = rows[~np.isin(rows, list(active))]
            rows = np.concatenate([rows, [row for row, at in active.items() if low <= at <= high]])
        rows = rows.astype(np.int64)
        gone = index.extra.get("gone")
        # Search never finds archived or merged-away records.
        return rows if gone is None else rows[gone[rows] >= moment]

    def _associations(self, source: str, target: str, request: dict) -> Reply:
        self._built(source), self._built(target)
        type_id = ASSOCIATION_TYPE_IDS.get((source, target), 1)
        results = []
        for item in request.get("inputs", []):
            object_id = str(item["id"])
            row = self._row(source, object_id)
            ids = self._links(source, row, target) if row is not None else []
            begin = _decode(item["after"]) if item.get("after") else 0
            end = begin + self.association_page_size
            if ids[begin:end]:
                result: dict[str, Any] = {"from": {"id": object_id}, "to": [
                    {"toObjectId": int(i), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]} for i in ids[begin:end]]}
                # The vendor sends `paging` only when the record has more associations than this page.
                if end < len(ids):
                    result["paging"] = {"next": {"after": _encode(end)}}
                results.append(result)
        return Reply(200, {"status": "COMPLETE", "results": results, "startedAt": iso(self.company.end),
                           "completedAt": iso(self.company.end)})

    def _secondly_limited(self) -> Reply | None:
        if self.secondly_limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            self._calls = [t for t in self._calls if now - t < 1.0]
            if len(self._calls) >= self.secondly_limit:
                # HubSpot does not always send Retry-After: every other refusal goes without it.
                headers = {"X-HubSpot-RateLimit-Secondly": str(self.secondly_limit),
                           "X-HubSpot-RateLimit-Secondly-Remaining": "0"}
                if len(self._calls) % 2 == 0:
                    headers["Retry-After"] = "1"
                refused = _error(429, "RATE_LIMITS", "You have reached your secondly limit.",
                                 errorType="RATE_LIMIT", policyName="SECONDLY", requestId=str(uuid.uuid4()))
                return Reply(429, refused.body, headers)
            self._calls.append(now)
        return None

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "results", "id")


def _listed(query: Query, name: str) -> list[str] | None:
    """A query parameter's names, whether repeated (`a=x&a=y`) or comma-separated (`a=x,y`)."""
    if name not in query:
        return None
    return [part.strip() for value in query[name] for part in value.split(",") if part.strip()]


def _offset(after: Any) -> int:
    if after is None or after == "":
        return 0
    try:
        offset = int(after)
    except (TypeError, ValueError):
        raise SearchError(f"after must be an integer, not {after!r}.") from None
    if offset < 0:
        raise SearchError(f"after must not be negative, not {after!r}.")
    return offset


def _filter_groups(groups: Any, kind: str) -> list[list[dict]]:
    """The request's filter groups, checked the way HubSpot checks them; no group matches everything."""
    if not groups:
        return [[]]
    if not isinstance(groups, list) or not all(isinstance(g, dict) and isinstance(g.get("filters", []), list)
                                               for g in groups):
        raise SearchError("filterGroups must be a list of objects, each with a list of filters.")
    filters = [g.get("filters", []) for g in groups]
    if len(groups) > MAX_GROUPS or any(len(f) > MAX_FILTERS_PER_GROUP for f in filters) \
            or sum(map(len, filters)) > MAX_FILTERS:
        raise SearchError(f"Too many filters: a search takes at most {MAX_GROUPS} filterGroups of at most "
                          f"{MAX_FILTERS_PER_GROUP} filters each, {MAX_FILTERS} filters in all.")
    for flt in (flt for group in filters for flt in group):
        _check_filter(flt, kind)
    return filters


def _check_filter(flt: Any, kind: str) -> None:
    if not isinstance(flt, dict) or not isinstance(flt.get("propertyName"), str) or "operator" not in flt:
        raise SearchError("Invalid input JSON: a filter needs a propertyName and an operator.")
    op = flt["operator"]
    if op not in OPERATORS:
        raise SearchError(f"Invalid input JSON: Cannot deserialize value of type `FilterOperator` from String "
                          f"{json.dumps(op)}: not one of the values accepted: [{', '.join(OPERATORS)}]")
    if op in VALUED and flt.get("value") is None:
        raise SearchError(f"The filter on {flt['propertyName']} with operator {op} needs a value.")
    if op == "BETWEEN" and flt.get("highValue") is None:
        raise SearchError(f"The filter on {flt['propertyName']} with operator BETWEEN needs a highValue.")
    if op in ("IN", "NOT_IN") and not isinstance(flt.get("values"), list):
        raise SearchError(f"The filter on {flt['propertyName']} with operator {op} needs a list of values.")
    # A value that cannot be read as the property's type is refused now, not while matching.
    kind_type = PROPERTY_TYPES[kind].get(flt["propertyName"], "string")
    for value in [flt.get("value"), flt.get("highValue"), *(flt.get("values") or [])]:
        if value is not None and "TOKEN" not in op:
            _comparable(kind_type, value)


def _sort_rule(sorts: Any) -> tuple[str, bool] | None:
    """The one sorting rule as (property, descending), or None for HubSpot's default order."""
    if not sorts:
        return None
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise SearchError("Only one sorting rule can be applied to a search.")
    rule = sorts[0]
    if not isinstance(rule, dict) or not isinstance(rule.get("propertyName"), str):
        raise SearchError("A sorting rule needs a propertyName (and optionally a direction).")
    direction = rule.get("direction", "ASCENDING")
    if direction not in DIRECTIONS:
        raise SearchError(f"A sorting rule's direction is ASCENDING or DESCENDING, not {direction!r}.")
    return rule["propertyName"], direction == "DESCENDING"


def _epoch_ms(value: Any) -> int:
    """A date filter value or property as epoch milliseconds: digits as they are, else ISO 8601."""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _comparable(kind_type: str, value: Any) -> Any:
    """A value in the form its property type compares in: numbers, dates in ms, text folded unless an enumeration."""
    if kind_type == "number":
        return float(value)
    if kind_type == "datetime":
        return _epoch_ms(value)
    if kind_type == "enumeration":
        return str(value)
    return str(value).casefold()


def _seconds(filters: list[dict]) -> tuple[int, int]:
    """Millisecond bounds on a modified date as an inclusive range of whole seconds (for the index)."""
    low, high = -NEVER, NEVER
    for flt in filters:
        op = flt["operator"]
        if op not in ("EQ", "GT", "GTE", "LT", "LTE", "BETWEEN"):
            continue
        value = _epoch_ms(flt["value"])
        ceiling, floor = -(-value // 1000), value // 1000
        if op in ("GTE", "EQ", "BETWEEN"):
            low = max(low, ceiling)
        if op == "GT":
            low = max(low, floor + 1)
        if op in ("LTE", "EQ"):
            high = min(high, floor)
        if op == "BETWEEN":
            high = min(high, _epoch_ms(flt["highValue"]) // 1000)
        if op == "LT":
            high = min(high, ceiling - 1)
    return low, high


_ORDER = {"EQ": lambda a, b: a == b, "NEQ": lambda a, b: a != b, "LT": lambda a, b: a < b,
          "LTE": lambda a, b: a <= b, "GT": lambda a, b: a > b, "GTE": lambda a, b: a >= b}


def _compare_numbers(left: np.ndarray, flt: dict, kind_type: str) -> np.ndarray:
    """One filter over an indexed property, which every record has."""
    op = flt["operator"]
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return np.full(len(left), op == "HAS_PROPERTY")
    if op in ("IN", "NOT_IN"):
        listed = np.isin(left, [_comparable(kind_type, v) for v in flt["values"]])
        return listed if op == "IN" else ~listed
    right = _comparable(kind_type, flt["value"])
    if op == "BETWEEN":
        return (left >= right) & (left <= _comparable(kind_type, flt["highValue"]))
    return _ORDER[op](left, right)


def _tokens_match(text: str, pattern: str) -> bool:
    """CONTAINS_TOKEN: a word, a run of letters and digits, or the whole value matches; `*` is a wildcard."""
    text, wanted = text.casefold(), re.compile(".*".join(map(re.escape, pattern.casefold().split("*"))))
    tokens = {text, *text.split(), *re.findall(r"[^\W_]+", text)}
    return any(wanted.fullmatch(token) for token in tokens)


def _matches(kind: str, record: dict, flt: dict) -> bool:
    """One filter against a regenerated record."""
    prop, op = flt["propertyName"], flt["operator"]
    raw = record["properties"].get(prop)
    present = raw is not None and raw != ""
    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return present == (op == "HAS_PROPERTY")
    negative = op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    if not present:
        return negative
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return _tokens_match(str(raw), str(flt["value"])) != negative
    kind_type = PROPERTY_TYPES[kind].get(prop, "string")
    left = _comparable(kind_type, raw)
    if op in ("IN", "NOT_IN"):
        # The search guide: on a string property the listed values must be lowercase to match.
        listed = {str(v) for v in flt["values"]} if kind_type == "string" else \
            {_comparable(kind_type, v) for v in flt["values"]}
        return (left in listed) != negative
    right = _comparable(kind_type, flt["value"])
    if op == "BETWEEN":
        return right <= left <= _comparable(kind_type, flt["highValue"])
    return _ORDER[op](left, right)
