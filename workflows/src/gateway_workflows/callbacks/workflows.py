"""``CallbackDelivery``: waits for one workflow run to close, then delivers its completion
webhook until the receiver takes it or the retry schedule runs out, then stays open for the
redelivery window so ``POST …/callbacks/redeliver`` can send it again.

The retries are driven here rather than by the delivery activity's retry policy, so every
attempt's status code and error is in the workflow's state (the ``state`` query); a Temporal
retry policy shows the workflow only the last failure. The schedule is the same: exponential
backoff, a maximum interval, a bounded total time. Each attempt is one activity execution
(``maximum_attempts=1``): an attempt lost with its worker times out, counts as a failed attempt
and is retried on schedule. Timers and state are Temporal's, so a worker restart loses nothing.

With a payload codec (``CallbackRequest.codec``), the result stays encoded in this workflow's
history, as Temporal stores it; each attempt decodes it into the body it sends, so the
plaintext is never stored, and a codec the worker cannot reach is a failed attempt, retried.

Redeliveries are bounded: ``max_redeliveries`` in all, ``redeliver_min_interval_seconds``
apart, refused by the update's validator (so a refusal leaves no event). After
:data:`REDELIVERIES_PER_RUN` redeliveries, or when Temporal suggests it, the delivery continues
as new, carrying the close, its state and the window's end (:class:`Carried`), so its history
stays short however long the window and the ``state`` query answers the same across runs.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from gateway_core.callbacks import (
        CALLBACK_BUSY,
        CALLBACK_WORKFLOW,
        KEPT_ATTEMPTS,
        REDELIVER_UPDATE,
        REDELIVERY_TOO_SOON,
        STATE_QUERY,
        Attempt,
        AttemptResult,
        AwaitClose,
        CallbackRequest,
        Carried,
        Closed,
        DeliveryAttempt,
        DeliveryState,
        DeliveryStatus,
        webhook_id,
    )
    from gateway_workflows.callbacks.activities import CallbackActivities

REDELIVERIES_PER_RUN = 10
"""Redeliveries one run makes before it continues as new (each adds about 13 events)."""
CONTINUE_AS_NEW_PATCH = "continue-as-new-after-redeliveries"
"""Runs started before deliveries could continue as new lack its marker: they never do."""
# Talking to Temporal (the close long-poll) is retried for as long as it takes.
_AWAIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
_ONE_TRY = RetryPolicy(maximum_attempts=1)


def payload(closed: Closed, route: str) -> dict[str, object]:
    """The delivery body: Standard Webhooks' ``type``/``timestamp``/``data`` envelope. It names
    the route, under the signature: a receiver that checks ``data.route`` refuses another
    route's deliveries even when both routes' secrets are the same."""
    data: dict[str, object] = {
        "workflow_id": closed.workflow_id,
        "run_id": closed.run_id,
        "route": route,
        "outcome": closed.outcome.value,
        "start_time": closed.start_time,
        "close_time": closed.close_time,
    }
    if closed.failure is None:
        data["result"] = closed.result
        if closed.result_type is not None:
            data["result_type"] = closed.result_type
    else:
        data["failure"] = closed.failure
    return {"type": f"workflow.{closed.outcome.value}", "timestamp": closed.close_time,
            "data": data}  # fmt: skip


@workflow.defn(name=CALLBACK_WORKFLOW)
class CallbackDelivery:
    @workflow.init
    def __init__(self, request: CallbackRequest) -> None:
        self._request = request
        carried = request.carried
        self._state = carried.state if carried is not None else DeliveryState(
            status=DeliveryStatus.WAITING,
            webhook_id=webhook_id(workflow.info().workflow_id),
            url=request.url,
            route=request.route,
            workflow_id=request.workflow_id,
            run_id=request.run_id,
            outcomes=list(request.outcomes),
        )  # fmt: skip
        self._redeliver = carried.redeliver if carried is not None else False

    @workflow.run
    async def run(self, request: CallbackRequest) -> DeliveryState:
        carried = request.carried
        if carried is None:
            closed: Closed | None = None
            while closed is None:
                closed = await workflow.execute_activity_method(
                    CallbackActivities.await_close,
                    AwaitClose(
                        request.workflow_id,
                        request.run_id,
                        request.close_poll_seconds,
                        request.codec,
                    ),
                    start_to_close_timeout=timedelta(seconds=request.close_poll_seconds + 60),
                    heartbeat_timeout=timedelta(seconds=30),
                    retry_policy=_AWAIT_RETRY,
                )
                if closed is None and workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(request)
            self._state.outcome = closed.outcome
            self._state.run_id = closed.run_id
            if closed.outcome not in request.outcomes:
                self._state.status = DeliveryStatus.SKIPPED
                return self._state
            body = payload(closed, request.route)
            await self._deliver(request, body, closed)
            deadline = workflow.now() + timedelta(seconds=request.redeliver_window_seconds)
        else:
            closed = carried.closed
            body = payload(closed, request.route)
            deadline = datetime.fromisoformat(carried.window_ends_at)
        # A run carrying state was started by this code; one that is not continues as new only
        # if it recorded the patch (one started before never does: its history has no such
        # command to replay).
        bounded = carried is not None or workflow.patched(CONTINUE_AS_NEW_PATCH)
        redelivered = 0
        while True:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                break
            try:
                await workflow.wait_condition(lambda: self._redeliver, timeout=remaining)
            except TimeoutError:
                break
            self._redeliver = False
            await self._deliver(request, body, closed)
            redelivered += 1
            if bounded and (
                redelivered >= REDELIVERIES_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    dataclasses.replace(
                        request,
                        carried=Carried(closed, self._state, deadline.isoformat(), self._redeliver),
                    )
                )
        return self._state

    async def _deliver(
        self, request: CallbackRequest, body: dict[str, object], closed: Closed
    ) -> None:
        retry = request.retry
        state = self._state
        state.status = DeliveryStatus.DELIVERING
        deadline = workflow.now() + timedelta(seconds=retry.max_total_seconds)
        delay = retry.initial_seconds
        while True:
            at = workflow.now()
            try:
                result = await workflow.execute_activity_method(
                    CallbackActivities.deliver,
                    DeliveryAttempt(
                        url=request.url,
                        webhook_id=state.webhook_id,
                        payload=body,
                        signing_secret=request.signing_secret,
                        allow_private_networks=request.allow_private_networks,
                        timeout_seconds=retry.attempt_timeout_seconds,
                        route=request.route,
                        outcome=state.outcome or request.outcomes[0],
                        codec=request.codec,
                        encoded_result=closed.encoded_result,
                        encoded_failure=closed.encoded_failure,
                        workflow_id=request.workflow_id,
                    ),
                    # The HTTP timeout, the secret read and the DNS lookup, with a margin.
                    start_to_close_timeout=timedelta(seconds=retry.attempt_timeout_seconds + 15),
                    retry_policy=_ONE_TRY,
                )
            except ActivityError as exc:  # the attempt was lost (a worker died, a timeout)
                cause = exc.cause or exc
                result = AttemptResult(delivered=False, error=f"attempt lost: {cause}")
            state.attempt_count += 1
            state.attempts.append(
                Attempt(state.attempt_count, at.isoformat(), result.delivered,
                        result.status_code, result.error, result.excerpt)
            )  # fmt: skip
            del state.attempts[:-KEPT_ATTEMPTS]
            if result.delivered:
                state.status = DeliveryStatus.DELIVERED
                state.delivered_at = workflow.now().isoformat()
                state.next_attempt_at = None
                return
            state.last_error = result.error
            if not result.retryable or workflow.now() + timedelta(seconds=delay) > deadline:
                state.status = DeliveryStatus.FAILED
                state.next_attempt_at = None
                workflow.logger.warning("callback gave up", extra={"error": result.error})
                return
            state.next_attempt_at = (workflow.now() + timedelta(seconds=delay)).isoformat()
            await workflow.sleep(delay)
            delay = min(delay * retry.backoff, retry.max_interval_seconds)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> DeliveryState:
        return self._state

    @workflow.update(name=REDELIVER_UPDATE)
    def redeliver(self) -> DeliveryState:
        self._redeliver = True
        self._state.status = DeliveryStatus.DELIVERING
        self._state.redeliveries += 1
        self._state.last_redelivered_at = workflow.now().isoformat()
        return self._state

    @redeliver.validator
    def _can_redeliver(self) -> None:
        # Refused before it enters the history: nothing to send yet, already sending, sent
        # again as often as allowed, or too soon after the last time (a caller cannot make
        # the gateway a request amplifier, nor grow this history without end).
        state, request = self._state, self._request
        if self._redeliver or state.status not in (
            DeliveryStatus.DELIVERED,
            DeliveryStatus.FAILED,
        ):
            raise ApplicationError(
                f"the callback is {state.status.value}: only a delivered or failed "
                "callback can be sent again",
                type=CALLBACK_BUSY,
            )
        if state.redeliveries >= request.max_redeliveries:
            raise ApplicationError(
                f"the callback was sent again {state.redeliveries} times, the most allowed",
                type=CALLBACK_BUSY,
            )
        if state.last_redelivered_at is not None:
            due = datetime.fromisoformat(state.last_redelivered_at) + timedelta(
                seconds=request.redeliver_min_interval_seconds
            )
            wait = (due - workflow.now()).total_seconds()
            if wait > 0:
                raise ApplicationError(
                    f"the callback was sent again less than "
                    f"{request.redeliver_min_interval_seconds:g}s ago",
                    {"retry_after_seconds": math.ceil(wait)},
                    type=REDELIVERY_TOO_SOON,
                )
