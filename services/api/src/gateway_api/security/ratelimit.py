"""Rate limits: a token bucket per caller and route, one for the whole API, and one per client
address for failed authentications (so keys cannot be guessed as fast as the server answers).

Buckets are a GCRA, which is a token bucket stated in time rather than tokens: a bucket holds
``burst`` requests and refills at ``limit`` per period, with sub-second precision. In memory by
default (:class:`MemoryGcra`, throttled-py's computation without its store's layers), so each API
process counts on its own; with ``API_RATE_LIMIT_REDIS_URL`` every replica shares the buckets
through throttled-py's Redis store, one atomic Lua script per check.

Each checked request gets the IETF ``RateLimit`` headers of its tightest bucket, both the
fields most clients read (``RateLimit-Limit``, ``-Remaining``, ``-Reset``) and the current
draft's ``RateLimit-Policy``/``RateLimit``; a refused one gets 429 with ``Retry-After``.
The caller's bucket is checked first, so a caller over its own limit spends nothing of the
global one. When Redis cannot answer within its timeout the request gets 503: a limit that
silently disappears is worse than a brief refusal.

:class:`OpenStreams` is the other kind of limit: not a rate but a count, of the event streams
each caller has open in this process.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import redis.exceptions
from starlette.types import Scope
from throttled.asyncio import RateLimiterType, RedisStore, Throttled, per_duration
from throttled.asyncio.rate_limiter import BaseRateLimiter
from throttled.exceptions import BaseThrottledError
from throttled.rate_limiter import Quota, RateLimitResult, RateLimitState

from gateway_api.config import ApiSettings, parse_quota
from gateway_api.errors import RateLimited, RateLimiterUnavailable, TooManyStreams, TooManyWaits

Limiter: TypeAlias = "SharedGcra | MemoryGcra"
KEY_PREFIX = "temporal-gateway"
MEMORY_BUCKETS = 100_000
"""The in-memory store is an LRU of this many buckets: far more (caller, route) pairs than one
process serves, so an evicted (refilled) bucket is an idle one."""
BY_ID = "*"
"""The route part of the bucket for requests by workflow id, whose route is not known before
Temporal is asked."""
LISTING = "*list"
"""The route part of the bucket for ``GET /workflows`` and ``/workflows/count``, which span
routes; ``*`` keeps it apart from every route's name."""


@dataclass(frozen=True, slots=True)
class _Bucket:
    name: str
    limiter: Limiter
    burst: int
    window: int
    """Seconds for an empty bucket to refill, the ``w`` of ``RateLimit-Policy``."""
    limit_header: tuple[str, str]
    policy_header: tuple[str, str]
    """The two ``RateLimit`` headers that are the same on every answer, made once."""


STORE_ERRORS = (BaseThrottledError, redis.exceptions.RedisError, OSError)
"""What a Redis store that does not answer raises through throttled-py."""


class SharedGcra:
    """One bucket in Redis, shared by every replica: throttled-py's limiter for the quota,
    called directly (the ``Throttled`` around it adds waiting and hooks, which these checks
    never use), with a store that does not answer reported as
    :class:`~gateway_api.errors.RateLimiterUnavailable`."""

    def __init__(self, limiter: BaseRateLimiter) -> None:
        self._limiter = limiter

    async def limit(self, key: str) -> RateLimitResult:
        try:
            return await self._limiter.limit(key)
        except STORE_ERRORS as exc:
            raise RateLimiterUnavailable("the rate limit store did not answer") from exc

    async def peek(self, key: str) -> RateLimitState:
        try:
            return await self._limiter.peek(key)
        except STORE_ERRORS as exc:
            raise RateLimiterUnavailable("the rate limit store did not answer") from exc


