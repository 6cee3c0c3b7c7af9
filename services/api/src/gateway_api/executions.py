"""Starting, waiting for and describing workflows: the API's only Temporal calls.

Workflow ids come from the route (:meth:`CompiledRoute.workflow_id`): its prefix plus its
template, or the caller's ``Idempotency-Key``, or a random id when there is neither. A
deterministic id comes with the route's explicit reuse/conflict policies, so a retried request
finds the first workflow instead of starting a second. The SHA-256 of the canonical request
body is kept in the workflow's memo: the same id with the same body returns the existing
workflow, the same id with another body is refused. The memo also records, for audit and for
authorization by id, the route path that started the workflow and the principal that asked.

The input is encoded with the client's own data converter before the start call, so an input
Temporal would refuse for its size (``limit.blobSize.error``) is refused here with 413 instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.errors import IdempotencyKeyReused, PayloadTooLarge
from gateway_core.routes import CompiledRoute, RouteTable

MEMO_ROUTE = "gateway.route"
MEMO_ROUTE_PATH = "gateway.route_path"
MEMO_PRINCIPAL = "gateway.principal"
MEMO_REQUEST_SHA256 = "gateway.request_sha256"


def body_digest(body: Any) -> str:
    """SHA-256 of the body's canonical JSON: equal for equal bodies, whatever key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def start(
    client: Client,
    route: CompiledRoute,
    body: Any,
    *,
    workflow_id: str,
    idempotent: bool,
    rpc_timeout: timedelta,
    principal: str,
    may_read_existing: bool = True,
) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start the route's workflow, or find the one this idempotent request already started;
    the handle, and whether this call started it.

    Raises:
        IdempotencyKeyReused: the id exists and was started with another body, or with this
            body but ``may_read_existing`` is false.
        WorkflowAlreadyStartedError: the id exists and was not started by the gateway.
    """
    digest = body_digest(body)
    policy = route.spec.workflow_id
    try:
        handle = await client.start_workflow(
            route.spec.workflow_type,
            body,
            id=workflow_id,
            task_queue=route.spec.task_queue,
            execution_timeout=route.execution_timeout,
            run_timeout=route.run_timeout,
            id_reuse_policy=policy.reuse_policy.to_temporal(),
            id_conflict_policy=policy.conflict_policy.to_temporal(),
            memo={
                MEMO_ROUTE: route.name,
                MEMO_ROUTE_PATH: route.spec.path,
                MEMO_PRINCIPAL: principal,
                MEMO_REQUEST_SHA256: digest,
            },
            rpc_timeout=rpc_timeout,
        )
    except WorkflowAlreadyStartedError:
        if not idempotent:
            raise
        handle = client.get_workflow_handle(workflow_id)
        existing = await handle.describe(rpc_timeout=rpc_timeout)
        found = await existing.memo_value(MEMO_REQUEST_SHA256, None)
        if found is None:
            raise
        if found != digest:
            raise IdempotencyKeyReused(
                f"workflow {workflow_id!r} was started by a request with the same id (from the "
                "Idempotency-Key or the route's id template) and another body; a new request "
                "needs a new key"
            ) from None
        if not may_read_existing:
            raise IdempotencyKeyReused(
                f"workflow {workflow_id!r} already exists and this caller may not read it; a new "
                "request needs a new key"
            ) from None
        return handle, False
    return handle, True


async def wait_result(handle: WorkflowHandle[Any, Any], wait: float) -> tuple[bool, Any]:
    """``(True, result)`` once the workflow completes within ``wait`` seconds, else
    ``(False, None)``.

    Raises:
        WorkflowFailureError: the workflow failed, timed out, or was canceled or terminated.
    """
    try:
        return True, await asyncio.wait_for(handle.result(), wait)
    except TimeoutError:
        return False, None


async def describe(
    client: Client, workflow_id: str, rpc_timeout: timedelta
) -> WorkflowExecutionDescription:
    return await client.get_workflow_handle(workflow_id).describe(rpc_timeout=rpc_timeout)


async def describe_if_exists(
    client: Client, workflow_id: str, rpc_timeout: timedelta
) -> WorkflowExecutionDescription | None:
    """The description, or None when Temporal has no such workflow."""
    try:
        return await describe(client, workflow_id, rpc_timeout)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


async def started_by(
    desc: WorkflowExecutionDescription, routes: RouteTable
) -> CompiledRoute | None:
    """The route in ``routes`` that started the workflow; None for a workflow not started
    through the gateway, or through a route that is gone."""
    path = await desc.memo_value(MEMO_ROUTE_PATH, None)
    return routes.get(path) if isinstance(path, str) else None


async def check_payload_size(converter: DataConverter, body: Any, limit: int) -> None:
    """
    Raises:
        PayloadTooLarge: the encoded input exceeds ``limit`` bytes.
    """
    (payload,) = await converter.encode([body])
    size = payload.ByteSize()
    if size > limit:
        raise PayloadTooLarge(size, limit)
