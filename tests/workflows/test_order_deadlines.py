"""OrderWorkflow's week of waiting and its compensation, in seconds, on the time-skipping server.

What only time shows: an order never approved fails after :data:`APPROVAL_WAIT` (seven days)
and gives its stock back; an approval on the sixth day is in time; a line added on the way does
not move the deadline; a charge that fails, at once or after its five tries on the retry
schedule, releases the stock; the release itself is retried until it goes through. (The
paths that need no clock, cancellation included, are in tests/integration/test_order_workflow.py.)
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from gateway_worker.config import WorkerSettings
from gateway_worker.worker import build_worker
from gateway_workflows.registry import WORKFLOWS
from gateway_workflows.shop.activities import OrderActivities
from gateway_workflows.shop.models import (
    Approval,
    Charge,
    Fruit,
    OrderInput,
    OrderItem,
    OrderState,
    StockReservation,
)
from gateway_workflows.shop.workflows import (
    APPROVAL_WAIT,
    ORDER_NOT_APPROVED,
    OrderWorkflow,
)
from support.procs import assert_eventually

pytestmark = [pytest.mark.workflows, pytest.mark.asyncio(loop_scope="module")]

ALICE = OrderInput(
    customer="alice",
    items=[OrderItem(Fruit.APPLE, 2), OrderItem(Fruit.BANANA, 2)],  # 100 + 50 cents
)
RECEIPT = "Charged 150 cents to alice for 2 items (approved by bob)"


@dataclass(frozen=True)
class Call:
    name: str
    attempt: int
    started: datetime
    """When this attempt started, on the server's (skipped) clock."""
    arg: Any


@dataclass
class ShopLedger:
    """Stands in for the shop's side effects, stock and payment, under the activity names the
    order calls: it records each attempt, fails those a test asks to fail, and otherwise does
    what the real activity does (:class:`OrderActivities`). The faults under test are about
    time and order, not about a shop."""

    charge_faults: list[ApplicationError] = field(default_factory=list)
    """Raised by the first charge attempts, one each; the last is raised for ever after."""
    release_faults: int = 0
    """How many release attempts fail (retryably) before one goes through."""
    calls: list[Call] = field(default_factory=list)

    def _record(self, name: str, arg: Any) -> int:
        info = activity.info()
        self.calls.append(Call(name, info.attempt, info.started_time, arg))
        return info.attempt

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, reservation: StockReservation) -> None:
        self._record("reserve_stock", reservation)
        await OrderActivities().reserve_stock(reservation)

    @activity.defn(name="release_stock")
    async def release_stock(self, reservation: StockReservation) -> None:
        if self._record("release_stock", reservation) <= self.release_faults:
            raise ApplicationError("the stock service is down", type="StockUnavailable")
        await OrderActivities().release_stock(reservation)

    @activity.defn(name="charge_order")
    async def charge_order(self, charge: Charge) -> str:
        attempt = self._record("charge_order", charge)
        if self.charge_faults:
            raise self.charge_faults[min(attempt, len(self.charge_faults)) - 1]
        return await OrderActivities().charge_order(charge)

    def names(self) -> list[str]:
        return [call.name for call in self.calls]

    def attempts(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]


@pytest.fixture
def shop() -> ShopLedger:
    return ShopLedger()


@pytest_asyncio.fixture(loop_scope="module")
async def worker(
    env: WorkflowEnvironment, task_queue: str, shop: ShopLedger
) -> AsyncIterator[None]:
    """The shipped workflows in the worker the service builds (sandbox included), with the
    shop's activities recorded."""
    async with build_worker(
        env.client,
        WorkerSettings(task_queue=task_queue, graceful_shutdown_seconds=1),
        WORKFLOWS,
        [shop.reserve_stock, shop.release_stock, shop.charge_order],
    ):
        yield


async def start(env: WorkflowEnvironment, task_queue: str) -> WorkflowHandle:
    return await env.client.start_workflow(
        OrderWorkflow.run, ALICE, id=f"order-{uuid.uuid4().hex}", task_queue=task_queue
    )


async def reserved(shop: ShopLedger) -> None:
    """Once the first reservation ran, the order has set its deadline (in its first task)."""
    await assert_eventually(lambda: "reserve_stock" in shop.names(), timeout=30)


async def lifetime(handle: WorkflowHandle) -> timedelta:
    described = await handle.describe()
    assert described.close_time is not None
    return described.close_time - described.start_time


async def failure_of(handle: WorkflowHandle) -> BaseException:
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert failed.value.cause is not None
    return failed.value.cause


