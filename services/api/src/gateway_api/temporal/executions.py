"""Starting, waiting for and describing workflows: the API's only Temporal calls.

Workflow ids come from the route (:meth:`CompiledRoute.workflow_id`): its prefix plus its
template, or the caller's ``Idempotency-Key``, or a random id when there is neither. A
deterministic id comes with the route's explicit reuse/conflict policies, so a retried request
finds the first workflow instead of starting a second. The SHA-256 of the canonical request
body and the principal are kept in the workflow's memo: the same id, principal and body return
the existing workflow, the same principal with another body is refused (422), and anything
else is the one 409 for an id that is not the caller's. The memo also records, for audit and for
authorization by id, the route path that started the workflow and the principal that asked.

The input is encoded once, with the route's data converter (its payload codec included),
before the start call (:func:`encode_start`): an input Temporal would refuse for its size
(``limit.blobSize.error``) is refused here with 413, one the codec cannot encode with 503
``codec-unavailable``, and either starts nothing; the start sends those same payloads
(:func:`~gateway_api.temporal.codecs.already_encoded`). The request's memo values are encoded
in the same codec call, so a start through a codec server costs one round trip to it. The
idempotency fingerprint is the SHA-256 of the plaintext body (a codec's output differs on every
call). A body is one argument, or with ``arguments: positional`` an array of them; a route whose
input is a protobuf message sends it as ``json/protobuf``
(:func:`gateway_api.temporal.payloads.json_protobuf`). What does not depend on the request
(timeouts, policies, the route's memo payloads) is built once per compiled route.

Results and answers come back as ``RawValue`` (the codec applied, nothing converted), for the
caller to read with :func:`gateway_api.temporal.payloads.answer`, which knows the route's
descriptor set and says what a payload it cannot read is, rather than failing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import RawValue, WorkflowIDConflictPolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.errors import (
    ID_TAKEN,
    ApiError,
    IdempotencyKeyReused,
    PayloadTooLarge,
    UpdateNotFound,
    UpdateRejected,
    WorkflowClosed,
    WorkflowIdTaken,
)
from gateway_api.http.bodies import NO_BODY
from gateway_api.temporal.codecs import already_encoded
from gateway_api.temporal.payloads import json_protobuf
from gateway_core import memo as memo_keys
from gateway_core.failures import describe as describe_failure
from gateway_core.routes import CompiledMessage, CompiledRoute

MEMO_ROUTE = memo_keys.ROUTE
MEMO_ROUTE_PATH = memo_keys.ROUTE_PATH
MEMO_PRINCIPAL = memo_keys.PRINCIPAL
MEMO_REQUEST_SHA256 = memo_keys.REQUEST_SHA256
body_digest = memo_keys.body_digest
MIN_WAIT_SECONDS = 0.5
"""Even ``wait=0`` gives Temporal this long to answer, so a finished result (of a workflow or
an update) is returned, and an update is accepted before its 202 says where to poll."""


@dataclass(frozen=True, slots=True)
class _RouteStart:
    """What every start of one compiled route sends that does not depend on the request:
    built once per route (and again after a reload replaces the route), not per request."""

    route: CompiledRoute
    converter: DataConverter
    options: dict[str, Any]
    conflict_policy: WorkflowIDConflictPolicy
    memo: dict[str, Payload]


_route_starts: dict[tuple[str, str], _RouteStart] = {}


async def _route_start(converter: DataConverter, route: CompiledRoute) -> _RouteStart:
    key = (route.name, route.spec.path)
    cached = _route_starts.get(key)
    if cached is not None and cached.route is route and cached.converter is converter:
        return cached
    policy = route.spec.workflow_id
    name, path = await converter.encode([route.name, route.spec.path])
    cached = _RouteStart(
        route=route,
        converter=converter,
        options={
            "task_queue": route.spec.task_queue,
            "execution_timeout": route.execution_timeout,
            "run_timeout": route.run_timeout,
            "id_reuse_policy": policy.reuse_policy.to_temporal(),
        },
        conflict_policy=policy.conflict_policy.to_temporal(),
        # Pre-encoded payloads go into the memo as they are.
        memo={MEMO_ROUTE: name, MEMO_ROUTE_PATH: path},
    )
    _route_starts[key] = cached
    return cached


async def _start_options(
    converter: DataConverter, route: CompiledRoute, workflow_id: str, encoded: EncodedStart
) -> tuple[_RouteStart, dict[str, Any]]:
    """What every start of the route's workflow sends, whichever call starts it."""
    constant = await _route_start(converter, route)
    memo: dict[str, Any] = {**constant.memo, **encoded.memo}
    return constant, {"id": workflow_id, **constant.options, "memo": memo}


