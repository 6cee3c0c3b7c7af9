"""CallbackDelivery's retry schedule and redelivery window, in seconds, on the time-skipping
server.

The delivery runs as the worker runs it: its real activities wait for a real target (the
shipped ShoppingWorkflow) to close, then POST to a real receiver on loopback; only the clock is
the test server's. What only time shows: a receiver that recovers gets the webhook on the
schedule (initial pause, then doubling); one that never does is given up on when the next pause
would pass the total time, the pauses capped at the maximum interval; a refusal is not retried;
``redeliver`` is accepted inside the window (seven days after the first delivery) and sends
the same webhook again, and the workflow closes when the window ends, not later; redeliveries
are spaced and capped, and many of them continue the delivery as new, its history short and
its state whole.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from gateway_core.callbacks import (
    CallbackRequest,
    DeliveryState,
    DeliveryStatus,
    Outcome,
    RetrySchedule,
    delivery_workflow_id,
)
from gateway_core.routes import RouteFiles
from gateway_worker.config import WorkerSettings
from gateway_worker.worker import build_worker
from gateway_workflows.callbacks.signing import new_secret
from gateway_workflows.callbacks.workflows import CallbackDelivery
from gateway_workflows.registry import (
    CALLBACK_WORKFLOWS,
    WORKFLOWS,
    build_activities,
    build_callback_activities,
)
from gateway_workflows.shop.models import Fruit, OrderItem, ShoppingList
from gateway_workflows.shop.workflows import ShoppingWorkflow
from support.procs import assert_eventually
from support.receiver import Receiver

pytestmark = [pytest.mark.workflows, pytest.mark.asyncio(loop_scope="module")]

WINDOW = timedelta(seconds=CallbackRequest.redeliver_window_seconds)
"""The default redelivery window (a week), the API's too."""
SHOPPING_ROUTE = """\
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {name: shopping}
spec:
  path: shopping
  workflowType: ShoppingWorkflow
  taskQueue: shopping-task-queue
  workflowId: {prefix: shopping-workflow-}
  callbacks:
    allowedDestinations: ["http://127.0.0.1:*"]
    allowPrivateNetworks: true  # the receiver is on loopback
    signingSecret: hooks
"""


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver.start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("webhook-secrets")
    (directory / "hooks").write_text(new_secret() + "\n")
    return directory


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> RouteFiles:
    """The route table the worker checks each attempt against: the shipped shopping route,
    with callbacks to loopback."""
    path = tmp_path_factory.mktemp("routes") / "shopping.yaml"
    path.write_text(SHOPPING_ROUTE)
    return RouteFiles(path)


@pytest_asyncio.fixture(loop_scope="module")
async def workers(
    env: WorkflowEnvironment, task_queue: str, secrets: Path, routes: RouteFiles
) -> AsyncIterator[str]:
    """The route's worker (the shop) and the gateway's callback worker, built as the service
    builds them; yields the callback queue."""
    settings = WorkerSettings(task_queue=task_queue, graceful_shutdown_seconds=1)
    callbacks = f"{task_queue}-callbacks"
    async with (
        build_worker(env.client, settings, WORKFLOWS, build_activities()),
        build_worker(
            env.client,
            settings,
            CALLBACK_WORKFLOWS,
            build_callback_activities(env.client, secrets, routes=routes),
            task_queue=callbacks,
        ),
    ):
        yield callbacks


