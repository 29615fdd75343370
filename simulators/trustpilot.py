"""Trustpilot Business Units API simulator: the private review list and review deletions (docs/api-protocols.md §3).

`GET /v1/private/business-units/{businessUnitId}/reviews` with a business-user OAuth token in
`Authorization: Bearer` (401 without a valid, unexpired one; an unknown business unit is 404).
Parameters as documented: `page` from 1 (a page past the end answers an empty `reviews` array),
`perPage` 1-100 (default 20; 400 outside), `orderBy` `createdat.asc|createdat.desc|stars.asc|
stars.desc` (default `createdat.desc`), `stars` and `language` (repeated or comma-separated), and
`startDateTime`/`endDateTime` on `createdAt`.

Auth, as the vendor's authentication pages document it:
- The token endpoint `POST /v1/oauth/oauth-business-users-for-applications/accesstoken` takes
  `Authorization: Basic base64(API key:API secret)` and a form body (415 for another content
  type): `grant_type=password&username=<business user email>&password=...`, or
  `grant_type=refresh_token&refresh_token=...`, which `.../refresh` also takes. The answer
  holds `access_token`, `refresh_token` and `expires_in`, a string of seconds as in the vendor's
  example; `issued_at` (epoch milliseconds) and `refresh_token_expires_in` are the token
  gateway's usual extras, unconfirmed. The access token lives `token_lifetime` seconds (100 hours
  by default, as documented; tests shorten it), the refresh token 30 days.
- A refused grant answers as RFC 6749 §5.2 words it, which the vendor's FAQ points to ("OAuth
  error messages are not very elaborate"): 401 `{"error": "invalid_client"}` for a wrong API key
  or secret, 400 `{"error": "invalid_grant"}` for a wrong username or password or an unknown,
  used or expired refresh token. A refresh token is used once: the answer carries its successor.
- The private endpoint without a valid token answers 401 with the token gateway's fault body
  (`{"fault": {"faultstring": "Invalid access token", ...}}`, as users of the live API report it;
  "Access Token expired" for an expired one). It does not require the `apikey` header there.
- Public endpoints take the `apikey` header (401 "Invalid ApiKey" otherwise); those served are
  `GET /v1/business-units/find?name=<domain>`, which finds the business unit id (its body beyond
  `id` is unconfirmed), and `GET /v1/reviews/deletions` below.

Deleted reviews: a review deleted is gone from the review list from that moment (no tombstone
field, as the protocol notes infer), and `GET /v1/reviews/deletions` lists it: `startDate` and
`endDate` (YYYY-MM-DD, both required here, both days included), `limit` 1-1000 (default 100) and
`nextToken`; the answer is `{"reviews": [{"reviewId", "deletedAt"}], "nextToken"}`, oldest
deletion first, `nextToken` null on the last page. A bad date, a start after the end, a limit out
of range or a token it did not issue is 400 `{"message": ...}`. The key names follow the
documented sibling `GET /v1/consumers/deletions`, as the protocol notes advise (unconfirmed).
- The client-credentials and authorization-code grants, revocation, and the 429 the vendor says
  follows refreshing "too often" are not simulated.

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
the stars, ~15% edited within two weeks (`updatedAt` set), replies more likely on bad reviews,
and a share (`deleted_share`, 1% by default, drawn from the seed after every other draw, so a
larger share deletes the same reviews and more) deleted between an hour and 30 days after it was
written, if that falls before `company.end`.

Time and scale: the API answers as of `as_of` (default `company.end`; tests move it): a review
exists once created, and its edit and its reply show once made. No review is held in memory: a
compact plan (numpy arrays: per review its author, creation, stars, edit, reply and deletion
times, id) is drawn in bulk on the first request and sorted in the API's order, so a creation
window is two binary searches and a mask of the deleted, and a page regenerates only its own
reviews. Only reviews edited by hand through `edit()` are kept, as overrides.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import numpy as np

from simulators.company import VERBATIMS, Company, Person, iso
from simulators.server import Query, Reply, first, spoil_first

DEFAULT_API_KEY = "tp-demo-key"
DEFAULT_API_SECRET = "tp-demo-secret"
DEFAULT_USERNAME = "reviews@cxloop.example"
DEFAULT_PASSWORD = "tp-demo-password"
DEFAULT_BUSINESS_UNIT_ID = "5f1a2b3c4d5e6f7a8b9c0d1e"
IDENTIFYING_NAME = "cxloop.example"
DISPLAY_NAME = "cxloop"
PUBLIC_BASE = "https://api.trustpilot.com/v1"

_PATH = re.compile(r"^/v1/private/business-units/(?P<unit>[^/]+)/reviews$")
_OAUTH = "/v1/oauth/oauth-business-users-for-applications"
TOKEN_PATH = f"{_OAUTH}/accesstoken"
REFRESH_PATH = f"{_OAUTH}/refresh"
FIND_PATH = "/v1/business-units/find"
DELETIONS_PATH = "/v1/reviews/deletions"
DELETIONS_DEFAULT_LIMIT = 100
DELETIONS_MAX_LIMIT = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A deletions page's nextToken, decoded: the last deletion served, "<deletedAt>|<reviewId>".
_TOKEN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\|[0-9a-f]{24}$")
# The documented example's expires_in: a whisker under 100 hours.
TOKEN_LIFETIME = 359_999.0
REFRESH_LIFETIME = 30 * 86400.0
_ORDERS = ("createdat.asc", "createdat.desc", "stars.asc", "stars.desc")

# Review sites skew J-shaped: mostly five stars, a one-star bump, few in between.
STARS_WEIGHTS = [14, 5, 7, 18, 56]
# Invitation sources carry the customer's email and order id; organic reviews carry neither.
SOURCES = {"InvitationApi": 45, "AFSv2": 30, "BasicLink": 5, "Organic": 20}
INVITED = {"InvitationApi", "AFSv2"}
EDITED_SHARE = 0.15
# Reviews deleted after they were written (by their author, or removed by Trustpilot).
DELETED_SHARE = 0.01
WRITERS_SHARE = 0.3
REVIEWS_PER_WRITER = [1, 1, 1, 2]
NEVER = np.iinfo(np.int64).max
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


def _at(epoch: int) -> str:
    return iso(datetime.fromtimestamp(epoch, tz=UTC))


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)  # a date alone parses as midnight, as documented
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _multi(query: Query, name: str) -> list[str]:
    return [part for value in query.get(name, []) for part in value.split(",") if part]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"message": message}, headers or {})


def _oauth_error(status: int, error: str) -> Reply:
    return Reply(status, {"error": error})


def _fault(faultstring: str, errorcode: str) -> Reply:
    return Reply(401, {"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}})


def _seconds(value: float) -> str:
    """Seconds as the vendor writes them, "359999"; a fraction only when a test asks for one."""
    return format(value, "f").rstrip("0").rstrip(".")


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    """(API key, API secret) from a `Basic` header, or None when it is not one."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        key, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (key, secret) if colon else None


