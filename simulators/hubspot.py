"""HubSpot CRM v3 simulator (shared/api-protocols.md §1).

- `GET /crm/v3/objects/{contacts|companies|deals}`: `limit` (default 10, max 100), opaque `after`,
  `properties`, inline `associations`; `paging.next.after` while more exist, absent at the end.
- `POST /crm/v3/objects/{type}/search`: AND-ed filters inside OR-ed filterGroups on the
  modified-date property (epoch milliseconds as strings) and `hs_object_id`; sorted by
  `hs_object_id`; `limit` max 200; paging past the result cap (10,000 by default) is a 400;
  results carry no associations, as in the real API.
- `POST /crm/v4/associations/{from}/{to}/batch/read`.
- Bearer auth; an optional secondly limit answers 429 with HubSpot's error body, sending
  `Retry-After` on some answers and not on others, as HubSpot does.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from simulators.company import Company, Person, iso
from simulators.server import Query, Reply, bearer_ok, first, spoil_first

MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}
OWNERS = ["71001", "71002", "71003", "71004"]
STAGES = ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"]
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _error(status: int, category: str, message: str) -> Reply:
    return Reply(status, {"status": "error", "message": message, "category": category,
                          "correlationId": "00000000-0000-0000-0000-000000000000"})


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _decode(after: str) -> int:
    return int(base64.urlsafe_b64decode(after.encode()).decode())


class HubSpotApi:
    name = "hubspot"

    def __init__(self, company: Company, token: str = "hs-demo-token", *, search_cap: int = 10_000,
                 secondly_limit: int | None = None) -> None:
        self.company = company
        self.token = token
        self.search_cap = search_cap
        self.secondly_limit = secondly_limit
        self._calls: list[float] = []
        self._lock = threading.Lock()
        self.objects: dict[str, dict[str, dict]] = {"contacts": {}, "companies": {}, "deals": {}}
        # (from type, from id) -> {to type: [ids]}
        self.links: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._build()

    # -- dataset ------------------------------------------------------------------------------

    def _record(self, kind: str, object_id: str, created: datetime, modified: datetime, props: dict) -> dict:
        properties = {"hs_object_id": object_id, "createdate": iso(created), MODIFIED[kind]: iso(modified),
                      **{k: (None if v is None else str(v)) for k, v in props.items()}}
        return {"id": object_id, "properties": properties, "createdAt": iso(created), "updatedAt": iso(modified),
                "archived": False}

    def _link(self, kind: str, object_id: str, other: str, other_id: str) -> None:
        self.links.setdefault((kind, object_id), {}).setdefault(other, []).append(other_id)
        self.links.setdefault((other, other_id), {}).setdefault(kind, []).append(object_id)

    def _created_modified(self, *parts: object) -> tuple[datetime, datetime]:
        rng = self.company.rng("hubspot", *parts)
        created = self.company.moment(rng)
        # Some records are edited several times; only the latest version is ever served.
        modified = created + timedelta(seconds=rng.randrange(1 + 86400 * rng.choice([0, 1, 5, 20])))
        return created, min(modified, self.company.end - timedelta(seconds=1))

    def _build(self) -> None:
        c = self.company
        for org in range(c.organisations):
            created, modified = self._created_modified("company", org)
            org_id = c.hubspot_company_id(org)
            rng = c.rng("hubspot-company", org)
            self.objects["companies"][org_id] = self._record("companies", org_id, created, modified, {
                "name": c.organisation_name(org), "domain": c.organisation_domain(org),
                "annualrevenue": rng.randrange(100, 50_000) * 1000, "hubspot_owner_id": rng.choice(OWNERS)})
        members: dict[int, list[Person]] = {}
        for person in c.people():
            org = c.organisation_of(person)
            members.setdefault(org, []).append(person)
            contact_id = c.hubspot_contact_id(person)
            created, modified = self._created_modified("contact", person.index)
            rng = c.rng("hubspot-contact", person.index)
            self.objects["contacts"][contact_id] = self._record("contacts", contact_id, created, modified, {
                "email": c.spelled_email(person, "hubspot"), "firstname": person.first_name,
                "lastname": person.last_name, "phone": c.spelled_phone(person, "hubspot"),
                "country": person.country, "hubspot_owner_id": rng.choice(OWNERS),
                "lifecyclestage": rng.choice(["lead", "opportunity", "customer", "customer"])})
            self._link("contacts", contact_id, "companies", c.hubspot_company_id(org))
        for org, people in members.items():
            rng = c.rng("hubspot-deals", org)
            for number in range(rng.choice([0, 1, 1, 2, 3])):
                deal_id = str(5_000_000 + org * 10 + number)
                created, modified = self._created_modified("deal", org, number)
                stage = rng.choice(STAGES)
                self.objects["deals"][deal_id] = self._record("deals", deal_id, created, modified, {
                    "dealname": f"{c.organisation_name(org)} — {rng.choice(['renewal', 'expansion', 'new'])}",
                    "amount": rng.randrange(5, 500) * 100, "dealstage": stage, "pipeline": "default",
                    "closedate": iso(modified) if stage.startswith("closed") else None,
                    "hubspot_owner_id": rng.choice(OWNERS)})
                self._link("deals", deal_id, "companies", c.hubspot_company_id(org))
                self._link("deals", deal_id, "contacts", c.hubspot_contact_id(rng.choice(people)))

    def touch(self, kind: str, object_id: str, at: datetime, **properties: Any) -> dict:
        """Edit a record the way a CRM user would (for tests): new properties, later modified date."""
        record = self.objects[kind][object_id]
        record["properties"].update({k: str(v) for k, v in properties.items()})
        record["properties"][MODIFIED[kind]] = iso(at)
        record["updatedAt"] = iso(at)
        return record

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

    def _objects(self, kind: str) -> list[dict]:
        if kind not in self.objects:
            raise KeyError(f"unknown object type {kind}")
        return sorted(self.objects[kind].values(), key=lambda r: int(r["id"]))

    def _inline(self, kind: str, record: dict, wanted: list[str]) -> dict:
        links = self.links.get((kind, record["id"]), {})
        blocks = {other: {"results": [{"id": i, "type": f"{SINGULAR[kind]}_to_{SINGULAR[other]}"}
                                      for i in links.get(other, [])]}
                  for other in wanted if links.get(other)}
        return {**record, "associations": blocks} if blocks else dict(record)

    def _list(self, kind: str, query: Query) -> Reply:
        limit = int(first(query, "limit", "10"))
        if not 1 <= limit <= 100:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 100")
        offset = _decode(first(query, "after")) if first(query, "after") else 0
        wanted = [w for w in (first(query, "associations") or "").split(",") if w]
        records = self._objects(kind)
        page = [self._inline(kind, r, wanted) for r in records[offset:offset + limit]]
        reply: dict[str, Any] = {"results": page}
        if offset + limit < len(records):
            after = _encode(offset + limit)
            reply["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return Reply(200, reply)

    def _matches(self, kind: str, record: dict, flt: dict) -> bool:
        name, op, value = flt["propertyName"], flt["operator"], flt.get("value")
        if name == "hs_object_id":
            left, right = int(record["id"]), int(value)
        elif name == MODIFIED[kind]:
            left = int(datetime.fromisoformat(record["properties"][name]).timestamp() * 1000)
            right = int(value)
        else:
            left, right = record["properties"].get(name), value
        return {"EQ": left == right, "GT": left > right, "GTE": left >= right,
                "LT": left < right, "LTE": left <= right}[op]

    def _search(self, kind: str, request: dict) -> Reply:
        limit = int(request.get("limit", 10))
        if not 1 <= limit <= 200:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        offset = int(request.get("after") or 0)
        if offset + limit > self.search_cap:
            return _error(400, "VALIDATION_ERROR",
                          f"There was a problem with the request. Paging beyond {self.search_cap} results "
                          "is not supported.")
        groups = request.get("filterGroups") or [{"filters": []}]
        found = [r for r in self._objects(kind)
                 if any(all(self._matches(kind, r, f) for f in g.get("filters", [])) for g in groups)]
        page = found[offset:offset + limit]
        reply: dict[str, Any] = {"total": len(found), "results": [dict(r) for r in page]}
        if offset + limit < len(found):
            reply["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return Reply(200, reply)

    def _associations(self, source: str, target: str, request: dict) -> Reply:
        results = []
        for item in request.get("inputs", []):
            ids = self.links.get((source, str(item["id"])), {}).get(target, [])
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