async def deliver(
    env: WorkflowEnvironment,
    task_queue: str,
    callbacks: str,
    url: str,
    retry: RetrySchedule | None = None,
    **request: Any,
) -> WorkflowHandle[CallbackDelivery, DeliveryState]:
    """Run a shopping workflow, and start the delivery of its completion to ``url``, as the
    API does for a start with a ``Callback-Url``."""
    target = await env.client.start_workflow(
        ShoppingWorkflow.run,
        ShoppingList([OrderItem(Fruit.APPLE, 2)]),
        id=f"shopping-workflow-{uuid.uuid4().hex}",
        task_queue=task_queue,
    )
    run_id = target.result_run_id
    assert run_id is not None
    request = CallbackRequest(
        workflow_id=target.id,
        run_id=run_id,
        route="shopping",
        url=url,
        outcomes=list(Outcome),
        signing_secret="hooks",
        allow_private_networks=True,  # the receiver is on loopback
        retry=retry or RetrySchedule(),
        **request,
    )
    return await env.client.start_workflow(
        CallbackDelivery.run,
        request,
        id=delivery_workflow_id(target.id, run_id),
        task_queue=callbacks,
    )


def attempt_times(state: DeliveryState) -> list[datetime]:
    return [datetime.fromisoformat(attempt.at) for attempt in state.attempts]


def pauses(state: DeliveryState) -> list[float]:
    """Seconds between the starts of successive attempts, on the workflow's clock."""
    times = attempt_times(state)
    return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def schedule(retry: RetrySchedule) -> list[float]:
    """The pauses ``retry`` allows, in order, within its total time."""
    pauses, delay, elapsed = [], retry.initial_seconds, 0.0
    while elapsed + delay <= retry.max_total_seconds:
        pauses.append(delay)
        elapsed += delay
        delay = min(delay * retry.backoff, retry.max_interval_seconds)
    return pauses


def assert_paused(state: DeliveryState, expected: list[float]) -> None:
    """Each pause is the schedule's, plus the (real, short) time the attempt before it took."""
    got = pauses(state)
    assert len(got) == len(expected), (got, expected)
    for pause, want in zip(got, expected, strict=True):
        assert want <= pause < want + 5, (got, expected)


async def lifetime(handle: WorkflowHandle) -> timedelta:
    described = await handle.describe()
    assert described.close_time is not None
    return described.close_time - described.start_time


async def test_a_receiver_that_recovers_gets_the_webhook_on_the_schedule(
    env, task_queue, workers, receiver
) -> None:
    receiver.script["/recovers"] = [503, 503, 503]
    handle = await deliver(env, task_queue, workers, receiver.base + "/recovers")

    state = await handle.result()  # the window's week passes while this waits
    assert state.status == DeliveryStatus.DELIVERED
    assert [(a.status_code, a.delivered) for a in state.attempts] == [
        (503, False), (503, False), (503, False), (200, True),
    ]  # fmt: skip
    assert_paused(state, [5, 10, 20])  # the default schedule: 5 s, then doubling
    assert state.delivered_at is not None
    arrived = receiver.at("/recovers")
    assert [d.headers["webhook-id"] for d in arrived] == [state.webhook_id] * 4
    assert arrived[-1].event["data"]["result"] == "Ordered 2 Apples..."


async def test_a_receiver_that_never_recovers_is_given_up_on_within_the_total_time(
    env, task_queue, workers, receiver
) -> None:
    receiver.script["/down"] = [503] * 1000
    retry = RetrySchedule(max_total_seconds=3600)  # the defaults otherwise: 5 s, x2, 600 s
    handle = await deliver(env, task_queue, workers, receiver.base + "/down", retry)

    state = await handle.result()
    assert state.status == DeliveryStatus.FAILED
    assert state.last_error == "HTTP 503"
    expected = schedule(retry)
    assert expected[:8] == [5, 10, 20, 40, 80, 160, 320, 600]  # then capped at 600 s
    assert_paused(state, expected)
    first, last = attempt_times(state)[0], attempt_times(state)[-1]
    assert (last - first).total_seconds() <= retry.max_total_seconds
    assert len(receiver.at("/down")) == state.attempt_count == len(expected) + 1


async def test_a_refusal_is_not_retried(env, task_queue, workers, receiver) -> None:
    receiver.script["/gone"] = [410]
    handle = await deliver(env, task_queue, workers, receiver.base + "/gone")

    state = await handle.result()
    assert state.status == DeliveryStatus.FAILED
    assert state.attempt_count == 1
    assert state.last_error == "HTTP 410"
    assert len(receiver.at("/gone")) == 1