def _as_sent(values: list[Any], input_message: str | None) -> list[Any]:
    """Arguments as the SDK is given them: a protobuf input as its ``json/protobuf`` payload."""
    if input_message is None:
        return values
    return [json_protobuf(value, input_message) for value in values]


@dataclass(frozen=True, slots=True)
class EncodedStart:
    """A start's payloads as Temporal will store them, from one codec call."""

    args: list[RawValue]
    """The workflow's arguments, encoded: the SDK sends them as they are (within
    :func:`already_encoded`)."""
    memo: dict[str, Payload]
    """The request's memo values (principal, body digest), encoded."""
    digest: str | None
    """The plaintext body's SHA-256 when a repeat can find the workflow again (a deterministic
    id, or a with-start operation), else None."""

    @property
    def payloads(self) -> list[Payload]:
        return [arg.payload for arg in self.args]


async def encode_start(
    converter: DataConverter,
    route: CompiledRoute,
    body: Any,
    limit: int,
    *,
    principal: str,
    idempotent: bool,
) -> EncodedStart:
    """The workflow's arguments from a valid body and the request's memo values, converted and
    encoded (the codec once, for all of them); the arguments' size is checked as Temporal will
    store them.

    Raises:
        PayloadTooLarge: the encoded input exceeds ``limit`` bytes.
        CodecUnavailable: the route's codec could not encode them.
    """
    digest = body_digest(body) if idempotent else None
    args = _as_sent(route.arguments(body), route.spec.input_message)
    memo_values = [principal] if digest is None else [principal, digest]
    payloads = converter.payload_converter.to_payloads([*args, *memo_values])
    if converter.payload_codec is not None:  # what Temporal stores is the codec's output
        payloads = await converter.payload_codec.encode(payloads)
    sent, memo = payloads[: len(args)], payloads[len(args) :]
    size = Payloads(payloads=sent).ByteSize()
    if size > limit:
        raise PayloadTooLarge(size, limit)
    return EncodedStart(
        [RawValue(payload) for payload in sent],
        dict(zip((MEMO_PRINCIPAL, MEMO_REQUEST_SHA256), memo, strict=False)),
        digest,
    )


def message_arguments(message: CompiledMessage, arg: Any) -> list[Any]:
    """A signal's, query's or update's arguments from its valid body (none without one)."""
    if arg is NO_BODY:
        return []
    return _as_sent(message.arguments(arg), message.spec.input_message)


def workflow_handle(
    client: Client, workflow_id: str, run_id: str | None = None
) -> WorkflowHandle[Any, Any]:
    """A handle whose result is fetched as ``RawValue``, as :func:`wait_result` expects."""
    return client.get_workflow_handle(workflow_id, run_id=run_id, result_type=RawValue)


