"""A loopback HTTP server around one simulated API, with faults injectable per request.

Used by `make demo` and the tests only; production code paths never import it.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit

Query = dict[str, list[str]]


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Api(Protocol):
    """A simulated API: answers one request, and can spoil one record of a page on demand."""

    name: str

    def handle(self, method: str, path: str, query: Query, headers: dict[str, str], body: bytes) -> Reply: ...

    def spoil_record(self, body: Any) -> None: ...


FaultKind = Literal["status", "reset", "slow", "malformed_page", "malformed_record", "reply", "edit", "hold"]


@dataclass
class Fault:
    """What to do instead of (or to) the next matching reply.

    status: answer `status` (429 carries `retry_after` as `Retry-After`, in whole seconds rounded
    up as the vendors send it, so 0.05 is sent as 1); reset: drop the TCP connection with no
    answer; slow: wait `delay` seconds first; malformed_page: a body that is not JSON;
    malformed_record: a normal page with one record spoiled by the API.
    Scripted by the test: reply: answer `reply` as it is (its own `Date` header replaces the
    server's); edit: answer what `edit` makes of the API's reply; hold: wait until the test sets
    `release` (at most `delay` seconds when it is above 0), then answer normally. `reached` is
    set once a request has taken the fault.
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    path_contains: str = ""
    reply: Reply | None = None
    edit: Callable[[Reply], Reply] | None = None
    release: threading.Event | None = None
    reached: threading.Event = field(default_factory=threading.Event)


@dataclass
class Seen:
    method: str
    path: str
    query: Query
    status: int
    body: bytes = b""


class Simulator:
    """Serves `api` on loopback; `requests` logs the latest `log_limit` requests, oldest first."""

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 0, *, log_limit: int = 10_000) -> None:
        self.api = api
        self.requests: list[Seen] = []
        self.log_limit = log_limit
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Simulator:
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sim-{self.api.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains in path:
                    self._faults.remove(fault)
                    return fault
        return None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)
            if len(self.requests) > self.log_limit:
                # A night at a million customers is tens of thousands of requests: keep the log
                # bounded, trimming a tenth at a time so that trimming stays cheap.
                del self.requests[:len(self.requests) - self.log_limit * 9 // 10]


def _handler_for(sim: Simulator) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one buffered write, with Nagle off: written apart, a keep-alive
        # client's delayed ACK held every reply for ~40 ms, a page costing far more than its records.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # the test and demo output stays readable; `sim.requests` keeps the log

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fault = sim._next_fault(parts.path)
            if fault:
                fault.reached.set()
            if fault and fault.kind == "reset":
                sim._record(Seen(method, parts.path, query, 0, body))
                # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            if fault and fault.kind == "slow":
                time.sleep(fault.delay)
            if fault and fault.kind == "hold" and fault.release is not None:
                fault.release.wait(fault.delay or None)
            if fault and fault.kind == "status":
                # Whole seconds, rounded up, as the vendors send it: official clients int() the header.
                headers = {"Retry-After": str(math.ceil(fault.retry_after))} if fault.retry_after is not None else {}
                reply = Reply(fault.status, {"error": f"simulated {fault.status}"}, headers)
            elif fault and fault.kind == "reply" and fault.reply is not None:
                reply = fault.reply
            else:
                reply = sim.api.handle(method, parts.path, query, dict(self.headers.items()), body)
                if fault and fault.kind == "malformed_record" and reply.status == 200:
                    sim.api.spoil_record(reply.body)
                if fault and fault.kind == "edit" and fault.edit is not None:
                    reply = fault.edit(reply)
            payload = json.dumps(reply.body, ensure_ascii=False).encode()
            if fault and fault.kind == "malformed_page":
                payload = payload[: max(1, len(payload) // 2)]
            sim._record(Seen(method, parts.path, query, reply.status, body))
            self.send_response_only(reply.status)
            self.send_header("Server", self.version_string())
            if not any(name.lower() == "date" for name in reply.headers):
                self.send_header("Date", self.date_time_string())
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            try:
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting (a held or slow reply): nobody to answer
                self.close_connection = True

    return Handler


def bearer_ok(headers: dict[str, str], token: str) -> bool:
    auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    return auth == f"Bearer {token}"


def first(query: Query, name: str, default: str | None = None) -> str | None:
    values = query.get(name)
    return values[0] if values else default


def spoil_first(body: Any, list_key: str, key_field: str) -> bool:
    """Drop `key_field` from the first record of `body[list_key]`; True if there was one to spoil."""
    records = body.get(list_key) if isinstance(body, dict) else None
    if not records:
        return False
    spoiled = dict(records[0])
    spoiled.pop(key_field, None)
    records[0] = spoiled
    return True
