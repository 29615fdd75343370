"""Trustpilot Business Units API simulator: the private review list (shared/api-protocols.md §3a).

`GET /v1/private/business-units/{businessUnitId}/reviews` with the `apikey` header (401 otherwise;
an unknown business unit is 404). Parameters as documented: `page` from 1 (a page past the end
answers an empty `reviews` array), `perPage` 1-100 (default 20; 400 outside), `orderBy`
`createdat.asc|createdat.desc|stars.asc|stars.desc` (default `createdat.desc`), `stars` and
`language` (repeated or comma-separated), and `startDateTime`/`endDateTime` on `createdAt`.

Where the documentation is silent, this simulator decides, and a client must not lean on more:
- `startDateTime` is inclusive and `endDateTime` exclusive; a value without a time means
  00:00:00 (documented) and one without a zone means UTC (assumed).
- `links` holds `next-page` only while more reviews follow, and `prev-page` after page 1. Their
  hrefs carry just `page` and `perPage`, like the documented example, so a client that fetched
  them as they are would drop its own filters: take the page number, keep your parameters.
- The optional rate limiter models the recommended 833 calls per 5 minutes as a sliding window
  and answers 429 with `Retry-After` (seconds, fractional so tests can use tiny windows); the
  real 429 and its headers are unconfirmed.

The dataset is a view of the shared `Company`: about 30% of people write 1-2 reviews each, stars
drawn J-shaped as on most review sites, title and text in the reviewer's language agreeing with
the stars, ~15% edited later (`updatedAt` set), replies more likely on bad reviews.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from simulators.company import VERBATIMS, Company, Person, iso
from simulators.server import Query, Reply, first, spoil_first

DEFAULT_API_KEY = "tp-demo-key"
DEFAULT_BUSINESS_UNIT_ID = "5f1a2b3c4d5e6f7a8b9c0d1e"
IDENTIFYING_NAME = "cxloop.example"
DISPLAY_NAME = "cxloop"
PUBLIC_BASE = "https://api.trustpilot.com/v1"

_PATH = re.compile(r"^/v1/private/business-units/(?P<unit>[^/]+)/reviews$")
_ORDERS = ("createdat.asc", "createdat.desc", "stars.asc", "stars.desc")

# Review sites skew J-shaped: mostly five stars, a one-star bump, few in between.
STARS_WEIGHTS = [14, 5, 7, 18, 56]
# Invitation sources carry the customer's email and order id; organic reviews carry neither.
SOURCES = {"InvitationApi": 45, "AFSv2": 30, "BasicLink": 5, "Organic": 20}
INVITED = {"InvitationApi", "AFSv2"}
EDITED_SHARE = 0.15
REPLY_SHARE = {"pos": 0.2, "neu": 0.4, "neg": 0.7}
TITLES = {
    "en": {"pos": "Excellent service", "neu": "Okay overall", "neg": "Very disappointed"},
    "pl": {"pos": "Świetna obsługa", "neu": "W porządku", "neg": "Bardzo rozczarowany"},
    "fr": {"pos": "Service excellent", "neu": "Correct dans l'ensemble", "neg": "Très déçu"},
    "fa": {"pos": "خدمات عالی", "neu": "در مجموع قابل قبول", "neg": "بسیار ناامید شدم"},
    "zh": {"pos": "服务很棒", "neu": "总体还行", "neg": "非常失望"},
}
REPLIES = {
    "en": "Thank you for your feedback, we have passed it on to the team.",
    "pl": "Dziękujemy za opinię, przekazaliśmy ją zespołowi.",
    "fr": "Merci pour votre avis, nous l'avons transmis à l'équipe.",
    "fa": "از بازخورد شما سپاسگزاریم، آن را به تیم منتقل کردیم.",
    "zh": "感谢您的反馈，我们已转告团队。",
}
CITIES = {"GB": "London", "PL": "Warszawa", "FR": "Lyon", "IR": "Tehran", "CN": "Shanghai"}


def _hex24(rng: Any) -> str:
    return f"{rng.getrandbits(96):024x}"


def _mood(stars: int) -> str:
    return "pos" if stars >= 4 else "neu" if stars == 3 else "neg"


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)  # a date alone parses as midnight, as documented
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _multi(query: Query, name: str) -> list[str]:
    return [part for value in query.get(name, []) for part in value.split(",") if part]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"message": message}, headers or {})


def generate_reviews(company: Company, business_unit_id: str = DEFAULT_BUSINESS_UNIT_ID) -> list[dict]:
    """Every review of the business unit as the API holds it at `company.end`, oldest first."""
    unit = {"id": business_unit_id, "identifyingName": IDENTIFYING_NAME, "displayName": DISPLAY_NAME,
            "links": [{"href": f"{PUBLIC_BASE}/business-units/{business_unit_id}", "method": "GET",
                       "rel": "business-units"}]}
    reviews: list[dict] = []
    for person in company.people():
        rng = company.rng("trustpilot", person.index)
        if rng.random() >= 0.3:
            continue
        count = rng.choice([1, 1, 1, 2])
        consumer = _consumer(company, person, count)
        reviews.extend(_review(company, rng, person, consumer, unit) for _ in range(count))
    reviews.sort(key=lambda r: (r["createdAt"], r["id"]))
    return reviews


def _consumer(company: Company, person: Person, count: int) -> dict:
    rng = company.rng("trustpilot-consumer", person.index)
    consumer_id = _hex24(rng)
    return {
        "id": consumer_id,
        "displayName": f"{person.first_name} {person.last_name[0]}.",
        "displayLocation": f"{CITIES[person.country]}, {person.country}",
        # Reviews of every business on Trustpilot, so at least the ones written here.
        "numberOfReviews": count + rng.choice([0, 0, 1, 2, 5, 11]),
        "links": [{"href": f"{PUBLIC_BASE}/consumers/{consumer_id}", "method": "GET", "rel": "consumer-profile"}],
    }


def _review(company: Company, rng: Any, person: Person, consumer: dict, unit: dict) -> dict:
    review_id = _hex24(rng)
    created = company.moment(rng)
    stars = rng.choices(range(1, 6), weights=STARS_WEIGHTS)[0]
    mood = _mood(stars)
    source = rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]
    invited = source in INVITED
    experienced = (created - timedelta(days=rng.randrange(15))).replace(hour=0, minute=0, second=0)
    latest = company.end - timedelta(seconds=1)  # the API is observed at company.end
    updated = None
    if rng.random() < EDITED_SHARE:
        candidate = created + timedelta(seconds=rng.randrange(3600, 14 * 86400))
        updated = candidate if candidate <= latest else None
    reply = None
    if rng.random() < REPLY_SHARE[mood]:
        replied = created + timedelta(seconds=rng.randrange(3600, 3 * 86400))
        if replied <= latest:
            reply = {"text": REPLIES[person.language], "authorBusinessUserId": _hex24(rng),
                     "createdAt": iso(replied), "updatedAt": None}
    return {
        "id": review_id,
        "consumer": consumer,
        "businessUnit": unit,
        "stars": stars,
        "title": TITLES[person.language][mood],
        "text": VERBATIMS[person.language][mood],
        "language": person.language,
        "location": None,
        "createdAt": iso(created),
        "updatedAt": iso(updated) if updated else None,
        "experiencedAt": iso(experienced),
        "referralEmail": company.spelled_email(person, "trustpilot") if invited else None,
        "referenceId": f"order-{rng.randrange(10**5, 10**6)}" if invited else None,
        "source": source,
        "companyReply": reply,
        "tags": [],
        "status": "active",
        "links": [{"href": f"{PUBLIC_BASE}/reviews/{review_id}", "method": "GET", "rel": "reviews"}],
    }


@dataclass(frozen=True)
class RateLimit:
    """At most `calls` accepted calls in any `per_seconds`; Trustpilot recommends 833 per 300 s."""

    calls: int = 833
    per_seconds: float = 300.0


class _SlidingWindow:
    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit, self._clock = limit, clock
        self._calls: deque[float] = deque()

    def wait(self) -> float:
        """0 and the call counts, or the seconds until the oldest call leaves the window."""
        now = self._clock()
        while self._calls and self._calls[0] <= now - self.limit.per_seconds:
            self._calls.popleft()
        if len(self._calls) < self.limit.calls:
            self._calls.append(now)
            return 0.0
        return self._calls[0] + self.limit.per_seconds - now


class TrustpilotApi:
    name = "trustpilot"

    def __init__(self, company: Company, api_key: str = DEFAULT_API_KEY,
                 business_unit_id: str = DEFAULT_BUSINESS_UNIT_ID, *, rate_limit: RateLimit | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.api_key = api_key
        self.business_unit_id = business_unit_id
        self._lock = threading.Lock()
        # Oldest first by (createdAt, id); an edit swaps the dict in place, never mutates it,
        # so a page already handed to the server thread is not changed under it.
        self._reviews = generate_reviews(company, business_unit_id)
        self._limiter = _SlidingWindow(rate_limit, clock) if rate_limit else None

    def reviews(self) -> list[dict]:
        """The current state of every review, oldest first (what a full read should land)."""
        with self._lock:
            return list(self._reviews)

    def edit(self, review_id: str, *, at: datetime, **changes: Any) -> dict:
        """The consumer edits a review at `at`: `changes` replace fields and `updatedAt` moves."""
        with self._lock:
            index = next((i for i, r in enumerate(self._reviews) if r["id"] == review_id), None)
            if index is None:
                raise KeyError(f"no review {review_id}")
            old = self._reviews[index]
            last = _parse_time(old["updatedAt"] or old["createdAt"])
            if at <= last:
                raise ValueError(f"an edit at {at} must come after the review's last change at {last}")
            self._reviews[index] = {**old, **changes, "updatedAt": iso(at)}
            return self._reviews[index]

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("apikey") != self.api_key:
            return _error(401, "Invalid ApiKey")
        if self._limiter is not None:
            with self._lock:
                wait = self._limiter.wait()
            if wait > 0:
                # Rounded up so that a client waiting exactly this long finds the window open.
                return _error(429, "Too many requests", {"Retry-After": f"{math.ceil(wait * 1000) / 1000:g}"})
        match = _PATH.match(path)
        if method != "GET" or not match:
            return _error(404, f"{method} {path} is not a Business Units API endpoint")
        if match["unit"] != self.business_unit_id:
            return _error(404, f"Business unit {match['unit']} not found")
        try:
            page = int(first(query, "page", "1"))
            per_page = int(first(query, "perPage", "20"))
            stars = {int(s) for s in _multi(query, "stars")}
            start = first(query, "startDateTime")
            end = first(query, "endDateTime")
            start_at = _parse_time(start) if start else None
            end_at = _parse_time(end) if end else None
        except ValueError as exc:
            return _error(400, f"Invalid parameter: {exc}")
        order = first(query, "orderBy", "createdat.desc")
        if page < 1:
            return _error(400, "page must be 1 or more")
        if not 1 <= per_page <= 100:
            return _error(400, "perPage must be between 1 and 100")
        if order not in _ORDERS:
            return _error(400, f"orderBy must be one of {', '.join(_ORDERS)}")
        if not stars <= {1, 2, 3, 4, 5}:
            return _error(400, "stars must be between 1 and 5")
        languages = set(_multi(query, "language"))
        with self._lock:
            selected = [r for r in self._reviews
                        if (start_at is None or _parse_time(r["createdAt"]) >= start_at)
                        and (end_at is None or _parse_time(r["createdAt"]) < end_at)
                        and (not stars or r["stars"] in stars)
                        and (not languages or r["language"] in languages)]
        if order.startswith("stars"):
            selected.sort(key=lambda r: (r["stars"], r["createdAt"], r["id"]))
        if order.endswith(".desc"):
            selected.reverse()
        begin = (page - 1) * per_page
        host = lowered.get("host", "127.0.0.1")
        links = []
        if begin + per_page < len(selected):
            links.append(self._link(host, path, page + 1, per_page, "next-page"))
        if page > 1:
            links.append(self._link(host, path, page - 1, per_page, "prev-page"))
        return Reply(200, {"reviews": selected[begin:begin + per_page], "links": links})

    @staticmethod
    def _link(host: str, path: str, page: int, per_page: int, rel: str) -> dict:
        return {"href": f"http://{host}{path}?{urlencode({'page': page, 'perPage': per_page})}",
                "method": "GET", "rel": rel}

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "reviews", "id")