class MemoryGcra:
    """One bucket in this process's memory: throttled-py's GCRA, computed as its memory store
    computes it (a test holds the two to the same answers), without the store's lock, key
    formatting and layers, which cost 25 to 30 µs a call in place, on every request.

    ``tats`` (each bucket's theoretical arrival time, by key) is shared by the buckets of one
    process and holds at most :data:`MEMORY_BUCKETS`, the least recently spent forgotten first:
    a forgotten bucket is a full one, as an idle bucket is.
    """

    def __init__(
        self,
        name: str,
        quota: Quota,
        tats: OrderedDict[tuple[str, str], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._interval = quota.emission_interval
        self._capacity = quota.burst
        self._tats = tats
        self._clock = clock

    async def limit(self, key: str) -> RateLimitResult:
        now, interval, capacity = self._clock(), self._interval, self._capacity
        slot = (self._name, key)
        last = max(now, self._tats.get(slot, now))
        since = now - last  # zero or negative: how far the bucket is drawn ahead
        remaining = capacity - 1 + math.floor(since / interval)
        if remaining < 0:
            retry_after = abs(since + (capacity - 1) * interval)
            return RateLimitResult(True, (capacity, min(capacity, remaining + 1),
                                          max(0.0, last - now), retry_after))  # fmt: skip
        tat = last + interval
        self._tats[slot] = tat
        self._tats.move_to_end(slot)
        if len(self._tats) > MEMORY_BUCKETS:
            self._tats.popitem(last=False)
        return RateLimitResult(False, (capacity, remaining, tat - now, 0.0))

    async def peek(self, key: str) -> RateLimitState:
        now, interval, capacity = self._clock(), self._interval, self._capacity
        tat = self._tats.get((self._name, key), now)
        since = now - max(now, tat)
        remaining = capacity + math.floor(since / interval)
        if remaining < 1:
            return RateLimitState(
                capacity, 0, max(0.0, tat - now), abs(since + capacity * interval)
            )
        return RateLimitState(capacity, remaining, max(0.0, tat - now), 0.0)


def _bucket(
    name: str, quota: str, store: RedisStore | OrderedDict[tuple[str, str], float]
) -> _Bucket | None:
    parsed = parse_quota(quota)
    if parsed is None:
        return None
    limit, period, burst = parsed
    rates = per_duration(period, limit, burst)
    limiter: Limiter
    if isinstance(store, RedisStore):
        limiter = SharedGcra(
            Throttled(
                using=RateLimiterType.GCRA.value, quota=rates, store=store, key_prefix=KEY_PREFIX
            ).limiter
        )
    else:
        limiter = MemoryGcra(name, rates, store)
    window = max(1, math.ceil(burst * period.total_seconds() / limit))
    return _Bucket(
        name, limiter, burst, window, limit_header=("RateLimit-Limit", str(burst)),
        policy_header=("RateLimit-Policy", f'"{name}";q={burst};w={window}'),
    )  # fmt: skip


class RateLimiter:
    def __init__(self, settings: ApiSettings) -> None:
        url = settings.rate_limit_redis_url
        store: RedisStore | OrderedDict[tuple[str, str], float]
        if url is None:
            store = OrderedDict()
        else:
            timeout = settings.rate_limit_redis_timeout_seconds
            store = RedisStore(
                server=url.get_secret_value(),
                options={"SOCKET_TIMEOUT": timeout, "SOCKET_CONNECT_TIMEOUT": timeout},
            )
        self._caller = _bucket("caller", settings.rate_limit, store)
        self._global = _bucket("global", settings.rate_limit_global, store)
        self._failures = _bucket("auth-failures", settings.rate_limit_auth_failures, store)

    async def refuse_if_failing(self, address: str) -> None:
        """Before credentials are checked: refuse an address whose failed authentications
        used up its bucket. Checked before, not after, so that while an address is refused a
        right guess gets the same 429 as a wrong one.

        Raises:
            RateLimited: the address failed too often; ``retry_after`` says when it may try.
            RateLimiterUnavailable: the shared store did not answer.
        """
        bucket = self._failures
        if bucket is None:
            return
        state = await bucket.limiter.peek(f"auth-failures|{address}")
        if state.remaining < 1:
            retry = max(1, math.ceil(state.retry_after or bucket.window / bucket.burst))
            raise RateLimited(
                f"too many failed authentications from this address; retry in {retry} s",
                retry_after=retry,
            )

    async def failed(self, address: str) -> None:
        """Spend a token of ``address``'s failed-authentication bucket."""
        if self._failures is not None:
            await self._failures.limiter.limit(f"auth-failures|{address}")

    async def check(self, principal: str, route: str) -> list[tuple[str, str]]:
        """Take one token from the caller's bucket for ``route`` and one from the global
        bucket; the headers to send.

        Raises:
            RateLimited: a bucket is empty (``retry_after`` says when it has a token again).
            RateLimiterUnavailable: the shared store did not answer.
        """
        tightest: tuple[_Bucket, int, float] | None = None
        for bucket, key in ((self._caller, f"{principal}|{route}"), (self._global, "all")):
            if bucket is None:
                continue
            result = await bucket.limiter.limit(key)
            state = result.state
            if result.limited:
                retry = max(1, math.ceil(state.retry_after))
                raise RateLimited(
                    f"the {bucket.name} rate limit ({bucket.burst} per {bucket.window} s) is "
                    f"used up; retry in {retry} s",
                    retry_after=retry,
                    headers=_headers(bucket, 0, state.reset_after),
                )
            if tightest is None or state.remaining < tightest[1]:
                tightest = (bucket, state.remaining, state.reset_after)
        return [] if tightest is None else _headers(*tightest)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The address a request comes from: the peer's, or, when the peer is a trusted proxy, the
    nearest address in ``X-Forwarded-For`` that is not one (read from the right, since each
    proxy appends what it saw and only the trusted ones' entries can be believed)."""
    peer: str = (scope.get("client") or ("unknown", 0))[0]
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops: list[str] = [
        hop.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return peer


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # garbage in X-Forwarded-For is where the trusted chain ends
    return any(ip in network for network in trusted)


def _headers(bucket: _Bucket, remaining: int, reset_after: float) -> list[tuple[str, str]]:
    left, reset = str(remaining), str(math.ceil(reset_after))
    return [
        bucket.limit_header,
        ("RateLimit-Remaining", left),
        ("RateLimit-Reset", reset),
        bucket.policy_header,
        ("RateLimit", f'"{bucket.name}";r={left};t={reset}'),
    ]


class InFlight:
    """How many long-lived requests of one kind each caller has open in this process (a rate
    limit counts requests, not requests held open).

    A count in memory, not in Redis: such a request lives in one process, and a count left
    behind by a replica that died would lock its callers out until someone cleaned it up.
    """

    what = "requests"
    problem: type[TooManyStreams | TooManyWaits]

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def open(self, principal: str) -> None:
        """Count one more for ``principal``.

        Raises:
            TooManyStreams, TooManyWaits: ``principal`` already has ``limit`` open.
        """
        count = self._open.get(principal, 0)
        if count >= self.limit:
            raise self.problem(
                f"{principal} already has {count} {self.what} open (at most {self.limit}); "
                "wait for one to end"
            )
        self._open[principal] = count + 1

    def close(self, principal: str) -> None:
        count = self._open.get(principal, 0) - 1
        if count > 0:
            self._open[principal] = count
        else:
            self._open.pop(principal, None)

    def count(self, principal: str) -> int:
        return self._open.get(principal, 0)

    @contextlib.contextmanager
    def holding(self, principal: str) -> Iterator[None]:
        """One of ``principal``'s, for the block."""
        self.open(principal)
        try:
            yield
        finally:
            self.close(principal)


class OpenStreams(InFlight):
    """``/events`` streams (``API_EVENTS_MAX_STREAMS`` per caller)."""

    what, problem = "event streams", TooManyStreams


class OpenWaits(InFlight):
    """Requests waiting for a workflow's or an update's answer (a synchronous start, a result
    with ``wait``, an update): ``API_MAX_WAITS_PER_CALLER`` per caller, so one caller's waits
    cannot hold every connection the API has."""

    what, problem = "waits for an answer", TooManyWaits