async def start(
    client: Client,
    route: CompiledRoute,
    encoded: EncodedStart,
    *,
    workflow_id: str,
    rpc_timeout: timedelta,
    principal: str,
) -> tuple[WorkflowHandle[Any, Any], bool]:
    """Start the route's workflow, or find the one this idempotent request already started
    (the same principal, the same body: ``encoded.digest`` is set for a deterministic id); the
    handle, and whether this call started it.

    Raises:
        IdempotencyKeyReused: the principal's own workflow with this id has another body.
        WorkflowIdTaken: the id is another principal's workflow, or one not started by the
            gateway: one answer, whatever the body.
        WorkflowAlreadyStartedError: the id exists and the request is not idempotent.
    """
    constant, options = await _start_options(client.data_converter, route, workflow_id, encoded)
    try:
        with already_encoded(*encoded.payloads):
            handle = await client.start_workflow(
                route.spec.workflow_type,
                args=encoded.args,
                **options,
                id_conflict_policy=constant.conflict_policy,
                rpc_timeout=rpc_timeout,
                result_type=RawValue,
            )
    except WorkflowAlreadyStartedError:
        if encoded.digest is None:
            raise
        handle = workflow_handle(client, workflow_id)
        existing = await handle.describe(rpc_timeout=rpc_timeout)
        owner, found = await memo_values(client, existing, MEMO_PRINCIPAL, MEMO_REQUEST_SHA256)
        if owner != principal or found is None:
            raise WorkflowIdTaken(ID_TAKEN) from None
        if found != encoded.digest:
            raise IdempotencyKeyReused(
                f"workflow {workflow_id!r} was started by this caller's request with the same "
                "id (from the Idempotency-Key or the route's id template) and another body; a "
                "new request needs a new key"
            ) from None
        return handle, False
    return handle, True


async def memo_values(client: Client, desc: WorkflowExecutionDescription, *keys: str) -> list[Any]:
    """The memo's values at ``keys`` (None where missing), decoded in one codec call (the
    SDK's ``memo_value`` makes one per key)."""
    fields = desc.raw_description.workflow_execution_info.memo.fields
    present = [k for k in keys if k in fields]
    decoded = await client.data_converter.decode([fields[k] for k in present]) if present else []
    found = dict(zip(present, decoded, strict=True))
    return [found.get(k) for k in keys]


async def memo(client: Client, desc: WorkflowExecutionDescription) -> dict[str, Any]:
    """The whole memo, decoded in one codec call."""
    keys = list(desc.raw_description.workflow_execution_info.memo.fields)
    return dict(zip(keys, await memo_values(client, desc, *keys), strict=True))


async def failure_message(client: Client, failure: Failure) -> str:
    """A failure's message; decoded when a codec encoded it (``encoded_attributes``, where
    an SDK's failure converter moves the message and stack trace), else as it is."""
    if not failure.HasField("encoded_attributes"):
        return failure.message
    copy = Failure()
    copy.CopyFrom(failure)
    decoded = await client.data_converter.decode_failure(copy)
    return decoded.message if isinstance(decoded, FailureError) else str(decoded)


async def signal_with_start(
    client: Client,
    route: CompiledRoute,
    encoded: EncodedStart,
    signal: str,
    signal_args: Sequence[Any],
    *,
    workflow_id: str,
    rpc_timeout: timedelta,
    principal: str,
) -> WorkflowHandle[Any, Any]:
    """Signal the running workflow with this id, or start it with the signal as its first
    event (one atomic call in Temporal).

    Raises:
        WorkflowClosed: the id is this caller's own workflow, and it has closed.
        WorkflowIdTaken: it is another's, or one not started through the gateway.
    """
    _, options = await _start_options(client.data_converter, route, workflow_id, encoded)
    try:
        with already_encoded(*encoded.payloads):
            return await client.start_workflow(
                route.spec.workflow_type,
                args=encoded.args,
                **options,
                start_signal=signal,
                start_signal_args=signal_args,
                rpc_timeout=rpc_timeout,
                result_type=RawValue,
            )
    except WorkflowAlreadyStartedError:
        raise await _closed_or_taken(client, workflow_id, principal, rpc_timeout) from None


