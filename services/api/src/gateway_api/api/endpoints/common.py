"""Pieces every family of workflow endpoints shares: OpenAPI fragments, the 202 answers, and
reading what a workflow answered."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.responses import JSONResponse
from temporalio.common import RawValue
from temporalio.service import RPCError

from gateway_api.api.dispatch import Call, Target
from gateway_api.api.schemas import Problem, UpdateResponse, WorkflowResponse
from gateway_api.errors import PROBLEM_JSON, InvalidBody
from gateway_api.http.bodies import NO_BODY
from gateway_api.temporal import executions, payloads
from gateway_core import descriptors
from gateway_core.routes import CompiledMessage, CompiledRoute, FieldError

POLL_AFTER_SECONDS = 1
"""``Retry-After`` on a 202: the poll location itself waits, so the client may ask at once."""


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}} for s in statuses}


JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The workflow input, checked against the route's JSON Schema.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
STILL_RUNNING: dict[int | str, dict[str, Any]] = {
    202: {"model": WorkflowResponse, "description": "Still running: poll the Location header."}
}


def _accepted(call: Call, body: dict[str, Any], location: str) -> JSONResponse:
    headers = {"Location": call.location(location), "Retry-After": str(POLL_AFTER_SECONDS)}
    return JSONResponse(body, status_code=202, headers=headers)


def still_running(
    call: Call,
    workflow_id: str,
    run_id: str | None = None,
    *,
    failing: dict[str, Any] | None = None,
) -> JSONResponse:
    """202: the workflow runs on; its result (of ``run_id``, when one was asked for) is at the
    Location. ``failing``: its workflow task keeps failing (said in the body, so a caller
    does not poll for ever without knowing)."""
    body = WorkflowResponse(workflow_id=workflow_id, status="running", result=None).model_dump()
    if failing is not None:
        body["workflow_task_failing"] = failing
    location = f"/workflows/{quote(workflow_id, safe='')}/result"
    if run_id is not None:
        location += f"?run_id={quote(run_id, safe='')}"
    return _accepted(call, body, location)


def route_descriptors(call: Call, route: CompiledRoute) -> payloads.Descriptors | None:
    """The route's descriptor set, for its protobuf payloads (None when it names none)."""
    return descriptors.for_route(call.settings.descriptor_sets_dir, route.spec.descriptor_set)


def read_answer(
    call: Call, route: CompiledRoute, raw: RawValue | None, what: str
) -> payloads.Decoded:
    """What the workflow answered, as JSON (:func:`gateway_api.temporal.payloads.answer`).

    Raises:
        UndecodablePayload: the gateway cannot decode it (502, with the workflow's id).
    """
    return payloads.answer(raw, what, route_descriptors(call, route))


def update_answer(
    call: Call, route: CompiledRoute, workflow_id: str, name: str, outcome: executions.UpdateOutcome
) -> UpdateResponse | JSONResponse:
    """200 with the update's result, or 202 with where to poll for it."""
    answer = read_answer(call, route, outcome.result, "update's answer")
    body = UpdateResponse(
        workflow_id=workflow_id,
        update=name,
        update_id=outcome.update_id,
        status="completed" if outcome.done else "running",
        result=answer.value,
        result_type=answer.protobuf_type,
    )
    if outcome.done:
        return body
    location = (
        f"/workflows/{quote(workflow_id, safe='')}/updates/{quote(name, safe='')}"
        f"/{quote(outcome.update_id, safe='')}"
    )
    return _accepted(call, body.model_dump(), location)


async def raise_if_closed(target: Target, exc: RPCError) -> None:
    """After a call to a running workflow failed: 409 if the workflow has closed (else the
    caller re-raises ``exc``, a 404 when the workflow does not exist)."""
    closed = await executions.closed_or_missing(target.handle(), exc)
    if closed is not None:
        raise closed from None


def check_argument(
    message: CompiledMessage, arg: Any, where: str, route_descriptors: payloads.Descriptors | None
) -> None:
    """Refuse a signal's, query's or update's argument that does not fit its declaration.

    Args:
        where: the field the argument came in (``body``, or ``arg`` of a with-start body),
            which prefixes the fields named in the problem.
        route_descriptors: the route's descriptor set, for an ``inputMessage`` argument.

    Raises:
        InvalidBody: an argument for a handler that takes none, none for one that needs it,
            or one that fails the declared schema (or the declared protobuf message).
    """
    what = f"{message.kind.value} {message.name!r}"
    if message.validator is None:
        if arg is not NO_BODY:
            raise InvalidBody([FieldError(where, f"{what} takes no argument: send none")])
        return
    if arg is NO_BODY:
        raise InvalidBody([FieldError(where, f"{what} needs an argument")])
    errors = message.validate(arg)
    if not errors and message.spec.input_message is not None:
        errors = payloads.check_message(arg, message.spec.input_message, route_descriptors)
    if errors:
        if where != "body":
            errors = [FieldError(_within(where, e.field), e.message) for e in errors]
        raise InvalidBody(errors)


def _within(where: str, field: str) -> str:
    if field == "body":
        return where
    return f"{where}{field}" if field.startswith("[") else f"{where}.{field}"
