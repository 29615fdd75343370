"""The one HTTP client every connector uses.

Retry policy, written once: 5xx, connection resets, timeouts and unparseable bodies are retried
with exponential backoff and jitter; a 429 waits what the API says (`Retry-After` in seconds or
as an HTTP-date, or a rate-limit reset header) before the next try, but never longer than the
policy's `max_wait` (a daily quota can answer "come back tomorrow": the task fails after its
attempts instead of sleeping for a day); after `max_attempts` a `SourceHTTPError` names the
source, stream and URL. Any other 4xx fails at once; a 401 or 403 names the connection whose
credentials to check.

Ids from a connection or a record go into a URL path through `path_segment`: percent-encoded
whole, so that a `/`, `?`, `#` or `%` in one stays inside its segment and cannot change the path.

Bodies go out as JSON, or form-encoded (`post_form`) for the OAuth token endpoints that read
only forms; either way the answer is JSON and the policy above applies alike.

Credentials travel only in headers or in a sign-in form, and never in an error: URLs are
stripped of query values that look like secrets, the header values are registered with
`ingest.masking` (a form's secret fields are registered by its connector, which knows which
they are: masking every value would mask the `password` of `grant_type=password` everywhere),
no request body is quoted, and an error that requests raises while sending is re-raised as a
`SourceHTTPError` without its message or its chain, because requests words some of them with
the offending header's value.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from ingest import masking

log = logging.getLogger(__name__)

_SECRET_PARAMS = {"apikey", "api_key", "token", "access_token", "key", "password", "secret"}
# Header names a 429 may carry, in the order we trust them; values are seconds to wait.
_WAIT_HEADERS = ("Retry-After", "ratelimit-reset", "X-RateLimit-Reset-After")
# Errors while sending or receiving that the next attempt may not meet.
_TRANSIENT = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def redact_url(url: str) -> str:
    """`url` as an error may show it: no user or password, secret-looking query values masked."""
    parts = urlsplit(url)
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in parse_qsl(parts.query, True)]
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 address keeps its brackets
        netloc = f"[{netloc}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit(parts._replace(query=urlencode(query, safe="*[]"), netloc=netloc))


# Segments a URL resolves as a move (`..`) or as nothing (`.`, empty) however they are encoded:
# `quote` leaves dots alone, and both urljoin and urllib3 remove dot segments.
_UNQUOTABLE_SEGMENTS = ("", ".", "..")


def path_segment(value: Any) -> str:
    """`value` as one URL path segment, every reserved character (`/`, `?`, `#`, `%`) percent-encoded.

    ValueError for a value no encoding keeps in its place (empty, `.` or `..`), or that is not
    text a URL can carry (a lone surrogate): a connector's check of its connection names it first.
    """
    text = str(value)
    if text in _UNQUOTABLE_SEGMENTS:
        raise ValueError(f"{text!r} cannot be a URL path segment: the URL would resolve it away")
    try:
        return quote(text, safe="")
    except UnicodeEncodeError:
        raise ValueError(f"{text!r} cannot be a URL path segment: it is not valid Unicode text") from None


class SourceHTTPError(RuntimeError):
    """A request that failed for good; the message is safe to log.

    `status` is the HTTP status of a refused request, None when no answer decided the failure
    (the request could not be sent, or the retries ran out).
    """

    def __init__(self, source: str, stream: str | None, url: str, detail: str, *, status: int | None = None) -> None:
        where = f"{source}.{stream}" if stream else source
        super().__init__(masking.redact(f"{where}: {detail} ({redact_url(url)})"))
        self.source, self.stream, self.url, self.status = source, stream, redact_url(url), status


class _Retryable(Exception):
    def __init__(self, detail: str, wait: float | None = None) -> None:
        super().__init__(detail)
        self.detail, self.wait = detail, wait


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 1.0
    timeout: tuple[float, float] = (10.0, 60.0)  # (connect, read) seconds
    # The longest single wait, whatever a 429 asks for: the longest documented rate-limit window
    # of our sources is Trustpilot's five minutes.
    max_wait: float = 300.0

    @classmethod
    def from_extra(cls, settings: Mapping[str, Any] | None) -> RetryPolicy:
        """Overrides from a connection's `extra.retry` (e.g. `{"max_attempts": 3}`)."""
        settings = dict(settings or {})
        unknown = set(settings) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown retry settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        if "timeout" in settings:
            settings["timeout"] = tuple(settings["timeout"])
        return cls(**settings)

    def wait_for(self, asked: float | None, attempt: int) -> float:
        """Seconds before attempt `attempt + 1`: what the API `asked`, else backoff; at most `max_wait`."""
        if asked is None:
            asked = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1)) + random.uniform(0, self.jitter)
        return min(asked, self.max_wait)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _retry_after_seconds(response: requests.Response) -> float | None:
    """Seconds the API asks to wait: a number of seconds, or an HTTP-date.

    An HTTP-date is counted from the response's own `Date` (the server's clock, so a skew
    between its clock and ours does not stretch or cut the wait), or from our clock without one.
    """
    for name in _WAIT_HEADERS:
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        until = _http_date(value)
        if until is None:
            continue
        now = _http_date(response.headers.get("Date")) or datetime.now(UTC)
        return max(0.0, (until - now).total_seconds())
    return None


