"""Whether the worker handles what the route declares, asked before a message is sent.

A route names the signals, queries and updates callers may send; the worker's code names the
ones it handles. When the two drift apart (a renamed handler, a route written ahead of a
deploy), Temporal itself says nothing useful: a signal nobody handles is accepted and lost, an
unknown query fails as if the workflow had, an unknown update is "rejected" as if the caller
were wrong. Every SDK (Go, TypeScript, Java, Python) answers the built-in query
``__temporal_workflow_metadata`` with the handlers a workflow has registered, so the gateway asks
it once per workflow type (cached for :data:`TTL_SECONDS`) and refuses, before sending, a
message the route declares and the worker lacks: 502 ``route-worker-mismatch``, naming both
lists.

The check never blocks a message on its own failure: a workflow that cannot answer queries
(no worker polls, its workflow task is failing) is not checked, and that is remembered as long
as a known answer is. A cached "missing" is asked again before it refuses, so a deploy that
adds the handler is seen at once; a cached "present" holds until it expires.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from google.protobuf import json_format
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import RawValue
from temporalio.service import RPCError

from gateway_api.errors import RouteWorkerMismatch
from gateway_core.routes import CompiledRoute, MessageKind

log = structlog.get_logger(__name__)

METADATA_QUERY = "__temporal_workflow_metadata"
TTL_SECONDS = 60.0
"""How long an answer stands: a deploy that removes a handler is seen within this."""
ASK_TIMEOUT = timedelta(seconds=2)
"""The metadata query's deadline: a workflow that cannot answer (no worker) is not checked,
and this is what that costs the first message after each expiry."""
_BUILT_IN = frozenset({"__stack_trace", "__enhanced_stack_trace", METADATA_QUERY})


@dataclass(frozen=True, slots=True)
class Handlers:
    """The names a workflow type's worker handles, per kind; ``""`` among them is a dynamic
    handler (any name)."""

    names: dict[MessageKind, frozenset[str]]

    def handles(self, kind: MessageKind, name: str) -> bool:
        found = self.names[kind]
        return name in found or "" in found

    def listed(self, kind: MessageKind) -> list[str]:
        return sorted(n or "<any, dynamic>" for n in self.names[kind] - _BUILT_IN)


def parse(payload: Any) -> Handlers:
    """The metadata query's answer (``temporal.api.sdk.v1.WorkflowMetadata``: Go and Java send it
    as ``json/protobuf``, TypeScript as ``json/plain``, a converter may make it
    ``binary/protobuf``).

    Raises:
        ValueError: it is neither.
    """
    encoding = payload.metadata.get("encoding", b"")
    metadata = WorkflowMetadata()
    if encoding in (b"json/protobuf", b"json/plain"):
        json_format.Parse(payload.data, metadata, ignore_unknown_fields=True)
    elif encoding == b"binary/protobuf":
        metadata.ParseFromString(payload.data)
    else:
        raise ValueError(f"the metadata query answered {encoding.decode(errors='replace')}")
    definition = metadata.definition
    return Handlers(
        {
            MessageKind.SIGNAL: frozenset(d.name for d in definition.signal_definitions),
            MessageKind.QUERY: frozenset(d.name for d in definition.query_definitions),
            MessageKind.UPDATE: frozenset(d.name for d in definition.update_definitions),
        }
    )


class HandlerCache:
    """The handlers of each workflow type, as its workers last said (one per API process)."""

    def __init__(self, ttl: float = TTL_SECONDS) -> None:
        self._ttl = ttl
        self._known: dict[tuple[str, str], tuple[float, Handlers | None]] = {}

    async def _ask(self, handle: WorkflowHandle[Any, Any]) -> Handlers | None:
        try:
            answer = await handle.query(
                METADATA_QUERY, result_type=RawValue, rpc_timeout=ASK_TIMEOUT
            )
            return parse(answer.payload)
        except (RPCError, WorkflowQueryFailedError, ValueError) as exc:
            log.info("worker handlers unknown", workflow_id=handle.id, reason=str(exc)[:200])
            return None

    async def check(
        self,
        handle: WorkflowHandle[Any, Any],
        route: CompiledRoute,
        kind: MessageKind,
        name: str,
    ) -> None:
        """Refuse ``name`` if the workflow's worker does not handle it.

        Raises:
            RouteWorkerMismatch: the route declares it and the worker (asked now, if the last
                answer said so) lacks it.
        """
        key = (route.spec.namespace or "", route.spec.workflow_type)
        now = time.monotonic()
        cached = self._known.get(key)
        if cached is None or now - cached[0] > self._ttl:
            cached = (now, await self._ask(handle))
            self._known[key] = cached
        elif cached[1] is not None and not cached[1].handles(kind, name):
            cached = (now, await self._ask(handle))  # missing: make sure, a deploy may add it
            self._known[key] = cached
        handlers = cached[1]
        if handlers is None or handlers.handles(kind, name):
            return
        declared = sorted(m.name for m in route.spec.messages(kind))
        raise RouteWorkerMismatch(
            f"route {route.name!r} declares the {kind.value} {name!r}, which the worker of "
            f"{route.spec.workflow_type!r} does not handle",
            kind=kind.value,
            name=name,
            route_declares=declared,
            worker_handles=handlers.listed(kind),
        )
