"""The delivery workflow's activities: wait for the target to close, and make one attempt.

``await_close`` long-polls Temporal for the target's close event (following continue-as-new),
heartbeating meanwhile, and gives up after ``poll_seconds`` so the workflow decides what next.
``deliver`` makes exactly one HTTP attempt and reports it, success or not, so the workflow can
record every attempt. First it checks the attempt against the route's ``callbacks`` block as the
worker's route table has it now (the same files the API serves, ``WORKER_ROUTES_PATH``), not as
it was when the callback was asked for: a route deleted, its block turned off, its allowlist
narrowed or private networks forbidden since then refuses the attempt. Then it resolves the
host, checks every address, and connects to the address it checked (the host's name goes into
``Host`` and the TLS SNI, so certificates are verified against it), never through a proxy, and
never follows a redirect.

With a route's payload codec, ``await_close`` returns the result as Temporal stores it, and
``deliver`` decodes it with the worker's converter for that codec name (``WORKER_CODECS``) into
the body it sends: the plaintext exists only in the attempt's memory. A codec that cannot
decode (unreachable, not configured) is a failed attempt the workflow retries.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from temporalio import activity
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistoryEventFilterType
from temporalio.common import MetricCounter, RawValue
from temporalio.converter import DataConverter

from gateway_core.callbacks import (
    DEFAULT_PORTS,
    AttemptResult,
    AwaitClose,
    CallbackRefused,
    Closed,
    DeliveryAttempt,
    Outcome,
    check_url,
    parse_origin_pattern,
    resolve_checked,
)
from gateway_core.codecs import CodecError
from gateway_core.failures import describe, stopped
from gateway_core.payloads import Undecodable, data_converter, decode
from gateway_core.routes import CallbacksSpec, RouteSource
from gateway_workflows.callbacks.signing import SigningSecretError, read_secrets, sign

USER_AGENT = "temporal-gateway-webhooks/0.1"
# Receivers that say "later" or "too many": worth another attempt, unlike other 4xx.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
RESPONSE_READ_BYTES = 4096
"""The most of a receiver's answer an attempt reads: enough for an error message, and a bound
on what any receiver can make the worker hold."""
EXCERPT_BYTES = 200
"""The most of it kept in the attempt's record."""
_CLOSE_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: Outcome.COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: Outcome.FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: Outcome.CANCELLED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: Outcome.TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: Outcome.TIMED_OUT,
}


@contextlib.asynccontextmanager
async def _heartbeating(every: float) -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _NoPolicy(Exception):
    """The worker cannot tell the route's current policy (no route table yet): an attempt
    that may go ahead once it can."""


