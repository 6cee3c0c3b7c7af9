"""Which payload codec each route's workflows use, and the codec as the API calls it.

A route's codec is its ``spec.codec``, else its namespace's (``API_NAMESPACE_CODECS``), else
none; ``codec: none`` opts out. The codec goes into the data converter of the route's client
(:meth:`~gateway_api.temporal.connection.TemporalConnection.route_client`), so the SDK applies it
to everything that client sends and reads: inputs, signal, query and update arguments, results,
query and update answers, failures (their encoded attributes and details), memos. Search
attributes are never encoded (Temporal has to read them).

Every codec is called through a :class:`GuardedCodec`, which turns any failure (a codec server
down, too slow or answering wrongly; an in-process codec that raised; a codec the API does not
have) into :class:`~gateway_api.errors.CodecUnavailable`, a 503 with ``Retry-After``, logs it
without payload data, and times each call (``temporal_gateway_codec_duration_seconds``). A route
naming a codec the API lacks is logged when its table loads, and gets a codec that always fails:
its payloads are never sent or read in plaintext, while what moves no payload (status, cancel,
terminate, events, list) still works.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar

import structlog
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec, SerializationContext, WithSerializationContext

from gateway_api import metrics
from gateway_api.errors import CodecUnavailable
from gateway_core.codecs import CodecError, CodecSet
from gateway_core.routes import NO_CODEC, CompiledRoute, RouteTable

log = structlog.get_logger(__name__)

_ALREADY_ENCODED: ContextVar[tuple[Payload, ...]] = ContextVar("already_encoded", default=())


@contextlib.contextmanager
def already_encoded(*payloads: Payload) -> Iterator[None]:
    """Within it, route codecs pass ``payloads`` (these objects) through as they are: they are
    their own output (a start's arguments, encoded once to check their size before the start,
    which then sends them), and the SDK would otherwise encode them a second time."""
    token = _ALREADY_ENCODED.set(payloads)
    try:
        yield
    finally:
        _ALREADY_ENCODED.reset(token)


class MissingCodec(PayloadCodec):
    """What a route naming a codec this API does not have gets: every call fails, so nothing
    is sent or read in plaintext by mistake."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise CodecError(self.name, "encode", "not configured on this API (API_CODECS)")

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise CodecError(self.name, "decode", "not configured on this API (API_CODECS)")


class GuardedCodec(PayloadCodec, WithSerializationContext):
    """One named codec for one namespace, as the API calls it: failures become
    :class:`CodecUnavailable`, calls are timed, and a payload marked :func:`already_encoded`
    passes through."""

    def __init__(self, name: str, namespace: str, inner: PayloadCodec) -> None:
        self.name, self.namespace, self.inner = name, namespace, inner

    def with_context(self, context: SerializationContext) -> GuardedCodec:
        """A codec that uses the SDK's serialization context (the workflow's id, say) keeps it."""
        if isinstance(self.inner, WithSerializationContext):
            inner = self.inner.with_context(context)
            if inner is not self.inner:
                return GuardedCodec(self.name, self.namespace, inner)
        return self

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        # By identity: the tuple keeps the objects alive, so no other can take their ids.
        sealed = {id(p) for p in _ALREADY_ENCODED.get()}
        if not sealed or not any(id(p) in sealed for p in payloads):
            return await self._call("encode", self.inner.encode, payloads)
        rest = [p for p in payloads if id(p) not in sealed]
        done = iter(await self._call("encode", self.inner.encode, rest))
        return [p if id(p) in sealed else next(done) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._call("decode", self.inner.decode, payloads)

    async def _call(
        self,
        operation: str,
        call: Callable[[Sequence[Payload]], Awaitable[list[Payload]]],
        payloads: Sequence[Payload],
    ) -> list[Payload]:
        if not payloads:
            return []
        started = time.perf_counter()
        try:
            answered = await call(payloads)
        except CodecError as exc:
            reason = exc.reason
        except Exception as exc:  # an in-process codec: its message may quote the payload
            reason = f"the codec raised {type(exc).__name__}"
        else:
            if len(answered) == len(payloads):
                metrics.CODEC_CALLS.labels(self.name, operation, "ok").observe(
                    time.perf_counter() - started
                )
                return answered
            reason = f"{len(answered)} payloads answered for {len(payloads)}"
        metrics.CODEC_CALLS.labels(self.name, operation, "error").observe(
            time.perf_counter() - started
        )
        log.warning(
            "codec unavailable",
            codec=self.name,
            namespace=self.namespace,
            operation=operation,
            reason=reason,
        )
        raise CodecUnavailable(
            f"the payload codec {self.name!r} could not {operation}: {reason}", codec=self.name
        )


class RouteCodecs:
    """Which codec each route uses, and the one :class:`GuardedCodec` per (name, namespace)."""

    def __init__(
        self, codecs: CodecSet, namespace_codecs: Mapping[str, str], default_namespace: str
    ) -> None:
        self.codecs = codecs
        self._defaults = dict(namespace_codecs)
        self._default_namespace = default_namespace
        self._guarded: dict[tuple[str, str], GuardedCodec] = {}

    def namespace_of(self, route: CompiledRoute) -> str:
        return route.spec.namespace or self._default_namespace

    def name_for(self, route: CompiledRoute) -> str | None:
        """The route's codec name, None for plain payloads."""
        name = route.spec.codec
        if name is None:
            return self._defaults.get(self.namespace_of(route))
        return None if name == NO_CODEC else name

    def codec(self, name: str, namespace: str) -> GuardedCodec:
        key = (name, namespace)
        found = self._guarded.get(key)
        if found is None:
            inner = self.codecs.codec(name, namespace) if name in self.codecs else None
            found = GuardedCodec(name, namespace, inner or MissingCodec(name))
            self._guarded[key] = found
        return found

    def check(self, table: RouteTable) -> None:
        """Log each route of ``table`` whose codec this API does not have (its payloads get
        503 ``codec-unavailable``; the route stays, so one route's typo blocks no other)."""
        for route in table.routes.values():
            name = self.name_for(route)
            if name is not None and name not in self.codecs:
                log.error(
                    "route names a payload codec this API does not have; its payloads are "
                    "refused with 503 codec-unavailable",
                    route=route.name,
                    codec=name,
                    configured=self.codecs.names(),
                )