async def test_redeliver_is_accepted_inside_the_window_which_still_ends_on_time(
    env, task_queue, workers, receiver
) -> None:
    handle = await deliver(env, task_queue, workers, receiver.base + "/again")

    async def delivered() -> bool:
        state = await handle.query(CallbackDelivery.state)
        return state.status == DeliveryStatus.DELIVERED

    await assert_eventually(delivered, timeout=30)
    await env.sleep(WINDOW - timedelta(days=1))
    answer = await handle.execute_update(CallbackDelivery.redeliver)
    assert answer.status == DeliveryStatus.DELIVERING

    state = await handle.result()
    assert state.status == DeliveryStatus.DELIVERED
    assert (state.redeliveries, state.attempt_count) == (1, 2)
    first, again = attempt_times(state)
    assert again - first >= WINDOW - timedelta(days=1)
    # The window counts from the first delivery: a redelivery does not extend it.
    assert WINDOW <= await lifetime(handle) < WINDOW + timedelta(minutes=1)
    arrived = receiver.at("/again")
    assert [d.headers["webhook-id"] for d in arrived] == [state.webhook_id] * 2

    with pytest.raises(RPCError) as closed:  # closed: nothing more is sent
        await handle.execute_update(CallbackDelivery.redeliver)
    assert closed.value.status == RPCStatusCode.NOT_FOUND
    assert len(receiver.at("/again")) == 2


async def runs(handle: WorkflowHandle) -> list[int]:
    """The length of each run's history, first to last, following continue-as-new."""
    lengths = []
    run_id: str | None = handle.first_execution_run_id
    while run_id:
        events = (await handle._client.get_workflow_handle(handle.id, run_id=run_id)
                  .fetch_history()).events  # fmt: skip
        lengths.append(len(events))
        last = events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return lengths


async def refusal(handle: WorkflowHandle) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(CallbackDelivery.redeliver)
    assert isinstance(refused.value.cause, ApplicationError)
    return refused.value.cause


async def test_redeliveries_are_spaced_capped_and_continue_as_new_with_their_state(
    env, task_queue, workers, receiver
) -> None:
    """An attacker's loop of redeliveries: one a minute at most, 25 in all (this delivery's
    cap), and every ten the delivery continues as new, so no run's history grows with them
    while the state (attempts, counters) carries over."""
    handle = await deliver(env, task_queue, workers, receiver.base + "/many", max_redeliveries=25)

    async def sent(count: int) -> DeliveryState | None:
        state = await handle.query(CallbackDelivery.state)  # the latest run answers
        ok = state.status == DeliveryStatus.DELIVERED and state.attempt_count == count
        return state if ok else None

    await assert_eventually(lambda: sent(1), timeout=30)
    for redelivery in range(1, 26):
        if redelivery == 2:
            too_soon = await refusal(handle)
            assert too_soon.type == "RedeliveryTooSoon"
            assert 0 < too_soon.details[0]["retry_after_seconds"] <= 60
        if redelivery > 1:
            await env.sleep(60)
        await handle.execute_update(CallbackDelivery.redeliver)
        state = await assert_eventually(lambda n=redelivery: sent(n + 1), timeout=30)
        assert state.redeliveries == redelivery
    capped = await refusal(handle)
    assert capped.type == "CallbackBusy"
    assert capped.message == "the callback was sent again 25 times, the most allowed"

    state = await handle.result()  # the window's end, in the last run
    assert (state.status, state.attempt_count, state.redeliveries) == (
        DeliveryStatus.DELIVERED, 26, 25,
    )  # fmt: skip
    assert [a.number for a in state.attempts] == list(range(1, 27))
    arrived = receiver.at("/many")
    assert [d.headers["webhook-id"] for d in arrived] == [state.webhook_id] * 26
    lengths = await runs(handle)
    assert len(lengths) == 3, lengths  # ten redeliveries a run
    assert max(lengths) < 200, lengths
