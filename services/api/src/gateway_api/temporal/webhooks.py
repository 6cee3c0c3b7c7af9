"""Completion webhooks on the API side: accept a callback with a start, start its delivery.

A start asks for a callback with the ``Callback-Url`` header (and optionally
``Callback-Outcomes: completed,failed``): headers, because a plain start's body is the workflow
input itself. :func:`check` runs before the workflow starts, so a refused callback (a route
without ``callbacks``, a URL outside its allowlist, a host resolving to a private address the
route does not allow) is a 422 naming the header and starts nothing. :func:`register` runs
right after the start and starts the ``CallbackDelivery`` workflow on the gateway's own queue,
with an id derived from the target's id and run, so a repeated request (an idempotent retry)
finds the first delivery instead of starting a second.

If the API dies between the two starts the workflow runs without its callback. A retry of the
request with the same ``Idempotency-Key`` (or the route's deterministic id) repairs that: it
finds the workflow and starts the missing delivery under the same id. Without a deterministic
id a retry starts a new workflow anyway, which gets its own callback. The first callback
registered for a run wins; a later one for the same run is ignored.

A callback delivers the workflow's result, so it needs ``read`` access on the route as well as
the start's own.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from fastapi import Request
from pydantic import BaseModel
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from gateway_api.config import ApiSettings
from gateway_api.errors import Forbidden, InvalidBody, InvalidRequest
from gateway_api.http.request_headers import CALLBACK_OUTCOMES, CALLBACK_URL
from gateway_core.callbacks import (
    CALLBACK_WORKFLOW,
    CallbackRefused,
    CallbackRequest,
    DeliveryState,
    Outcome,
    RetrySchedule,
    check_url,
    delivery_workflow_id,
    parse_origin_pattern,
    resolve_checked,
)
from gateway_core.routes import CallbacksSpec, CompiledRoute, FieldError

log = structlog.get_logger(__name__)

URL_FIELD = CALLBACK_URL.field
OUTCOMES_FIELD = CALLBACK_OUTCOMES.field


@dataclass(frozen=True, slots=True)
class Asked:
    """What the request's headers ask for, not yet checked against the route."""

    url: str
    outcomes: str | None


def asked(request: Request) -> Asked | None:
    """The callback the request's headers ask for, if any (documented as
    :data:`~gateway_api.http.request_headers.CALLBACK_URL` and its outcomes).

    Raises:
        InvalidRequest: a header too long, or outcomes without a URL.
    """
    callback_url = CALLBACK_URL.read(request)
    callback_outcomes = CALLBACK_OUTCOMES.read(request)
    if callback_url is None:
        if callback_outcomes is not None:
            raise InvalidRequest([FieldError(URL_FIELD, "required with Callback-Outcomes")])
        return None
    return Asked(callback_url.strip(), callback_outcomes)


@dataclass(frozen=True, slots=True)
class Checked:
    """A callback the route allows, to register once the workflow has started."""

    url: str
    outcomes: tuple[Outcome, ...]
    spec: CallbacksSpec


def _outcomes(text: str | None, spec: CallbacksSpec) -> tuple[Outcome, ...]:
    if text is None:
        return spec.default_outcomes
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = {o.value for o in Outcome}
    if not names or any(n not in known for n in names):
        raise InvalidBody(
            [FieldError(OUTCOMES_FIELD, f"a comma-separated list of {', '.join(sorted(known))}")]
        )
    return tuple(dict.fromkeys(Outcome(n) for n in names))


async def check(
    route: CompiledRoute,
    settings: ApiSettings,
    asked: Asked | None,
    *,
    caller: str,
    may_read: bool,
) -> Checked | None:
    """Check the callback ``caller`` asked for before anything starts (``may_read``: whether
    the caller may read the route's workflows).

    Raises:
        InvalidBody: the route allows no callbacks, or refuses this URL or these outcomes.
        Forbidden: the caller may not read the route's workflows (a callback would show
            the result).
    """
    if asked is None:
        return None
    spec = route.spec.callbacks
    if spec is None or not spec.enabled:
        raise InvalidBody([FieldError(URL_FIELD, f"route {route.name!r} allows no callbacks")])
    if not may_read:
        raise Forbidden(
            f"{caller} may not read workflows of route {route.name!r}, "
            "so it may not ask for their results by callback"
        )
    outcomes = _outcomes(asked.outcomes, spec)
    patterns = [parse_origin_pattern(p) for p in spec.allowed_destinations]
    try:
        destination = check_url(
            asked.url, patterns, allow_http=settings.environment == "development"
        )
        await resolve_checked(
            destination.host,
            destination.port,
            allow_private=spec.allow_private_networks,
            within=settings.callback_resolve_timeout_seconds,
        )
    except CallbackRefused as exc:
        raise InvalidBody([FieldError(URL_FIELD, exc.reason)]) from None
    return Checked(asked.url, outcomes, spec)