async def _closed_or_taken(
    client: Client, workflow_id: str, principal: str, rpc_timeout: timedelta
) -> ApiError:
    """Why a with-start found the id taken though it reaches running workflows: this caller's
    own workflow has closed (and the route's reuse policy keeps the id), or the id is not the
    caller's at all (the one 409 that says nothing about whose)."""
    desc = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=rpc_timeout)
    (owner,) = await memo_values(client, desc, MEMO_PRINCIPAL)
    if owner != principal:
        return WorkflowIdTaken(ID_TAKEN)
    status = desc.status.name if desc.status else "UNSPECIFIED"
    return WorkflowClosed(
        f"workflow {workflow_id!r}, which this caller's request started, is {status}; the "
        "message was not delivered, and a new workflow needs a new Idempotency-Key",
        workflow_status=status,
    )


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """An update that completed (``done``, with its ``result``, still a payload) or is still
    running."""

    update_id: str
    done: bool
    result: RawValue | None = None


async def _finish_update(
    workflow: WorkflowHandle[Any, Any], accepted: Awaitable[WorkflowUpdateHandle[Any]], wait: float
) -> UpdateOutcome:
    deadline = asyncio.get_running_loop().time() + wait
    update = await accepted
    remaining = max(0.0, deadline - asyncio.get_running_loop().time())
    try:
        result = await asyncio.wait_for(update.result(), remaining)
    except TimeoutError:
        return UpdateOutcome(update.id, done=False)
    except WorkflowUpdateFailedError as exc:
        # A rejection and a failed handler arrive alike (stage COMPLETED, a failure outcome);
        # only an accepted update is written to the history.
        if await _was_accepted(workflow, update.id):
            raise
        failure = describe_failure(exc.cause)
        raise UpdateRejected(failure["message"], failure=failure) from None
    return UpdateOutcome(update.id, done=True, result=result)


async def _was_accepted(workflow: WorkflowHandle[Any, Any], update_id: str) -> bool:
    """Whether the workflow's history records the update as accepted (a failure path only:
    the history is read to its end)."""
    async for event in workflow.fetch_history_events():
        if (
            event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
            and event.workflow_execution_update_accepted_event_attributes.accepted_request.meta
            .update_id == update_id
        ):  # fmt: skip
            return True
    return False


async def update(
    handle: WorkflowHandle[Any, Any],
    name: str,
    args: Sequence[Any],
    *,
    update_id: str | None,
    wait: float,
) -> UpdateOutcome:
    """Send an update and wait up to ``wait`` seconds for its result.

    Raises:
        WorkflowUpdateFailedError: the workflow refused the update or its handler failed.
    """
    update_id = update_id or uuid.uuid4().hex
    wait = max(wait, MIN_WAIT_SECONDS)
    accepted = handle.start_update(
        name,
        args=args,
        id=update_id,
        result_type=RawValue,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        rpc_timeout=timedelta(seconds=wait),
    )
    return await _bounded(handle, accepted, wait, update_id)


async def update_with_start(
    client: Client,
    route: CompiledRoute,
    encoded: EncodedStart,
    name: str,
    update_args: Sequence[Any],
    *,
    workflow_id: str,
    update_id: str | None,
    principal: str,
    wait: float,
) -> UpdateOutcome:
    """Send an update to the running workflow with this id, starting it first if needed."""
    update_id = update_id or uuid.uuid4().hex
    wait = max(wait, MIN_WAIT_SECONDS)
    _, options = await _start_options(client.data_converter, route, workflow_id, encoded)
    operation: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        route.spec.workflow_type,
        args=encoded.args,
        **options,
        # The only policy update-with-start takes: the point is to reach a running workflow.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    accepted = client.start_update_with_start_workflow(
        name,
        args=update_args,
        start_workflow_operation=operation,
        id=update_id,
        result_type=RawValue,
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        rpc_timeout=timedelta(seconds=wait),
    )
    try:
        with already_encoded(*encoded.payloads):  # the start is encoded when it is awaited
            return await _bounded(
                client.get_workflow_handle(workflow_id), accepted, wait, update_id
            )
    except WorkflowAlreadyStartedError:
        raise await _closed_or_taken(
            client, workflow_id, principal, timedelta(seconds=wait)
        ) from None