def gaps(calls: list[Call]) -> list[float]:
    """Seconds between the starts of successive attempts, on the server's clock."""
    return [(b.started - a.started).total_seconds() for a, b in itertools.pairwise(calls)]


def assert_on_schedule(calls: list[Call], pauses: list[float]) -> None:
    """Each pause is the retry policy's, plus the (real, short) time the failed attempt ran."""
    for got, want in zip(gaps(calls), pauses, strict=True):
        assert want <= got < want + 5, (gaps(calls), pauses)


async def test_an_order_never_approved_fails_after_seven_days_and_releases_its_stock(
    env, task_queue, worker, shop
) -> None:
    handle = await start(env, task_queue)
    cause = await failure_of(handle)  # the clock skips the week while this waits

    assert isinstance(cause, ApplicationError)
    assert cause.type == ORDER_NOT_APPROVED
    assert cause.message == "the order was not approved within 7 days"
    assert cause.non_retryable
    assert APPROVAL_WAIT <= await lifetime(handle) < APPROVAL_WAIT + timedelta(minutes=1)
    assert shop.names() == ["reserve_stock", "release_stock"]
    assert shop.attempts("release_stock")[0].arg == StockReservation(handle.id, ALICE.items)
    assert (await handle.query(OrderWorkflow.progress)).state == OrderState.FAILED


async def test_an_approval_on_the_sixth_day_is_in_time(env, task_queue, worker, shop) -> None:
    handle = await start(env, task_queue)
    await reserved(shop)
    await env.sleep(timedelta(days=6))
    await handle.signal(OrderWorkflow.approve, Approval(approver="bob"))

    assert await handle.result() == RECEIPT
    assert timedelta(days=6) <= await lifetime(handle) < APPROVAL_WAIT
    assert shop.names() == ["reserve_stock", "charge_order"]


async def test_a_line_added_on_the_way_does_not_move_the_deadline(
    env, task_queue, worker, shop
) -> None:
    handle = await start(env, task_queue)
    await reserved(shop)
    await env.sleep(timedelta(days=3))
    orange = OrderItem(Fruit.ORANGE, 1)
    await handle.execute_update(OrderWorkflow.add_item, orange)

    cause = await failure_of(handle)
    assert isinstance(cause, ApplicationError)
    assert cause.type == ORDER_NOT_APPROVED
    assert APPROVAL_WAIT <= await lifetime(handle) < APPROVAL_WAIT + timedelta(minutes=1)
    assert [(c.name, c.arg) for c in shop.calls] == [
        ("reserve_stock", StockReservation(handle.id, ALICE.items)),
        ("reserve_stock", StockReservation(handle.id, [orange])),
        ("release_stock", StockReservation(handle.id, [*ALICE.items, orange])),
    ]


async def test_a_declined_charge_releases_the_stock_and_fails_the_order(
    env, task_queue, worker, shop
) -> None:
    shop.charge_faults = [
        ApplicationError("card declined", type="CardDeclined", non_retryable=True)
    ]
    handle = await start(env, task_queue)
    await handle.signal(OrderWorkflow.approve, Approval(approver="bob"))

    cause = await failure_of(handle)
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "CardDeclined"
    assert shop.names() == ["reserve_stock", "charge_order", "release_stock"]
    assert (await handle.query(OrderWorkflow.progress)).state == OrderState.FAILED


async def test_a_failing_charge_is_tried_five_times_on_its_schedule_then_compensated(
    env, task_queue, worker, shop
) -> None:
    shop.charge_faults = [ApplicationError("the payment provider is down", type="Unavailable")]
    handle = await start(env, task_queue)
    await handle.signal(OrderWorkflow.approve, Approval(approver="bob"))

    cause = await failure_of(handle)
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "Unavailable"
    charges = shop.attempts("charge_order")
    assert [c.attempt for c in charges] == [1, 2, 3, 4, 5]  # ORDER_RETRY.maximum_attempts
    assert_on_schedule(charges, [1, 2, 4, 8])  # ORDER_RETRY: 1 s, doubling
    assert shop.names()[-1] == "release_stock"


async def test_the_release_is_retried_until_it_goes_through(env, task_queue, worker, shop) -> None:
    shop.release_faults = 4
    handle = await start(env, task_queue)

    cause = await failure_of(handle)
    assert isinstance(cause, ApplicationError)
    assert cause.type == ORDER_NOT_APPROVED, "the order's own failure, not the release's"
    releases = shop.attempts("release_stock")
    assert [c.attempt for c in releases] == [1, 2, 3, 4, 5]
    assert_on_schedule(releases, [1, 2, 4, 8])  # RELEASE_RETRY: 1 s, doubling (20 tries)
