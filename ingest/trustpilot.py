"""Trustpilot Business Units API: every review written about one business unit.

Protocol (docs/api-protocols.md §3): `GET /v1/private/business-units/{businessUnitId}/reviews`
with a business-user OAuth token (below); `page` from 1 and `perPage` up to 100; `orderBy=createdat.asc`;
`startDateTime`/`endDateTime` filter on creation time ("if no time is specified then time is
implicit 00:00:00"). The response is `{"reviews": [...], "links": [...]}`; the stream ends when
there is no `rel == "next-page"` link or `reviews` is empty (a page past the end is an empty
array). A review's `updatedAt` is null until its author edits it.

Deleted reviews vanish from the list; `GET /v1/reviews/deletions` (the `apikey` header) names
them, "You must delete returned review data from your system": `startDate`/`endDate`
(YYYY-MM-DD), `limit` up to 1000 and `nextToken`, answering `{"reviews": [{"reviewId",
"deletedAt"}], "nextToken"}` (key names by analogy with the documented consumer deletions:
unconfirmed), the last page without a `nextToken`. After the window's reviews, the stream reads
the deletions made from the day before the window's start (the one day's overlap the protocol
advises; the start already reaches back by the edit lookback) to the window's end date, and lands
each as a tombstone (the review's id and `deletedAt`), which replaces the landed review and keeps
none of its personal data. With no start (a first run with no `start_date`) it reads from
2007-01-01, the year Trustpilot began: every deletion ever, so that no landed row outlives its
review, however it got there.

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

Auth: private endpoints take `Authorization: Bearer <access token>` of a business user, which
the API refuses with 401 without it; public ones take the API key in the `apikey` header, which
the private calls carry too. The token comes from `POST /v1/oauth/oauth-business-users-for-
applications/accesstoken` with `Authorization: Basic base64(API key:API secret)` and a form body,
`grant_type=password&username=<business user email>&password=...` before the first private call,
then `grant_type=refresh_token&refresh_token=...` (which answers a new refresh token too). The
answer's `expires_in` is seconds, a string in the vendor's example: either form is read.
- Tokens are held in memory only: each run signs in once, and refreshes only when it outlives
  its token (100 hours: a long backfill), never per call, as the vendor answers refreshing
  "too often" with 429.
- A token is renewed `REFRESH_MARGIN` before it expires, so that none expires while a page is in
  flight (a call may wait out timeouts, retries and a 429 of several minutes); a short-lived
  token is renewed a tenth of its life early instead, so it is still used.
- A private call refused with 401 anyway (the token revoked, or our clock ahead of theirs) gets a
  new token and is sent once more; a second 401 is the error. A refused refresh falls back to
  the password grant; a refused password grant is an error naming the connection and its fields.
- The password grant is marked deprecated in the vendor's overview; it is used because the
  private reviews endpoint is documented with a business-user token, and of the grants that give
  one it is the only one without a person at a browser (the authorization-code grant).
- The API secret, the password and the tokens are registered with `ingest.masking` as soon as
  they are read or received; HttpClient registers the Basic and Bearer headers it sends.

Connection `cxloop_trustpilot`: host = base URL (default `https://api.trustpilot.com`), password =
API key (the OAuth client id), login = the business user's email, extra = `{"api_secret": "...",
"business_user_password": "...", "business_unit_id": "...", "start_date": ...,
"edit_lookback_days": 30, "retry": {...}}`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingest import masking
from ingest.connections import check_credential, path_id, source_connection
from ingest.http import HttpClient, SourceHTTPError, path_segment, redact_url
from ingest.streams import Record, Source, Stream, Window, tombstone

log = logging.getLogger(__name__)

CONN_ID = "cxloop_trustpilot"
DEFAULT_BASE_URL = "https://api.trustpilot.com"
TOKEN_PATH = "v1/oauth/oauth-business-users-for-applications/accesstoken"
PAGE_SIZE = 100
DELETIONS_PATH = "v1/reviews/deletions"
DELETIONS_PAGE_SIZE = 1000
DELETIONS_OVERLAP = timedelta(days=1)
# Trustpilot began in 2007: no review on it was deleted before.
EARLIEST_DELETION_DATE = date(2007, 1, 1)
DEFAULT_EDIT_LOOKBACK = timedelta(days=30)
# Seconds before a token's expiry at which it is renewed, at most a tenth of its life (see above).
REFRESH_MARGIN = 600.0
REFRESH_MARGIN_SHARE = 0.1
# The statuses a token endpoint refuses a grant with (RFC 6749 §5.2: 400 and 401; 403 in case).
_REFUSED = (400, 401, 403)
# What to check when a sign-in is refused: every field the grant is made of, by where it is set.
_OAUTH_FIELDS = ("the API key (connection password), extra.api_secret, the business user's email "
                 "(connection login) and extra.business_user_password")


def _updated_at(review: Record) -> Any:
    # A null updatedAt means never edited: the review last changed when it was created.
    return review.get("updatedAt") or review["createdAt"]


def reviews_stream(lookback: timedelta = DEFAULT_EDIT_LOOKBACK) -> Stream:
    """The `reviews` stream, re-reading `lookback` of creation time to pick up edits."""
    return Stream(source="trustpilot", name="reviews", key=lambda r: r["id"], updated_at=_updated_at,
                  lookback=lookback)


# With the default lookback; a connection's `edit_lookback_days` gives its source its own stream.
STREAMS = (reviews_stream(),)


@dataclass(frozen=True)
class _Token:
    access: str = field(repr=False)
    refresh: str | None = field(repr=False)
    renew_at: float = math.inf  # on BusinessUserAuth's clock; inf when the lifetime was not given


def _lifetime(expires_in: Any) -> float | None:
    """`expires_in` in seconds, a string ("359999", as documented) or a number; None if unusable."""
    if isinstance(expires_in, bool):
        return None
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


class BusinessUserAuth:
    """A business user's OAuth tokens for the private endpoints, and clients that send them.

    `client()` signs in on first use and renews a token nearing its expiry; `renewed_client()`
    replaces a token the API refused. Thread-safe: readers share one token.
    """

    def __init__(self, token_client: HttpClient, api_key: str, username: str, password: str, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._token_client = token_client
        self._api_key = api_key
        self._username = username
        self._password = password
        self._clock = clock
        self._lock = threading.Lock()
        self._token: _Token | None = None
        self._client: HttpClient | None = None

    def client(self, stream: str | None = None) -> HttpClient:
        """A client for the private endpoints, its token valid for at least the margin."""
        with self._lock:
            if self._token is None or self._client is None:
                self._use(self._password_grant(stream))
            elif self._clock() >= self._token.renew_at:
                self._use(self._refreshed(stream))
            return self._client

    def renewed_client(self, refused: HttpClient, stream: str | None = None) -> HttpClient:
        """A client with a new token, after the API answered 401 to `refused`'s."""
        with self._lock:
            if self._client is refused:  # else another reader has renewed it meanwhile
                self._use(self._refreshed(stream))
            return self._client

    def _use(self, token: _Token) -> None:
        self._token = token
        self._client = HttpClient(
            "trustpilot", self._token_client.base_url, policy=self._token_client.policy, connection=CONN_ID,
            headers={"apikey": self._api_key, "Authorization": f"Bearer {token.access}"})

    def _refreshed(self, stream: str | None) -> _Token:
        refresh = self._token.refresh if self._token else None
        if refresh:
            try:
                return self._grant({"grant_type": "refresh_token", "refresh_token": refresh}, stream)
            except SourceHTTPError as exc:
                if exc.status not in _REFUSED:
                    raise
                # Expired (30 days) or already used: the password still signs in.
                log.info("trustpilot: the refresh token was refused (HTTP %s); signing in again", exc.status)
        return self._password_grant(stream)

    def _password_grant(self, stream: str | None) -> _Token:
        form = {"grant_type": "password", "username": self._username, "password": self._password}
        try:
            return self._grant(form, stream)
        except SourceHTTPError as exc:
            if exc.status not in _REFUSED:
                raise
            # The API's own words are left out: "not very elaborate" by the vendor's account, and
            # a gateway may echo what it was sent.
            raise SourceHTTPError(
                "trustpilot", stream, exc.url,
                f"connection {CONN_ID}: Trustpilot refused the business-user sign-in (password grant, "
                f"HTTP {exc.status}); check {_OAUTH_FIELDS}. The values are not shown",
                status=exc.status) from None

    def _grant(self, form: dict[str, str], stream: str | None) -> _Token:
        # Counted from the request, not the answer: a slow answer must not stretch the token's life.
        asked = self._clock()
        # The token endpoint reads only forms.
        body = self._token_client.post_form(TOKEN_PATH, form, stream=stream)
        access = body.get("access_token") if isinstance(body, dict) else None
        refresh = body.get("refresh_token") if isinstance(body, dict) else None
        masking.register(access if isinstance(access, str) else None)
        masking.register(refresh if isinstance(refresh, str) else None)
        if not isinstance(access, str) or not access:
            # The body is not shown: it may hold a refresh token.
            raise SourceHTTPError("trustpilot", stream, self._token_client.url(TOKEN_PATH),
                                  f"the token endpoint answered without an access_token; check connection {CONN_ID}")
        lifetime = _lifetime(body.get("expires_in"))
        if lifetime is None:
            # No proactive renewal then: a 401 still gets a new token.
            log.warning("trustpilot: the token answer has no usable expires_in; renewing on a 401 only")
            renew_at = math.inf
        else:
            renew_at = asked + lifetime - min(REFRESH_MARGIN, lifetime * REFRESH_MARGIN_SHARE)
        log.info("trustpilot: business-user access token obtained (%s grant)", form["grant_type"])
        return _Token(access, refresh if isinstance(refresh, str) and refresh else None, renew_at)