async def _bounded(
    workflow: WorkflowHandle[Any, Any],
    accepted: Awaitable[WorkflowUpdateHandle[Any]],
    wait: float,
    update_id: str,
) -> UpdateOutcome:
    try:
        return await _finish_update(workflow, accepted, wait)
    except WorkflowUpdateRPCTimeoutOrCancelledError:  # not accepted in time: still admitted
        return UpdateOutcome(update_id, done=False)


async def update_result(
    handle: WorkflowHandle[Any, Any], update_id: str, wait: float
) -> UpdateOutcome:
    """The outcome of an update sent before, waiting up to ``wait`` seconds.

    Raises:
        UpdateNotFound: the workflow exists and has no update with this id.
    """
    update = handle.get_update_handle(update_id, result_type=RawValue)
    try:
        result = await update.result(rpc_timeout=timedelta(seconds=max(wait, MIN_WAIT_SECONDS)))
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        return UpdateOutcome(update_id, done=False)
    except RPCError as exc:
        # NOT_FOUND says the same for a missing update and a missing workflow: ask which.
        if exc.status != RPCStatusCode.NOT_FOUND or await _missing(handle):
            raise
        raise UpdateNotFound(f"no update {update_id!r} on workflow {handle.id!r}") from None
    return UpdateOutcome(update_id, done=True, result=result)


async def _missing(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return True
        raise
    return False


async def closed_or_missing(handle: WorkflowHandle[Any, Any], exc: RPCError) -> ApiError | None:
    """After NOT_FOUND from a call to a running workflow: :class:`WorkflowClosed` when the
    workflow exists but has closed, None when it does not exist (the original error stands)."""
    if exc.status != RPCStatusCode.NOT_FOUND:
        return None
    try:
        desc = await handle.describe()
    except RPCError:
        return None
    status = desc.status.name if desc.status else "UNSPECIFIED"
    return WorkflowClosed(f"workflow {handle.id!r} is {status}", workflow_status=status)


async def cancel(handle: WorkflowHandle[Any, Any], rpc_timeout: timedelta) -> None:
    """Ask the workflow to cancel.

    Raises:
        WorkflowClosed: it has closed. Temporal accepts a cancel request for a closed workflow
            and does nothing, so the status is checked first.
    """
    desc = await handle.describe(rpc_timeout=rpc_timeout)
    if desc.status != WorkflowExecutionStatus.RUNNING:
        status = desc.status.name if desc.status else "UNSPECIFIED"
        raise WorkflowClosed(f"workflow {handle.id!r} is {status}", workflow_status=status)
    await handle.cancel(rpc_timeout=rpc_timeout)


async def query(
    handle: WorkflowHandle[Any, Any], name: str, args: Sequence[Any], rpc_timeout: timedelta
) -> RawValue | None:
    """The query's answer, as a payload (None when the handler returns nothing)."""
    answer: RawValue | None = await handle.query(
        name, args=args, result_type=RawValue, rpc_timeout=rpc_timeout
    )
    return answer


async def wait_result(
    handle: WorkflowHandle[Any, Any], wait: float
) -> tuple[bool, RawValue | None]:
    """``(True, result)`` once the workflow completes within ``wait`` seconds, else
    ``(False, None)``; the result is a payload (None when the workflow returned nothing), of
    a handle from :func:`start` or :func:`workflow_handle`.

    Raises:
        WorkflowFailureError: the workflow failed, timed out, or was canceled or terminated.
    """
    try:
        # However short the wait, a closed workflow's result is fetched, not refused.
        return True, await asyncio.wait_for(handle.result(), max(wait, MIN_WAIT_SECONDS))
    except TimeoutError:
        return False, None