def generate_reviews(company: Company, business_unit_id: str = DEFAULT_BUSINESS_UNIT_ID) -> list[dict]:
    """Every review of the business unit as the API holds it at `company.end`, oldest first."""
    return TrustpilotApi(company, business_unit_id=business_unit_id).reviews()


@dataclass(frozen=True)
class _Plan:
    """One row per review in the API's order (createdAt, then id); a few bytes each, never the reviews."""

    person: np.ndarray
    number: np.ndarray  # the review's place among its author's reviews
    count: np.ndarray  # how many reviews its author wrote here
    created: np.ndarray  # epoch seconds, ascending
    stars: np.ndarray
    edited: np.ndarray  # epoch seconds of the author's edit, NEVER if none
    replied: np.ndarray  # epoch seconds of the company's reply, NEVER if none
    deleted: np.ndarray  # epoch seconds of the review's deletion, NEVER if none
    id_hi: np.ndarray  # the 96-bit id as 32 high and 64 low bits
    id_lo: np.ndarray

    def review_id(self, position: int) -> str:
        return f"{int(self.id_hi[position]):08x}{int(self.id_lo[position]):016x}"


def _plan(company: Company, deleted_share: float = DELETED_SHARE) -> _Plan:
    draw = company.bulk("trustpilot")
    writes = draw.random(size=company.customers) < WRITERS_SHARE
    counts = draw.choice(REVIEWS_PER_WRITER, size=company.customers) * writes
    person = np.repeat(np.arange(company.customers), counts)
    total = len(person)
    created = company.start_epoch + draw.integers(0, company.days * 86400, size=total)
    stars = 1 + draw.choice(5, p=np.array(STARS_WEIGHTS) / sum(STARS_WEIGHTS), size=total)
    reply_share = np.select([stars >= 4, stars == 3], [REPLY_SHARE["pos"], REPLY_SHARE["neu"]], REPLY_SHARE["neg"])
    # The API is observed at company.end: what would come later has not happened.
    edited = np.where(draw.random(size=total) < EDITED_SHARE,
                      created + draw.integers(3600, 14 * 86400, size=total), NEVER)
    replied = np.where(draw.random(size=total) < reply_share, created + draw.integers(3600, 3 * 86400, size=total),
                       NEVER)
    edited[edited >= company.end_epoch] = NEVER
    replied[replied >= company.end_epoch] = NEVER
    id_hi = draw.integers(0, 2**32, size=total, dtype=np.uint64)
    id_lo = draw.integers(0, 2**64 - 1, size=total, dtype=np.uint64, endpoint=True)
    # Drawn last, and whatever the share, so that every earlier draw stays as it was and a larger
    # share deletes the same reviews and more.
    doomed, delay = draw.random(size=total), draw.integers(3600, 30 * 86400, size=total)
    deleted = np.where(doomed < deleted_share, created + delay, NEVER)
    deleted[deleted >= company.end_epoch] = NEVER
    number = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    # createdAt strings and hex ids of one length sort as the numbers do.
    order = np.lexsort((id_lo, id_hi, created))
    return _Plan(person[order].astype(np.int32), number[order].astype(np.int8),
                 np.repeat(counts, counts)[order].astype(np.int8), created[order], stars[order].astype(np.int8),
                 edited[order], replied[order], deleted[order], id_hi[order], id_lo[order])


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


