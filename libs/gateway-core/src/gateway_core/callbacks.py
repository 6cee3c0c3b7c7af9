"""Completion webhooks: the contract between the API (which accepts a callback with a start) and
the worker (whose ``CallbackDelivery`` workflow delivers it), and the destination policy both
enforce.

A callback URL is checked twice, because server-side request forgery is this feature's main
risk: by the API when the caller asks (against the route's allowlist, then by resolving the host
and refusing private, loopback, link-local, multicast and unspecified addresses unless the route
opts in), and by the worker before every attempt, against the route's ``callbacks`` block as it
is then (the route may have been deleted, its block turned off, its allowlist narrowed; DNS may
have changed; the worker connects to the address it checked). Both use :func:`check_url` and
:func:`resolve_checked` from here.

Standard library only: the workflow module imports the dataclasses (through the sandbox's
pass-through), so nothing here may do I/O at import time.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from gateway_core.errors import GatewayError

CALLBACK_WORKFLOW = "CallbackDelivery"
"""The delivery workflow's type name."""
DEFAULT_TASK_QUEUE = "temporal-gateway-callbacks"
"""The gateway's own queue: deliveries do not compete with (or depend on) the routes' workers."""
STATE_QUERY = "state"
REDELIVER_UPDATE = "redeliver"
CALLBACK_BUSY = "CallbackBusy"
"""The error type of a refused redelivery that waiting will not help: nothing to send yet,
already sending, or redelivered as often as allowed."""
REDELIVERY_TOO_SOON = "RedeliveryTooSoon"
"""The error type of a redelivery refused for coming too soon after the last; its details are
``{"retry_after_seconds": n}``."""
MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


class Outcome(StrEnum):
    """How a workflow closed; a caller may ask for a callback on some of them only."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"


class DeliveryStatus(StrEnum):
    """Where a callback is (the ``state`` of ``GET /workflows/{id}/callbacks``)."""

    WAITING = "waiting"
    """The workflow still runs."""
    DELIVERING = "delivering"
    """An attempt runs, or the next one is scheduled."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Gave up: a permanent refusal (3xx, most 4xx, a refused address) or out of time."""
    SKIPPED = "skipped"
    """The workflow closed with an outcome the caller did not ask to hear about."""


def delivery_workflow_id(workflow_id: str, run_id: str) -> str:
    """The delivery workflow's id: one per run of the target, so a repeated start (an
    idempotent retry) finds the first delivery instead of starting a second. Gateway ids never
    contain ``/``, so this id can never be mistaken for (or addressed as) a route's workflow."""
    return f"callback/{workflow_id}/{run_id}"