@dataclass
class TrustpilotSource(Source):
    client: HttpClient  # public endpoints: the `apikey` header alone
    business_unit_id: str
    auth: BusinessUserAuth
    history_start: datetime | None = None
    name: str = "trustpilot"
    streams: tuple[Stream, ...] = STREAMS

    def read(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
        if stream.name != "reviews":
            raise ValueError(f"trustpilot has no stream {stream.name!r}; streams: reviews")
        return chain(self._reviews(stream, window), self._deletions(window))

    def _reviews(self, stream: Stream, window: Window) -> Iterator[list[Record]]:
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
            body = self._get_private(path, params, stream.name)
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

    def _deletions(self, window: Window) -> Iterator[list[Record]]:
        """Tombstones of the reviews deleted from the day before the window's start to its end date."""
        start = (window.start.astimezone(UTC).date() - DELETIONS_OVERLAP if window.start is not None
                 else EARLIEST_DELETION_DATE)
        params: dict[str, Any] = {"startDate": start.isoformat(),
                                  "endDate": window.end.astimezone(UTC).date().isoformat(),
                                  "limit": DELETIONS_PAGE_SIZE}
        while True:
            body = self.client.get_json(DELETIONS_PATH, params=params, stream="reviews")
            deleted = body.get("reviews") if isinstance(body, dict) else None
            if not isinstance(deleted, list):
                raise ValueError("trustpilot.reviews: the deletions answer has no `reviews` array; "
                                 "is the base URL the Trustpilot API?")
            yield [_tombstone(entry) for entry in deleted]
            token = body.get("nextToken")
            if not token:
                return
            if token == params.get("nextToken"):
                raise ValueError("trustpilot.reviews: the deletions answer repeats the nextToken it was asked "
                                 "with; cannot page further")
            params = {**params, "nextToken": token}

    def _get_private(self, path: str, params: dict[str, Any], stream: str) -> Any:
        client = self.auth.client(stream)
        try:
            return client.get_json(path, params=params, stream=stream)
        except SourceHTTPError as exc:
            if exc.status != 401:
                raise
        # Refused before the expiry we counted: revoked, or the clocks disagree. Once more only.
        log.info("trustpilot.%s: the access token was refused (401); renewing it and retrying once", stream)
        return self.auth.renewed_client(client, stream).get_json(path, params=params, stream=stream)


def _tombstone(deletion: Any) -> Any:
    if not isinstance(deletion, dict):
        return deletion  # the loader rejects it, naming why
    # Without a reviewId the tombstone has no key, and the loader rejects it as missing one.
    key = {"id": deletion["reviewId"]} if "reviewId" in deletion else {}
    return tombstone(key, deletion.get("deletedAt"))


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
    base_url = settings.base_url(DEFAULT_BASE_URL)
    api_secret, password = _oauth_secrets(extra, settings.login)
    api_key = settings.password
    return TrustpilotSource(
        client=HttpClient("trustpilot", base_url, headers={"apikey": api_key}, policy=settings.retry,
                          connection=CONN_ID),
        business_unit_id=unit,
        auth=BusinessUserAuth(
            HttpClient("trustpilot", base_url, auth=(api_key, api_secret), policy=settings.retry,
                       connection=CONN_ID),
            api_key, settings.login, password),
        history_start=settings.history_start,
        streams=(reviews_stream(lookback),),
    )


def _oauth_secrets(extra: dict[str, Any], login: str | None) -> tuple[str, str]:
    """(API secret, business user's password) from `extra`, masked from here on; refused naming the field only."""
    values = {name: extra.get(name) for name in ("api_secret", "business_user_password")}
    for value in values.values():
        masking.register(value if isinstance(value, str) else None)
    missing = [] if login else ["the business user's email (connection login)"]
    for name, value in values.items():
        if value is None or value == "":
            missing.append(f"extra.{name}")
        elif not isinstance(value, str):
            raise ValueError(f"connection {CONN_ID}: extra.{name} must be text, got {type(value).__name__}; "
                             "the value is not shown")
        else:
            check_credential(value, CONN_ID, f"extra.{name}")
    if missing:
        fields = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
        raise ValueError(f"connection {CONN_ID}: set {fields}: the private reviews endpoint needs a business "
                         "user's OAuth token, for which Trustpilot takes the API key and secret and that user's "
                         "email and password")
    return values["api_secret"], values["business_user_password"]