def _review(company: Company, plan: _Plan, position: int, moment: int, unit: dict) -> dict:
    """The review at `position` of the plan as the API shows it at `moment` (epoch seconds)."""
    person = company.person(int(plan.person[position]))
    rng = company.rng("trustpilot", person.index, int(plan.number[position]))
    review_id = plan.review_id(position)
    created = datetime.fromtimestamp(int(plan.created[position]), tz=UTC)
    stars = int(plan.stars[position])
    mood = _mood(stars)
    source = rng.choices(list(SOURCES), weights=list(SOURCES.values()))[0]
    invited = source in INVITED
    experienced = (created - timedelta(days=rng.randrange(15))).replace(hour=0, minute=0, second=0)
    edited, replied = int(plan.edited[position]), int(plan.replied[position])
    reply = None
    if replied < moment:
        reply = {"text": REPLIES[person.language], "authorBusinessUserId": _hex24(rng), "createdAt": _at(replied),
                 "updatedAt": None}
    return {
        "id": review_id,
        "consumer": _consumer(company, person, int(plan.count[position])),
        "businessUnit": unit,
        "stars": stars,
        "title": TITLES[person.language][mood],
        "text": VERBATIMS[person.language][mood],
        "language": person.language,
        "location": None,
        "createdAt": iso(created),
        "updatedAt": _at(edited) if edited < moment else None,
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
                 business_unit_id: str = DEFAULT_BUSINESS_UNIT_ID, *, api_secret: str = DEFAULT_API_SECRET,
                 username: str = DEFAULT_USERNAME, password: str = DEFAULT_PASSWORD,
                 token_lifetime: float = TOKEN_LIFETIME, refresh_lifetime: float = REFRESH_LIFETIME,
                 rate_limit: RateLimit | None = None, deleted_share: float = DELETED_SHARE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.company = company
        self.deleted_share = deleted_share
        self.api_key = api_key
        self.api_secret = api_secret
        self.username = username
        self.password = password
        # Seconds; tests set it short so that a run outlives its first token.
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.business_unit_id = business_unit_id
        self._clock = clock
        # Live tokens -> when they expire, on `clock`. Every token ever issued stays in
        # `issued_tokens`, so a test can look for any of them in logs and errors.
        self._access_tokens: dict[str, float] = {}
        self._refresh_tokens: dict[str, float] = {}
        self.issued_tokens: list[str] = []
        self.as_of = company.end
        self._unit = {"id": business_unit_id, "identifyingName": IDENTIFYING_NAME, "displayName": DISPLAY_NAME,
                      "links": [{"href": f"{PUBLIC_BASE}/business-units/{business_unit_id}", "method": "GET",
                                 "rel": "business-units"}]}
        self._lock = threading.RLock()
        self._plan: _Plan | None = None
        # Reviews edited through edit(): plan position -> (edited at, the review as edited). A new
        # edit replaces the dict, never mutates it, so a page already handed out does not change.
        self._edited: dict[int, tuple[int, dict]] = {}
        self._limiter = _SlidingWindow(rate_limit, clock) if rate_limit else None

    def _built(self) -> _Plan:
        with self._lock:
            if self._plan is None:
                self._plan = _plan(self.company, self.deleted_share)
            return self._plan

    def _moment(self) -> int:
        """`as_of` in epoch seconds, rounded up: what happened at second t is visible when t < this."""
        return math.ceil(self.as_of.timestamp())

    def _review(self, position: int) -> dict:
        moment = self._moment()
        edited = self._edited.get(position)
        if edited is not None and edited[0] < moment:
            return edited[1]
        return _review(self.company, self._built(), position, moment, self._unit)

    def _created_between(self, start: int | None, end: int | None) -> np.ndarray:
        """Plan positions, ascending, of the reviews created in [start, end) before `as_of`, not deleted by then."""
        plan, moment = self._built(), self._moment()
        stop = min(moment, end) if end is not None else moment
        begin = int(np.searchsorted(plan.created, start, side="left")) if start is not None else 0
        stop = max(begin, int(np.searchsorted(plan.created, stop, side="left")))
        return begin + np.flatnonzero(plan.deleted[begin:stop] >= moment)

    def reviews(self) -> list[dict]:
        """The current state of every review not deleted, oldest first (what a full read should land)."""
        return [self._review(position) for position in self._created_between(None, None).tolist()]

    def deletions(self, start: int | None = None, end: int | None = None) -> list[dict]:
        """The deletions made in [start, end) (epoch seconds) and before `as_of`, oldest first, then by id."""
        plan, moment = self._built(), self._moment()
        deleted = plan.deleted
        chosen = np.flatnonzero((deleted < min(moment, end if end is not None else moment))
                                & (deleted >= (start if start is not None else 0)))
        entries = sorted((int(deleted[p]), plan.review_id(int(p))) for p in chosen)
        return [{"reviewId": review_id, "deletedAt": _at(at)} for at, review_id in entries]

    def edit(self, review_id: str, *, at: datetime, **changes: Any) -> dict:
        """The consumer edits a review at `at`: `changes` replace fields and `updatedAt` moves."""
        plan = self._built()
        try:
            if len(review_id) != 24:
                raise ValueError(review_id)
            hi, lo = np.uint64(int(review_id[:8], 16)), np.uint64(int(review_id[8:], 16))
        except ValueError:
            raise KeyError(f"no review {review_id}") from None
        found = np.flatnonzero((plan.id_hi == hi) & (plan.id_lo == lo))
        if not len(found) or int(found[0]) not in self._created_between(None, None).tolist():
            raise KeyError(f"no review {review_id}")
        position = int(found[0])
        old = self._review(position)
        last = _parse_time(old["updatedAt"] or old["createdAt"])
        if at <= last:
            raise ValueError(f"an edit at {at} must come after the review's last change at {last}")
        edited = {**old, **changes, "updatedAt": iso(at)}
        with self._lock:
            self._edited[position] = (int(at.timestamp()), edited)
        return edited

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply:
        lowered = {k.lower(): v for k, v in headers.items()}
        if path in (TOKEN_PATH, REFRESH_PATH):
            return self._token(method, path, lowered, body)
        match = _PATH.match(path)
        refused = self._refuse_bearer(lowered) if match else self._refuse_apikey(lowered)
        if refused is not None:
            return refused
        if self._limiter is not None:
            with self._lock:
                wait = self._limiter.wait()
            if wait > 0:
                # Rounded up so that a client waiting exactly this long finds the window open.
                return _error(429, "Too many requests", {"Retry-After": f"{math.ceil(wait * 1000) / 1000:g}"})
        if method == "GET" and path == FIND_PATH:
            return self._find(query)
        if method == "GET" and path == DELETIONS_PATH:
            return self._deletions(query)
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
            start_at = math.ceil(_parse_time(start).timestamp()) if start else None
            end_at = math.ceil(_parse_time(end).timestamp()) if end else None
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
        window = self._created_between(start_at, end_at)
        begin = (page - 1) * per_page
        if stars or languages or order.startswith("stars"):
            selected = self._selected(window, stars, languages, order)
            total, reviews = len(selected), selected[begin:begin + per_page]
        else:
            # Only a creation window: the page is a slice of the plan, the one fast path a connector takes.
            positions = window if order == "createdat.asc" else window[::-1]
            total, reviews = len(positions), [self._review(p) for p in positions[begin:begin + per_page].tolist()]
        host = lowered.get("host", "127.0.0.1")
        links = []
        if begin + per_page < total:
            links.append(self._link(host, path, page + 1, per_page, "next-page"))
        if page > 1:
            links.append(self._link(host, path, page - 1, per_page, "prev-page"))
        return Reply(200, {"reviews": reviews, "links": links})

    def _refuse_apikey(self, headers: dict[str, str]) -> Reply | None:
        return None if headers.get("apikey") == self.api_key else _error(401, "Invalid ApiKey")

    def _refuse_bearer(self, headers: dict[str, str]) -> Reply | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            expires = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
            now = self._clock()
        if expires is None:
            return _fault("Invalid access token", "oauth.v2.InvalidAccessToken")
        if now >= expires:
            return _fault("Access Token expired", "keymanagement.service.access_token_expired")
        return None

    def _token(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """The token endpoint: a password grant, or a refresh grant that rotates the refresh token."""
        if method != "POST":
            return _error(405, f"{method} {path}: the token endpoint takes POST")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return _error(415, "Unsupported Media Type: send the grant as application/x-www-form-urlencoded")
        if _basic_credentials(headers.get("authorization", "")) != (self.api_key, self.api_secret):
            return _oauth_error(401, "invalid_client")
        try:
            form = {name: values[0] for name, values in parse_qs(body.decode(), strict_parsing=True).items()}
        except (UnicodeDecodeError, ValueError):
            return _oauth_error(400, "invalid_request")
        grant = form.get("grant_type")
        with self._lock:
            now = self._clock()
            if grant == "password" and path == TOKEN_PATH:
                if (form.get("username"), form.get("password")) != (self.username, self.password):
                    return _oauth_error(400, "invalid_grant")
            elif grant == "refresh_token":
                expires = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
                if expires is None or now >= expires:
                    return _oauth_error(400, "invalid_grant")
            elif grant is None:
                return _oauth_error(400, "invalid_request")
            else:
                return _oauth_error(400, "unsupported_grant_type")
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self._access_tokens[access] = now + self.token_lifetime
            self._refresh_tokens[refresh] = now + self.refresh_lifetime
            self.issued_tokens += [access, refresh]
        return Reply(200, {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": _seconds(self.token_lifetime),
            "refresh_token_expires_in": _seconds(self.refresh_lifetime),
            "issued_at": str(int(time.time() * 1000)),
        })

    def _find(self, query: Query) -> Reply:
        name = first(query, "name")
        if name != IDENTIFYING_NAME:
            return _error(404, f"Business unit {name} not found")
        return Reply(200, {"id": self.business_unit_id, "displayName": DISPLAY_NAME,
                           "name": {"identifying": IDENTIFYING_NAME, "referring": [IDENTIFYING_NAME]}})

    def _deletions(self, query: Query) -> Reply:
        """The deletions endpoint: made on the days [startDate, endDate], oldest first, `limit` a page."""
        dates = {}
        for name in ("startDate", "endDate"):
            value = first(query, name)
            if value is None:
                return _error(400, f"{name} is required (YYYY-MM-DD)")
            try:
                if not _DATE.match(value):
                    raise ValueError(value)
                dates[name] = datetime.fromisoformat(value).replace(tzinfo=UTC)
            except ValueError:
                return _error(400, f"Invalid parameter: {name} must be a date, YYYY-MM-DD; got {value!r}")
        if dates["startDate"] > dates["endDate"]:
            return _error(400, "startDate must not be after endDate")
        try:
            limit = int(first(query, "limit") or DELETIONS_DEFAULT_LIMIT)
        except ValueError:
            return _error(400, "Invalid parameter: limit must be a whole number")
        if not 1 <= limit <= DELETIONS_MAX_LIMIT:
            return _error(400, f"limit must be between 1 and {DELETIONS_MAX_LIMIT}")
        # Both dates are whole days, the end day included.
        entries = self.deletions(int(dates["startDate"].timestamp()),
                                 int((dates["endDate"] + timedelta(days=1)).timestamp()))
        token = first(query, "nextToken")
        begin = 0
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
                if not _TOKEN.match(after):
                    raise ValueError(after)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return _error(400, "Invalid parameter: nextToken")
            # After the last one served, by (deletedAt, reviewId): stays right while deletions arrive.
            begin = next((i for i, e in enumerate(entries) if f"{e['deletedAt']}|{e['reviewId']}" > after),
                         len(entries))
        page = entries[begin:begin + limit]
        more = begin + limit < len(entries)
        next_token = (base64.urlsafe_b64encode(f"{page[-1]['deletedAt']}|{page[-1]['reviewId']}".encode()).decode()
                      if more else None)
        return Reply(200, {"reviews": page, "nextToken": next_token})

    def _selected(self, window: np.ndarray, stars: set[int], languages: set[str], order: str) -> list[dict]:
        """Every review of the window that passes the stars and language filters, in `order`.

        Reads the whole window: filtering on content is for exploring the simulator, not a
        connector's path, so it is allowed to cost what it reads.
        """
        selected = [r for r in map(self._review, window.tolist())
                    if (not stars or r["stars"] in stars) and (not languages or r["language"] in languages)]
        if order.startswith("stars"):
            selected.sort(key=lambda r: (r["stars"], r["createdAt"], r["id"]))
        if order.endswith(".desc"):
            selected.reverse()
        return selected

    @staticmethod
    def _link(host: str, path: str, page: int, per_page: int, rel: str) -> dict:
        return {"href": f"http://{host}{path}?{urlencode({'page': page, 'perPage': per_page})}",
                "method": "GET", "rel": rel}

    def spoil_record(self, body: Any) -> None:
        spoil_first(body, "reviews", "id")