def webhook_id(delivery_id: str) -> str:
    """The ``webhook-id`` of every attempt of one delivery (and of its redeliveries), so
    receivers can de-duplicate."""
    return "msg_" + hashlib.sha256(delivery_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RetrySchedule:
    """Exponential backoff within a bounded total time (the API's ``callback_retry_*``)."""

    initial_seconds: float = 5.0
    backoff: float = 2.0
    max_interval_seconds: float = 600.0
    max_total_seconds: float = 86400.0
    attempt_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class CallbackRequest:
    """The delivery workflow's input, written by the API after it checked the callback."""

    workflow_id: str
    run_id: str
    route: str
    url: str
    outcomes: list[Outcome]
    signing_secret: str
    allow_private_networks: bool
    retry: RetrySchedule = field(default_factory=RetrySchedule)
    redeliver_window_seconds: float = 7 * 86400.0
    close_poll_seconds: float = 300.0
    """How long one wait for the close runs before the workflow starts another (each is an
    activity heartbeating meanwhile; a long-lived target gets many)."""
    codec: str | None = None
    """The route's payload codec, a name in the worker's ``WORKER_CODECS``: the result (and a
    failure's encoded message) stays encoded in the delivery's history and is decoded only
    for each attempt's body, which is never stored. None: plain payloads."""
    max_redeliveries: int = 20
    """How many redeliveries the delivery accepts in all (the API's
    ``callback_max_redeliveries``); a delivery registered before there was a cap gets this."""
    redeliver_min_interval_seconds: float = 60.0
    """How long after one redelivery the next is accepted (the API's
    ``callback_redeliver_min_interval_seconds``)."""
    carried: Carried | None = None
    """Set when the delivery continued as new after its target closed: what it had so far."""


@dataclass(frozen=True)
class Closed:
    """How the target closed: the delivery's ``data``."""

    workflow_id: str
    run_id: str
    outcome: Outcome
    start_time: str | None
    close_time: str | None
    result: Any = None
    failure: dict[str, Any] | None = None
    """How it failed (:func:`gateway_core.failures.describe`), unless it completed."""
    result_type: str | None = None
    """A protobuf result's message type (its JSON is ``result``)."""
    encoded_result: str | None = None
    """With a codec: the result as Temporal stores it (base64 of the ``Payloads``), and
    ``result`` None."""
    encoded_failure: str | None = None
    """With a codec that encoded the failure's message: the ``Failure`` as Temporal stores it
    (base64), and ``failure["message"]`` what the SDK put in its place."""


@dataclass(frozen=True)
class AwaitClose:
    workflow_id: str
    run_id: str
    poll_seconds: float
    codec: str | None = None
    """Set: keep the result encoded (:attr:`Closed.encoded_result`)."""


@dataclass(frozen=True)
class DeliveryAttempt:
    """One delivery activity's input."""

    url: str
    webhook_id: str
    payload: dict[str, Any]
    signing_secret: str
    allow_private_networks: bool
    timeout_seconds: float
    route: str
    outcome: Outcome
    codec: str | None = None
    """The codec that opens ``encoded_result`` and ``encoded_failure`` into the body's
    ``data.result`` and ``data.failure.message`` (:attr:`CallbackRequest.codec`)."""
    encoded_result: str | None = None
    encoded_failure: str | None = None
    workflow_id: str = ""
    """The target's id: the route that owns it (by id prefix, as the API finds it) is looked up
    in the worker's route table before each attempt, and its ``callbacks`` block as it is then
    decides, not ``signing_secret`` and ``allow_private_networks`` (those the route had when the
    callback was asked for, kept for the record)."""


@dataclass(frozen=True)
class AttemptResult:
    """One attempt: delivered (a 2xx), or why not and whether trying again may help."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = True
    address: str | None = None
    """The address connected to (after the checks)."""
    excerpt: str | None = None
    """The start of the receiver's answer (at most a few hundred characters, never decoded)."""


@dataclass
class Attempt:
    number: int
    at: str
    delivered: bool
    status_code: int | None
    error: str | None
    excerpt: str | None = None
    """The start of the receiver's answer, when it gave one."""


@dataclass
class DeliveryState:
    """The delivery workflow's state, answered by its ``state`` query."""

    status: DeliveryStatus
    webhook_id: str
    url: str
    route: str
    workflow_id: str
    run_id: str
    outcomes: list[Outcome]
    outcome: Outcome | None = None
    attempt_count: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    """The most recent attempts (at most :data:`KEPT_ATTEMPTS`), oldest first."""
    last_error: str | None = None
    next_attempt_at: str | None = None
    delivered_at: str | None = None
    redeliveries: int = 0
    last_redelivered_at: str | None = None
    """When the last redelivery was accepted: the next is accepted
    ``redeliver_min_interval_seconds`` later."""


@dataclass(frozen=True)
class Carried:
    """What a delivery hands the run it continues as new with, once its target has closed, so
    that continuing changes nothing a caller sees: the close (the same body), the state (its
    attempts and counters, which the ``state`` query answers from), and the end of the
    redelivery window, which continuing does not move."""

    closed: Closed
    state: DeliveryState
    window_ends_at: str
    redeliver: bool = False
    """A redelivery accepted but not yet begun."""


KEPT_ATTEMPTS = 50


# -- destination policy ---------------------------------------------------------------------


class CallbackRefused(GatewayError):
    """A callback URL the policy refuses; ``reason`` says why (safe to show the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = rf"(?:{_LABEL}\.)*{_LABEL}"
_PATTERN = re.compile(
    rf"^(?P<scheme>https?)://(?P<host>\*\.{_HOST}|{_HOST}|\[[0-9a-f:.]+\])(?::(?P<port>\*|\d{{1,5}}))?$"
)


@dataclass(frozen=True, slots=True)
class OriginPattern:
    """``scheme://host[:port]``: ``*.example.com`` matches any name below example.com (not
    example.com itself), port ``*`` any port; no port means the scheme's default."""

    scheme: str
    host: str
    port: int | None
    """None: any port."""

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def parse_origin_pattern(text: str) -> OriginPattern:
    """
    Raises:
        ValueError: not ``http(s)://host[:port]`` (lower case, no path, ``*.`` only in front).
    """
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"{text!r}: use scheme://host[:port], e.g. https://hooks.example.com, "
            "https://*.example.com or http://127.0.0.1:* (lower case, no path)"
        )
    port = match["port"]
    scheme = match["scheme"]
    parsed = None if port == "*" else int(port) if port else DEFAULT_PORTS[scheme]
    return OriginPattern(scheme, match["host"].strip("[]"), parsed)


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked callback URL, split for connecting."""

    url: str
    scheme: str
    host: str
    port: int


def check_url(url: str, patterns: Iterable[OriginPattern], *, allow_http: bool) -> Destination:
    """The URL's parts when the route's allowlist admits it.

    Raises:
        CallbackRefused: malformed, credentials in it, plain http where only https is allowed,
            or no pattern matches.
    """
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise CallbackRefused("must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("must not carry credentials")
    if parts.fragment:
        raise CallbackRefused("must not have a fragment")
    if scheme == "http" and not allow_http:
        raise CallbackRefused("must use https (plain http only in development)")
    host = parts.hostname.lower().rstrip(".")
    if not host.isascii():
        raise CallbackRefused("the host must be ASCII (IDNA-encoded)")
    port = port or DEFAULT_PORTS[scheme]
    if not any(p.matches(scheme, host, port) for p in patterns):
        raise CallbackRefused(f"{scheme}://{host}:{port} is not an allowed callback destination")
    return Destination(url, scheme, host, port)


REFUSED_ADDRESS = (
    "an address callbacks may not reach (private, loopback, link-local, multicast or "
    "otherwise not global)"
)
"""What a refusal says of the address: never which one, nor of which kind, since the caller
chose the name and would learn what it resolves to inside the network (an oracle for the DNS
behind a wildcard allowlist)."""


def refused_address(address: str, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be called, or None: for logs and tests, not for callers (see
    :data:`REFUSED_ADDRESS`). Unspecified and multicast addresses are never called; private,
    loopback, link-local and other non-global ones only with the route's
    ``allowPrivateNetworks``."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one reaches that IPv4 address, so it is judged
        # as it: IPv4-mapped (::ffff:a.b.c.d), and 6to4 (2002:AABB:CCDD::/48, relayed to
        # a.b.c.d), which the ipaddress module of Python 3.11 calls global whatever it wraps.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is an unspecified or multicast address"
    if not allow_private and (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or not ip.is_global
    ):
        return f"{ip} is a private, loopback or link-local address (not allowed by the route)"
    return None


async def resolve_checked(
    host: str, port: int, *, allow_private: bool, within: float = 5.0
) -> Sequence[str]:
    """The host's addresses, every one of them allowed (one bad address refuses the host, so
    a name cannot mix a public and a private address to slip through).

    Raises:
        CallbackRefused: the name does not resolve, or an address is refused.
    """
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP),
            within,
        )
    except (OSError, TimeoutError):
        # The resolver's own words (NXDOMAIN, SERVFAIL, a timeout) would say more of the
        # internal DNS than the caller needs.
        raise CallbackRefused(f"{host} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise CallbackRefused(f"{host} does not resolve")
    for address in addresses:
        if refused_address(address.split("%", 1)[0], allow_private=allow_private) is not None:
            raise CallbackRefused(f"{host} resolves to {REFUSED_ADDRESS}")
    return addresses