async def register(
    client: Client,
    settings: ApiSettings,
    route: CompiledRoute,
    checked: Checked,
    workflow_id: str,
    run_id: str | None,
    *,
    codec: str | None = None,
) -> None:
    """Start the delivery for the run ``run_id`` of ``workflow_id`` (a run this request
    started; None: the first run of the chain now running), or find the one already started.
    ``client`` has no payload codec: the delivery's payloads are the gateway's own. ``codec``
    names the route's, with which the worker decodes the result just before each attempt, so
    it is never stored in plaintext."""
    rpc_timeout = timedelta(seconds=settings.rpc_timeout_seconds)
    if run_id is None:
        desc = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=rpc_timeout)
        # Keyed on the first run, which a delivery follows through continue-as-new.
        run_id = desc.raw_description.workflow_execution_info.first_run_id or desc.run_id
    request = CallbackRequest(
        workflow_id=workflow_id,
        run_id=run_id,
        route=route.name,
        url=checked.url,
        outcomes=list(checked.outcomes),
        signing_secret=checked.spec.signing_secret,
        allow_private_networks=checked.spec.allow_private_networks,
        retry=RetrySchedule(
            initial_seconds=settings.callback_retry_initial_seconds,
            backoff=settings.callback_retry_backoff,
            max_interval_seconds=settings.callback_retry_max_interval_seconds,
            max_total_seconds=settings.callback_retry_max_total_seconds,
            attempt_timeout_seconds=settings.callback_attempt_timeout_seconds,
        ),
        redeliver_window_seconds=settings.callback_redeliver_window_seconds,
        codec=codec,
        max_redeliveries=settings.callback_max_redeliveries,
        redeliver_min_interval_seconds=settings.callback_redeliver_min_interval_seconds,
    )
    delivery_id = delivery_workflow_id(workflow_id, run_id)
    # Already started and closed: this run's delivery ran; nothing more to start.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            CALLBACK_WORKFLOW,
            request,
            id=delivery_id,
            task_queue=settings.callback_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            rpc_timeout=rpc_timeout,
        )
    log.info("callback registered", delivery_id=delivery_id)


def path(workflow_id: str) -> str:
    """Where a workflow's callback is shown (``GET``) and redelivered."""
    return f"/workflows/{workflow_id}/callbacks"


async def delivery_handle(
    client: Client, workflow_id: str, run_id: str | None, rpc_timeout: timedelta
) -> WorkflowHandle[Any, Any]:
    """The delivery of the run ``run_id`` (the latest run when None; a run that continued as
    new finds the delivery registered for its first run)."""
    desc = await client.get_workflow_handle(workflow_id, run_id=run_id).describe(
        rpc_timeout=rpc_timeout
    )
    first = desc.raw_description.workflow_execution_info.first_run_id or desc.run_id
    return client.get_workflow_handle(delivery_workflow_id(workflow_id, first))


class CallbackAttempt(BaseModel):
    number: int
    at: str
    delivered: bool
    status_code: int | None
    error: str | None
    excerpt: str | None = None
    """The start of the receiver's answer (at most 200 bytes of it, as sent)."""


class CallbackState(BaseModel):
    """A workflow's completion webhook: where it stands and its recent attempts."""

    status: str
    """waiting, delivering, delivered, failed or skipped."""
    webhook_id: str
    url: str
    route: str
    workflow_id: str
    run_id: str
    outcomes: list[str]
    outcome: str | None
    attempt_count: int
    attempts: list[CallbackAttempt]
    last_error: str | None
    next_attempt_at: str | None
    delivered_at: str | None
    redeliveries: int
    last_redelivered_at: str | None = None
    """When the last redelivery was accepted (the next one is accepted
    ``API_CALLBACK_REDELIVER_MIN_INTERVAL_SECONDS`` later)."""

    @classmethod
    def of(cls, state: DeliveryState) -> CallbackState:
        return cls.model_validate(dataclasses.asdict(state))