class CallbackActivities:
    """Built by the worker with its Temporal client (without a payload codec: the delivery's
    own payloads are the gateway's), the signing secrets' directory, the counter of attempts
    (``temporal_gateway_callback_attempts_total``), a data converter per codec name, and the
    route table's files (None: every attempt fails, and is retried, until the worker is given
    them)."""

    def __init__(
        self,
        client: Client,
        secrets_dir: Path | None,
        attempts: MetricCounter | None = None,
        *,
        heartbeat_seconds: float = 5.0,
        converters: Mapping[str, DataConverter] | None = None,
        routes: RouteSource | None = None,
    ) -> None:
        self._client = client
        self._secrets_dir = secrets_dir
        self._attempts = attempts
        self._heartbeat_seconds = heartbeat_seconds
        self._converters = dict(converters or {})
        self._routes = routes

    @activity.defn(name="callback_await_close")
    async def await_close(self, wait: AwaitClose) -> Closed | None:
        """How the target closed, or None when it still runs after ``poll_seconds``."""
        async with _heartbeating(self._heartbeat_seconds):
            try:
                return await asyncio.wait_for(self._close(wait), wait.poll_seconds)
            except TimeoutError:
                return None

    async def _close(self, wait: AwaitClose) -> Closed:
        run_id = wait.run_id
        while True:
            handle = self._client.get_workflow_handle(wait.workflow_id, run_id=run_id)
            events = handle.fetch_history_events(
                wait_new_event=True, event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
            )
            async for event in events:
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                    attrs = event.workflow_execution_continued_as_new_event_attributes
                    run_id = attrs.new_execution_run_id
                    break
                if event.event_type in _CLOSE_EVENTS:
                    return await self._closed(wait, run_id, event)
            else:
                raise RuntimeError(f"no close event for {wait.workflow_id} run {run_id}")

    async def _closed(self, wait: AwaitClose, run_id: str, event: HistoryEvent) -> Closed:
        outcome = _CLOSE_EVENTS[event.event_type]
        first = self._client.get_workflow_handle(wait.workflow_id, run_id=wait.run_id)
        started = (await first.describe()).start_time
        result: Any = None
        failure: dict[str, Any] | None = None
        result_type: str | None = None
        encoded_result = encoded_failure = None
        if outcome is Outcome.COMPLETED:
            stored = event.workflow_execution_completed_event_attributes.result
            if wait.codec is not None:  # decoded by each attempt, never stored in plaintext
                encoded_result = base64.b64encode(stored.SerializeToString()).decode()
            elif stored.payloads:
                result, result_type = await _read_result(self._client.data_converter, stored)
        elif outcome is Outcome.FAILED:
            raw = event.workflow_execution_failed_event_attributes.failure
            if wait.codec is not None:  # its message and details: decoded by each attempt
                encoded_failure = base64.b64encode(raw.SerializeToString()).decode()
                failure = stopped("failed", "")  # the shape; each attempt puts the meaning
            else:
                failure = await _read_failure(self._client.data_converter, raw)
        elif outcome is Outcome.TERMINATED:
            reason = event.workflow_execution_terminated_event_attributes.reason
            failure = stopped("terminated", reason or "terminated")
        elif outcome is Outcome.CANCELLED:
            failure = stopped("canceled", "the workflow was cancelled")
        else:
            failure = stopped("timeout", "the workflow timed out")
        return Closed(
            workflow_id=wait.workflow_id,
            run_id=run_id,
            outcome=outcome,
            start_time=started.isoformat() if started else None,
            close_time=event.event_time.ToDatetime(tzinfo=UTC).isoformat(),
            result=result,
            result_type=result_type,
            failure=failure,
            encoded_result=encoded_result,
            encoded_failure=encoded_failure,
        )

    @activity.defn(name="callback_deliver")
    async def deliver(self, attempt: DeliveryAttempt) -> AttemptResult:
        """One attempt; never raises for the receiver's or the network's failures."""
        result = await self._attempt(attempt)
        if self._attempts is not None:
            outcome = "delivered" if result.delivered else "failed"
            if not result.delivered and not result.retryable:
                outcome = "refused" if result.status_code is None else "rejected"
            self._attempts.add(
                1, {"route": attempt.route, "outcome": attempt.outcome.value, "result": outcome}
            )
        activity.logger.info(
            "callback attempt",
            extra={
                "delivered": result.delivered,
                "status_code": result.status_code,
                "error": result.error,
                "webhook_id": attempt.webhook_id,
            },
        )
        return result

    async def _policy(self, attempt: DeliveryAttempt) -> CallbacksSpec:
        """The ``callbacks`` block of the route that owns the target now, once it admits the
        attempt's URL (the address check follows, with its ``allowPrivateNetworks``).

        Raises:
            CallbackRefused: the route is gone (or another route owns the id now), its callbacks
                are off, or its allowlist no longer admits the URL.
            _NoPolicy: the worker has no route table (yet).
        """
        if self._routes is None:
            raise _NoPolicy("the worker has no route table (WORKER_ROUTES_PATH)")
        table = await asyncio.to_thread(self._routes.current)
        if table is None:
            raise _NoPolicy("the worker's route table has not loaded (WORKER_ROUTES_PATH)")
        route = table.for_workflow_id(attempt.workflow_id)
        if route is None or route.name != attempt.route:
            raise CallbackRefused(f"callbacks disabled: route {attempt.route!r} is gone")
        spec = route.spec.callbacks
        if spec is None or not spec.enabled:
            raise CallbackRefused(f"callbacks disabled on route {route.name!r}")
        # Plain http was refused when the callback was asked for, outside development (the
        # worker has no such setting); a URL's scheme never changes, and must still match.
        patterns = [parse_origin_pattern(p) for p in spec.allowed_destinations]
        check_url(attempt.url, patterns, allow_http=True)
        return spec

    async def _opened(self, attempt: DeliveryAttempt) -> dict[str, Any]:
        """The body to send: ``attempt.payload`` with the encoded result (or failure message)
        decoded in.

        Raises:
            _CodecFailed: the codec is not configured here, or failed.
        """
        if attempt.codec is None or not (attempt.encoded_result or attempt.encoded_failure):
            return attempt.payload
        converter = self._converters.get(attempt.codec)
        if converter is None:
            raise _CodecFailed(
                f"codec {attempt.codec!r} is not configured on this worker (WORKER_CODECS)"
            )
        data = dict(attempt.payload["data"])
        try:
            if attempt.encoded_result is not None:
                stored = Payloads.FromString(base64.b64decode(attempt.encoded_result))
                if stored.payloads:
                    data["result"], result_type = await _read_result(converter, stored)
                    if result_type is not None:
                        data["result_type"] = result_type
            if attempt.encoded_failure is not None:
                cause = Failure.FromString(base64.b64decode(attempt.encoded_failure))
                data["failure"] = await _read_failure(converter, cause)
        except CodecError as exc:  # its reason names no payload data
            raise _CodecFailed(f"codec {attempt.codec!r} could not decode: {exc.reason}") from None
        except Exception as exc:  # an in-process codec's message might quote the payload
            reason = type(exc).__name__
            raise _CodecFailed(f"codec {attempt.codec!r} could not decode: {reason}") from None
        return {**attempt.payload, "data": data}

    async def _attempt(self, attempt: DeliveryAttempt) -> AttemptResult:
        try:
            spec = await self._policy(attempt)
        except CallbackRefused as exc:
            return AttemptResult(delivered=False, error=f"refused: {exc.reason}", retryable=False)
        except _NoPolicy as exc:  # a table not mounted yet: try again later, as for secrets
            return AttemptResult(delivered=False, error=str(exc), retryable=True)
        try:
            keys = await asyncio.to_thread(read_secrets, self._secrets_dir, spec.signing_secret)
        except SigningSecretError as exc:  # may be mounted soon: try again later
            return AttemptResult(delivered=False, error=str(exc), retryable=True)
        try:
            payload = await self._opened(attempt)
        except _CodecFailed as exc:  # a codec server down, a setting missing: try again later
            return AttemptResult(delivered=False, error=str(exc), retryable=True)
        parts = urlsplit(attempt.url)
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
        try:
            addresses = await resolve_checked(host, port, allow_private=spec.allow_private_networks)
        except CallbackRefused as exc:
            return AttemptResult(delivered=False, error=f"refused: {exc.reason}", retryable=False)
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Host": parts.netloc,
            "Accept-Encoding": "identity",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": attempt.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(keys, attempt.webhook_id, timestamp, body),
        }
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        # The receiver is an outside party: one deadline for the whole exchange (httpx's
        # timeout is per read, so a body trickled a byte at a time would never trip it), and at
        # most RESPONSE_READ_BYTES of its answer, read raw: with identity asked for and nothing
        # decoded, a gzip bomb stays the few KiB read of it.
        try:
            async with (
                asyncio.timeout(attempt.timeout_seconds),
                httpx.AsyncClient(
                    follow_redirects=False, trust_env=False, timeout=attempt.timeout_seconds
                ) as http,
                http.stream(
                    "POST", pinned, content=body, headers=headers, extensions=extensions
                ) as response,
            ):
                head = await _read_head(response)
        except (httpx.TimeoutException, TimeoutError):
            return _failed(f"timed out after {attempt.timeout_seconds:g}s", address)
        except httpx.HTTPError as exc:
            return _failed(f"{type(exc).__name__}: {exc}", address)
        status = response.status_code
        excerpt = _excerpt(head)
        if 200 <= status < 300:
            return AttemptResult(
                delivered=True, status_code=status, address=address, excerpt=excerpt
            )
        if 300 <= status < 400:
            where = response.headers.get("location", "?")
            return AttemptResult(
                delivered=False,
                status_code=status,
                error=f"HTTP {status}: redirects are not followed (to {where[:200]})",
                retryable=False,
                address=address,
                excerpt=excerpt,
            )
        retryable = status >= 500 or status in _RETRYABLE_4XX
        return AttemptResult(
            delivered=False,
            status_code=status,
            error=f"HTTP {status}",
            retryable=retryable,
            address=address,
            excerpt=excerpt,
        )