def _unsent(exc: Exception) -> _Retryable | str:
    """What to say about an error raised while sending: retry it, or this detail (no message of its own)."""
    if isinstance(exc, requests.Timeout):
        return _Retryable("timed out")
    if isinstance(exc, _TRANSIENT):
        return _Retryable(f"connection failed: {type(exc).__name__}")
    if isinstance(exc, requests.exceptions.InvalidHeader | UnicodeError):
        return (f"the request could not be sent ({type(exc).__name__}): a header value is malformed; "
                "check the credentials of the connection")
    return f"the request could not be sent ({type(exc).__name__})"


def _with_query(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params, doseq=True)}"


def _register_credentials(headers: Mapping[str, str], auth: tuple[str, str] | None) -> None:
    # Every header a connector sets is one of its credentials (Authorization, apikey).
    for value in headers.values():
        masking.register(value)
    if auth is not None:
        login, password = auth
        masking.register(password)
        masking.register(base64.b64encode(f"{login}:{password}".encode("latin-1", "replace")).decode())


class HttpClient:
    """JSON over HTTP for one source, with the retry policy above."""

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        connection: str | None = None,
    ) -> None:
        self.source = source
        # The Airflow connection the credentials come from, named when the API refuses them.
        self.connection = connection
        self.base_url = base_url.rstrip("/") + "/"
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        _register_credentials(headers or {}, auth)
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "User-Agent": "cxloop"})
        self._session.headers.update(headers or {})
        self._session.auth = auth

    def url(self, path_or_url: str) -> str:
        return urljoin(self.base_url, path_or_url.lstrip("/")) if "://" not in path_or_url else path_or_url

    def get_json(self, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                 stream: str | None = None) -> Any:
        return self.request_json("GET", path_or_url, params=params, stream=stream)

    def post_json(self, path_or_url: str, body: Any, *, stream: str | None = None,
                  headers: Mapping[str, str] | None = None) -> Any:
        return self.request_json("POST", path_or_url, json_body=body, stream=stream, headers=headers)

    def post_form(self, path_or_url: str, form: Mapping[str, str], *, stream: str | None = None) -> Any:
        """POST `form` as `application/x-www-form-urlencoded`; the answer is read as JSON."""
        return self.request_json("POST", path_or_url, form_body=form, stream=stream)

    def request_json(self, method: str, path_or_url: str, *, params: Mapping[str, Any] | None = None,
                     json_body: Any = None, form_body: Mapping[str, str] | None = None,
                     stream: str | None = None, headers: Mapping[str, str] | None = None) -> Any:
        if json_body is not None and form_body is not None:
            raise ValueError("a request has one body: give json_body or form_body, not both")
        # requests' own keyword for each kind of body; it sets the Content-Type to match.
        body: dict[str, Any] = {"data": form_body} if form_body is not None else {"json": json_body}
        if headers:
            body["headers"] = dict(headers)
        url = self.url(path_or_url)
        # What messages show: the URL with its query, which says which page failed (redacted when shown).
        shown = _with_query(url, params)
        policy = self.policy

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            asked = exc.wait if isinstance(exc, _Retryable) else None
            if asked is not None and asked > policy.max_wait:
                log.warning("%s.%s: the API asks to wait %.0fs; waiting the policy's max_wait, %.0fs",
                            self.source, stream or "-", asked, policy.max_wait)
            return policy.wait_for(asked, state.attempt_number)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s.%s: %s; retry %d/%d in %.1fs (%s)", self.source, stream or "-",
                        getattr(exc, "detail", exc), state.attempt_number, policy.max_attempts - 1,
                        state.next_action.sleep if state.next_action else 0.0, redact_url(shown))

        retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, method, url, params, body, stream)
        except _Retryable as exc:
            detail = exc.detail
        raise SourceHTTPError(self.source, stream, shown, f"gave up after {policy.max_attempts} attempts: {detail}")

    def _attempt(self, method: str, url: str, params: Mapping[str, Any] | None, body: Mapping[str, Any],
                 stream: str | None) -> Any:
        response = self._send(method, url, params, body, stream)
        status = response.status_code
        if status == 429:
            raise _Retryable("rate limited (429)", wait=_retry_after_seconds(response))
        if status >= 500:
            raise _Retryable(f"server error {status}")
        if status >= 400:
            # A client error will not fix itself: fail now with what the API said.
            raise SourceHTTPError(self.source, stream, response.url,
                                  f"HTTP {status}: {response.text[:300].strip()}{self._refused_hint(status)}",
                                  status=status)
        try:
            return response.json()
        except (json.JSONDecodeError, requests.JSONDecodeError):
            raise _Retryable("response body is not valid JSON") from None

    def _refused_hint(self, status: int) -> str:
        if status not in (401, 403) or self.connection is None:
            return ""
        what = "credentials were refused" if status == 401 else "credentials lack access to this resource"
        return f"; the {what}: check connection {self.connection}"

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None, body: Mapping[str, Any],
              stream: str | None) -> requests.Response:
        try:
            return self._session.request(method, url, params=params, timeout=self.policy.timeout, **body)
        except Exception as exc:  # every error, not only requests': a non-latin-1 header raises UnicodeError
            failure = _unsent(exc)
        # Raised outside the `except` block, so the new error has no context: the original's
        # message (and the header value in it) is in no traceback.
        if isinstance(failure, _Retryable):
            raise failure
        raise SourceHTTPError(self.source, stream, _with_query(url, params), failure)
