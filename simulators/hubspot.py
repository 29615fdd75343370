"""HubSpot CRM v3 simulator (docs/api-protocols.md §1).

- `GET /crm/v3/objects/{contacts|companies|deals}`: `limit` (default 10, max 100), opaque `after`,
  `properties`, inline `associations`; `paging.next.after` while more exist, absent at the end.
- `POST /crm/v3/objects/{type}/search`: AND-ed filters inside OR-ed filterGroups on the
  modified-date property (epoch milliseconds as strings) and `hs_object_id`; sorted by
  `hs_object_id`; `limit` max 200; paging past the result cap (10,000 by default) is a 400;
  results carry no associations, as in the real API.
- `POST /crm/v4/associations/{from}/{to}/batch/read`.
- Bearer auth; an optional secondly limit answers 429 with HubSpot's error body, sending
  `Retry-After` on some answers and not on others, as HubSpot does.

Time model: every record has a few versions: its creation, then up to two later edits a CRM
team makes over the following weeks (a contact moves along the lifecycle, or to another owner
once a customer; a company is re-estimated and reassigned; a deal moves to the next stage until
it closes). The API answers as of `as_of` (default `company.end`; tests move it to replay
updates): a record exists once created, in its latest version before `as_of`, and its modified
date is that version's. So a day's search window holds the records created that day plus the
older ones edited that day.

Scale: no record is held in memory. Per object type a compact index (numpy arrays: each
record's version times, and every version sorted by time with the time it was superseded) is
built on the first request that needs it, in seconds at a million contacts; a page regenerates
only its own records from the seed. A search over a window reads the index between two
binary searches and is cached while its pages are fetched, so a page costs what it holds. Only
records edited by hand through `touch()` are kept, as overrides.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from simulators.company import Company, iso
from simulators.server import Query, Reply, bearer_ok, first, spoil_first

MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}
KINDS = tuple(MODIFIED)
OWNERS = ["71001", "71002", "71003", "71004"]
LIFECYCLE = ["lead", "opportunity", "customer"]
STAGES = ["appointmentscheduled", "qualifiedtobuy"]  # then closedwon or closedlost
PURPOSES = ["renewal", "expansion", "new"]
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
FIRST_ID = {"contacts": 1001, "companies": 900_001, "deals": 5_000_000}

NEVER = np.iinfo(np.int64).max
MAX_UPDATES = 2
UPDATES = {"contacts": [0, 0, 0, 1, 1, 2], "companies": [0, 0, 1, 1, 2]}
DEALS_PER_ORGANISATION = [0, 1, 1, 2, 3]
# Edits come between an hour and a month after the previous version, most within days.
EDIT_GAP_SECONDS = (3600, 30 * 86400)
SEARCH_CACHE = 8
_OPERATORS = {"EQ", "GT", "GTE", "LT", "LTE"}


def _error(status: int, category: str, message: str) -> Reply:
    return Reply(status, {"status": "error", "message": message, "category": category,
                          "correlationId": "00000000-0000-0000-0000-000000000000"})


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


def _build(company: Company, kind: str) -> _Index:
    if kind == "deals":
        return _build_deals(company)
    rows = company.customers if kind == "contacts" else company.organisations
    draw = company.bulk("hubspot", kind)
    updates = draw.choice(UPDATES[kind], size=rows)
    extra = {"owner": draw.integers(0, len(OWNERS), size=rows).astype(np.int8)}
    if kind == "contacts":
        extra["stage"] = draw.choice([0, 1, 2, 2], size=rows).astype(np.int8)
    else:
        extra["revenue"] = draw.integers(100, 50_000, size=rows).astype(np.int32)
    return _index(_version_times(company, kind, rows, updates), np.arange(rows, dtype=np.int32), extra)


def _build_deals(company: Company) -> _Index:
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
    small = {"purpose": draw.integers(0, len(PURPOSES), size=len(org)), "amount": draw.integers(5, 500, size=len(org)),
             "owner": draw.integers(0, len(OWNERS), size=len(org)), "first_stage": first_stage}
    return _index(versions, (org * 10 + number).astype(np.int32), {
        "org": org.astype(np.int32), "won": won, "contact": contact.astype(np.int32),
        **{name: values.astype(np.int16) for name, values in small.items()}})


class _Objects(Mapping[str, dict]):
    """The records of one type as the API holds them at `as_of`, by id, in id order (for tests)."""

    def __init__(self, api: HubSpotApi, kind: str) -> None:
        self._api, self._kind = api, kind

    def __getitem__(self, object_id: str) -> dict:
        row = self._api._row(self._kind, object_id)
        if row is None or not self._api._visible_row(self._kind, row):
            raise KeyError(object_id)
        return self._api._record(self._kind, row)

    def __iter__(self) -> Iterator[str]:
        for row in self._api._visible(self._kind):
            yield self._api._id(self._kind, int(row))

    def __len__(self) -> int:
        return len(self._api._visible(self._kind))


class HubSpotApi:
    name = "hubspot"

    def __init__(self, company: Company, token: str = "hs-demo-token", *, search_cap: int = 10_000,
                 secondly_limit: int | None = None) -> None:
        self.company = company
        self.token = token
        self.search_cap = search_cap
        self.secondly_limit = secondly_limit
        self.as_of = company.end
        self._calls: list[float] = []
        self._lock = threading.RLock()
        self._indexes: dict[str, _Index] = {}
        self._visible_rows: dict[str, tuple[int, np.ndarray]] = {}
        self._searches: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._deals_by_contact: tuple[np.ndarray, np.ndarray] | None = None
        # Records edited through touch(): kind -> row -> (edited at, the record as edited).
        self._touched: dict[str, dict[int, tuple[int, dict]]] = {kind: {} for kind in KINDS}
        self._generation = 0
        self.objects = {kind: _Objects(self, kind) for kind in KINDS}

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
                self._indexes[kind] = _build(self.company, kind)
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
        """Rows created before `as_of`, ascending; cached for the current `as_of`."""
        index, moment = self._built(kind), self._moment()
        with self._lock:
            cached = self._visible_rows.get(kind)
            if cached is None or cached[0] != moment:
                cached = (moment, np.flatnonzero(index.versions[:, 0] < moment))
                self._visible_rows[kind] = cached
            return cached[1]

    def _visible_row(self, kind: str, row: int) -> bool:
        return bool(self._built(kind).versions[row, 0] < self._moment())

    def _record(self, kind: str, row: int) -> dict:
        """The row's record as of `as_of`: a touched one as edited, else regenerated from the seed."""
        moment = self._moment()
        touched = self._touched[kind].get(row)
        if touched is not None and touched[0] < moment:
            return json.loads(json.dumps(touched[1]))  # a copy: a page must not share the override
        versions = self._built(kind).versions[row]
        version = int(np.count_nonzero(versions < moment)) - 1
        return getattr(self, f"_{kind}")(row, versions, version)

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
        reached = int(extra["stage"][row]) + version
        return self._shell("contacts", self._id("contacts", row), versions, version, {
            "email": c.spelled_email(person, "hubspot"), "firstname": person.first_name,
            "lastname": person.last_name, "phone": c.spelled_phone(person, "hubspot"),
            "country": person.country,
            "hubspot_owner_id": OWNERS[(int(extra["owner"][row]) + max(0, reached - 2)) % len(OWNERS)],
            "lifecyclestage": LIFECYCLE[min(reached, 2)]})

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
        closed = stage >= len(STAGES)
        outcome = "closedwon" if extra["won"][row] else "closedlost"
        return self._shell("deals", self._id("deals", row), versions, version, {
            "dealname": f"{c.organisation_name(org)} — {PURPOSES[extra['purpose'][row]]}",
            "amount": int(extra["amount"][row]) * 100, "dealstage": outcome if closed else STAGES[stage],
            "pipeline": "default",
            "closedate": _at(int(versions[len(STAGES) - first_stage])) if closed else None,
            "hubspot_owner_id": OWNERS[extra["owner"][row]]})

    def _links(self, kind: str, row: int, other: str) -> list[str]:
        """Ids of `other` records associated with the row, in id order."""
        c = self.company
        if kind == other or other not in KINDS:
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
            if method == "POST" and parts[:3] == ["crm", "v3", "objects"] and parts[4:] == ["search"]:
                limited = self._secondly_limited()
                return limited or self._search(parts[3], json.loads(body or b"{}"))
            if method == "POST" and parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"]:
                return self._associations(parts[3], parts[4], json.loads(body or b"{}"))
        except (ValueError, KeyError) as exc:
            return _error(400, "VALIDATION_ERROR", f"Invalid request: {exc}")
        return _error(404, "OBJECT_NOT_FOUND", f"{method} {path} is not a CRM endpoint")

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
        wanted = [w for w in (first(query, "associations") or "").split(",") if w]
        visible = self._visible(kind)
        # `after` names the first row of the next page, so it stays valid while records are added.
        begin = int(np.searchsorted(visible, _decode(after))) if after else 0
        rows = visible[begin:begin + limit]
        page = [self._inline(kind, self._record(kind, int(r)), int(r), wanted) for r in rows]
        reply: dict[str, Any] = {"results": page}
        if begin + limit < len(visible):
            token = _encode(int(visible[begin + limit]))
            reply["paging"] = {"next": {"after": token, "link": f"?after={token}"}}
        return Reply(200, reply)

    def _search(self, kind: str, request: dict) -> Reply:
        limit = int(request.get("limit", 10))
        if not 1 <= limit <= 200:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        offset = int(request.get("after") or 0)
        if offset + limit > self.search_cap:
            return _error(400, "VALIDATION_ERROR",
                          f"There was a problem with the request. Paging beyond {self.search_cap} results "
                          "is not supported.")
        found = self._found(kind, request.get("filterGroups") or [{"filters": []}])
        page = [self._record(kind, int(r)) for r in found[offset:offset + limit]]
        reply: dict[str, Any] = {"total": len(found), "results": page}
        if offset + limit < len(found):
            reply["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return Reply(200, reply)

    def _found(self, kind: str, groups: list[dict]) -> np.ndarray:
        """Rows matching any filter group, ascending; cached so that paging through them stays cheap."""
        self._built(kind)
        key = (kind, json.dumps(groups, sort_keys=True), self._moment(), self._generation)
        with self._lock:
            if key in self._searches:
                self._searches.move_to_end(key)
                return self._searches[key]
        found = np.unique(np.concatenate([self._group(kind, g.get("filters", [])) for g in groups]))
        with self._lock:
            self._searches[key] = found
            while len(self._searches) > SEARCH_CACHE:
                self._searches.popitem(last=False)
        return found

    def _group(self, kind: str, filters: list[dict]) -> np.ndarray:
        """Rows matching every filter of one group."""
        modified = [f for f in filters if f["propertyName"] == MODIFIED[kind]]
        by_id = [f for f in filters if f["propertyName"] == "hs_object_id"]
        others = [f for f in filters if f not in modified and f not in by_id]
        for flt in filters:
            if flt["operator"] not in _OPERATORS:
                raise ValueError(f"operator {flt['operator']} is not supported by this simulator")
        low, high = _seconds(modified)
        rows = self._modified_between(kind, low, high) if modified else self._visible(kind)
        if by_id:
            ids = FIRST_ID[kind] + self._built(kind).keys[rows].astype(np.int64)
            keep = np.ones(len(rows), dtype=bool)
            for flt in by_id:
                keep &= _compare(ids, flt["operator"], int(flt["value"]))
            rows = rows[keep]
        if others:
            rows = np.array([r for r in rows if all(_matches(self._record(kind, int(r)), f) for f in others)],
                            dtype=np.int64)
        return rows

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
        return rows.astype(np.int64)

    def _associations(self, source: str, target: str, request: dict) -> Reply:
        results = []
        for item in request.get("inputs", []):
            row = self._row(source, str(item["id"]))
            ids = self._links(source, row, target) if row is not None else []
            if ids:
                results.append({"from": {"id": str(item["id"])}, "to": [
                    {"toObjectId": int(i), "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]} for i in ids]})
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
                return Reply(429, {"status": "error", "message": "You have reached your secondly limit.",
                                   "errorType": "RATE_LIMIT", "policyName": "SECONDLY"}, headers)
            self._calls.append(now)
        return None

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "results", "id")


def _seconds(filters: list[dict]) -> tuple[int, int]:
    """Millisecond bounds on a modified date as an inclusive range of whole seconds."""
    low, high = -NEVER, NEVER
    for flt in filters:
        op, value = flt["operator"], int(flt["value"])
        ceiling, floor = -(-value // 1000), value // 1000
        if op in ("GTE", "EQ"):
            low = max(low, ceiling)
        if op == "GT":
            low = max(low, floor + 1)
        if op in ("LTE", "EQ"):
            high = min(high, floor)
        if op == "LT":
            high = min(high, ceiling - 1)
    return low, high


def _compare(left: np.ndarray, op: str, right: int) -> np.ndarray:
    return {"EQ": left == right, "GT": left > right, "GTE": left >= right,
            "LT": left < right, "LTE": left <= right}[op]


def _matches(record: dict, flt: dict) -> bool:
    left, right = record["properties"].get(flt["propertyName"]), flt.get("value")
    if left is None or right is None:
        return False
    return {"EQ": left == right, "GT": left > right, "GTE": left >= right,
            "LT": left < right, "LTE": left <= right}[flt["operator"]]