async def _read_result(converter: DataConverter, stored: Payloads) -> tuple[Any, str | None]:
    """A result and its protobuf type: the codec applied, then read as the API reads a result
    (gateway_core.payloads): a protobuf result is its JSON, one nothing can read says so,
    never a failure."""
    (raw,) = await converter.decode(stored.payloads[:1], [RawValue])
    decoded = decode(raw.payload)
    value = decoded.value
    return (value.to_json() if isinstance(value, Undecodable) else value), decoded.protobuf_type


async def _read_failure(converter: DataConverter, raw: Failure) -> dict[str, Any]:
    """A failure's meaning; details the SDK's converter cannot read (another SDK's protobuf)
    read as the API reads them, never a failed attempt."""
    return describe(await data_converter(converter).decode_failure(raw))


class _CodecFailed(Exception):
    """The attempt's body cannot be decoded now."""


async def _read_head(response: httpx.Response) -> bytes:
    """At most :data:`RESPONSE_READ_BYTES` of the body as sent (never decoded); the rest is
    left unread and the connection closed with the response."""
    head = bytearray()
    async for chunk in response.aiter_raw():
        head += chunk[: RESPONSE_READ_BYTES - len(head)]
        if len(head) >= RESPONSE_READ_BYTES:
            break
    return bytes(head)


def _excerpt(head: bytes) -> str | None:
    """The start of the receiver's answer as printable text, for the attempt's record."""
    text = head[:EXCERPT_BYTES].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text or None


def _failed(error: str, address: str) -> AttemptResult:
    return AttemptResult(delivered=False, error=error, retryable=True, address=address)
