"""The HTTP server: uvicorn with uvloop and httptools, guarded against slow clients.

uvicorn bounds a connection only while it is idle between requests (``timeout_keep_alive``);
a client that sends part of a request line or headers, or a body one byte at a time, holds its
connection (and a file descriptor) for as long as it likes, and enough of them exhaust the
process's open files. :func:`guarded_protocol` subclasses uvicorn's httptools protocol with the
three bounds it lacks, each enforced on the event loop without a task per connection:

- a header deadline: from the connection's first moment (and from the first byte of each later
  request on a kept-alive connection) until the end of the headers; past it the connection gets
  ``408`` and is closed;
- a body deadline: from the end of the headers until the whole body has arrived; past it the
  connection is closed, and the handler waiting for the body sees a disconnect;
- a bound on open connections: one more is answered ``503`` and closed at once, so an attacker
  reaches this bound, not the open-file limit, and the probes keep answering below it.

Each of these is logged at most once per :data:`LOG_INTERVAL_SECONDS` with the count since the
last line, so an attack cannot grow the log. It hooks httptools' parser callbacks
(``on_message_begin``, ``on_headers_complete``, ``on_message_complete``), which uvicorn's
protocol has had unchanged for years; the slow-client e2e test fails if that changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway_api.errors import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    ApiError,
    MalformedRequest,
    RequestTimeout,
)
from gateway_api.http.security_headers import API_CSP, STATIC_HEADERS

log = structlog.get_logger(__name__)

LOG_INTERVAL_SECONDS = 10.0


def _problem_response(problem: ApiError) -> bytes:
    """A complete HTTP/1.1 answer the server writes itself (the app never saw the request):
    problem+json, with the security headers every app response has, and the connection
    closed."""
    status, phrase = problem.status, problem.title
    body = json.dumps({
        "type": PROBLEM_BASE + problem.code, "title": phrase, "status": status,
        "code": problem.code, "detail": problem.detail,
    }).encode()  # fmt: skip
    headers = [
        *STATIC_HEADERS,
        ("Content-Security-Policy", API_CSP),
        ("Cache-Control", "no-store"),
        ("Content-Type", PROBLEM_JSON),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    head = f"HTTP/1.1 {status} {phrase}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    return head.encode("latin-1") + b"\r\n" + body


_TIMEOUT_408 = _problem_response(RequestTimeout("the request headers did not arrive in time"))
_MALFORMED_400 = _problem_response(MalformedRequest("the request is not valid HTTP/1.1"))
_BUSY_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nretry-after: 1\r\n"
    b"connection: close\r\n\r\n"
)
# Descriptors the process needs besides client connections: Temporal, metrics, logs, files.
_RESERVED_FILES = 256


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_connections: int


class _Throttled:
    """One log line per interval for a repeated event, with how many happened meanwhile."""

    def __init__(self, event: str) -> None:
        self.event = event
        self.count = 0
        self.last = -LOG_INTERVAL_SECONDS

    def note(self, **fields: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= LOG_INTERVAL_SECONDS:
            log.warning(self.event, count=self.count, **fields)
            self.count = 0
            self.last = now


class OncePerInterval(logging.Filter):
    """Lets a logger's record through at most once per interval per message template: for
    asyncio's "socket.accept() out of system resource", logged on every failed accept."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self.last: dict[object, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.last.get(record.msg, -self.interval) < self.interval:
            return False
        self.last[record.msg] = now
        return True


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with header and body deadlines and a connection bound."""
    refused = _Throttled("connection refused: too many open connections")
    slow_headers = _Throttled("connection closed: request headers too slow")
    slow_body = _Throttled("connection closed: request body too slow")

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                refused.note(max_connections=limits.max_connections)
                transport.write(_BUSY_503)
                transport.close()
                return
            self._arm(limits.header_timeout, self._headers_too_slow)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:  # the next request on a kept-alive connection
                self._arm(limits.header_timeout, self._headers_too_slow)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()
            self._arm(limits.body_timeout, self._body_too_slow)

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def _arm(self, seconds: float, callback: Any) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, callback)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def send_400_response(self, msg: str) -> None:
            # uvicorn's own is plain text without the security headers, and its message comes
            # from the parser: keep the parser's internals out of the answer.
            self.transport.write(_MALFORMED_400)
            self.transport.close()

        def _headers_too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                slow_headers.note(timeout_seconds=limits.header_timeout)
                self.transport.write(_TIMEOUT_408)
                self.transport.close()

        def _body_too_slow(self) -> None:
            # The handler is waiting for the body: it sees a disconnect, and nothing more can
            # be sent on this connection.
            self._deadline = None
            if not self.transport.is_closing():
                slow_body.note(timeout_seconds=limits.body_timeout)
                self.transport.close()

    return GuardedHttpToolsProtocol


def bounded_connections(wanted: int) -> int:
    """Raise the soft open-file limit to the hard one, and keep ``wanted`` below it, so the
    connection bound is reached before the process runs out of descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted + _RESERVED_FILES)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    allowed = max(1, soft - _RESERVED_FILES)
    if wanted > allowed:
        log.warning(
            "connection bound lowered to fit the open-file limit",
            wanted=wanted,
            max_connections=allowed,
            open_files_limit=soft,
        )
        return allowed
    return wanted
