"""OrderWorkflow on a real Temporal dev server, driven through the Temporal SDK (the HTTP
endpoints have their own tests): start, query, update, signal, cancel, and the compensation that
must run when an order is cancelled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, CancelledError

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
    OrderProgress,
    OrderState,
    OrderTotal,
    StockReservation,
)
from gateway_workflows.shop.workflows import OrderWorkflow
from support.procs import assert_eventually

pytestmark = pytest.mark.integration

ALICE = OrderInput(
    customer="alice",
    items=[OrderItem(Fruit.APPLE, 2), OrderItem(Fruit.BANANA, 2)],  # 100 + 50 cents
)


async def start(client: Client, task_queue: str, order: OrderInput = ALICE) -> WorkflowHandle:
    return await client.start_workflow(
        OrderWorkflow.run, order, id=f"order-{uuid.uuid4().hex}", task_queue=task_queue
    )


async def progress(handle: WorkflowHandle) -> OrderProgress:
    # The first query may come before the first workflow task: retry until it answers.
    answer: OrderProgress = await assert_eventually(
        lambda: handle.query(OrderWorkflow.progress), timeout=10
    )
    return answer


async def completed_activities(
    client: Client, handle: WorkflowHandle
) -> list[tuple[str, StockReservation | Charge]]:
    """The activities that completed, in order, each with its decoded input."""
    types = {"reserve_stock": StockReservation, "release_stock": StockReservation,
             "charge_order": Charge}  # fmt: skip
    scheduled = {}
    done = []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            name = attrs.activity_type.name
            [arg] = await client.data_converter.decode(attrs.input.payloads, [types[name]])
            scheduled[event.event_id] = (name, arg)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done.append(
                scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
            )
    return done


async def has_event(handle: WorkflowHandle, event_type: EventType.ValueType) -> bool:
    return any([e.event_type == event_type async for e in handle.fetch_history_events()])


async def test_order_is_reserved_grown_approved_and_charged(client, task_queue, worker) -> None:
    handle = await start(client, task_queue)
    assert await progress(handle) == OrderProgress(
        state=OrderState.AWAITING_APPROVAL,
        customer="alice",
        items=2,
        total_cents=150,
        approved_by=None,
    )

    added = await handle.execute_update(OrderWorkflow.add_item, OrderItem(Fruit.ORANGE, 1))
    assert added == OrderTotal(items=3, total_cents=230)
    assert (await progress(handle)).total_cents == 230

    await handle.signal(OrderWorkflow.approve, Approval(approver="bob"))
    assert await handle.result() == "Charged 230 cents to alice for 3 items (approved by bob)"
    assert await progress(handle) == OrderProgress(
        state=OrderState.COMPLETED, customer="alice", items=3, total_cents=230, approved_by="bob"
    )

    done = await completed_activities(client, handle)
    assert [name for name, _ in done][-1] == "charge_order"
    reserved = [item for name, arg in done if name == "reserve_stock" for item in arg.items]
    assert reserved == [*ALICE.items, OrderItem(Fruit.ORANGE, 1)], "each line, once"
    assert "release_stock" not in [name for name, _ in done]


@pytest.mark.parametrize(
    ("item", "error_type", "message"),
    [
        (OrderItem(Fruit.APPLE, 0), "InvalidOrderItem", "amount must be between 1 and 1000, got 0"),
        (OrderItem(Fruit.APPLE, 1001), "InvalidOrderItem", "between 1 and 1000, got 1001"),
        (OrderItem(Fruit.APPLE, -5), "InvalidOrderItem", "between 1 and 1000, got -5"),
    ],
)
async def test_add_item_refuses_a_bad_amount(
    client, task_queue, worker, item, error_type, message
) -> None:
    handle = await start(client, task_queue)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(OrderWorkflow.add_item, item)
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == error_type
    assert message in info.value.cause.message
    # Refused by the validator: the order is unchanged and the refusal left no history.
    assert (await progress(handle)).items == 2
    assert not await has_event(handle, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)


async def test_add_item_refuses_a_line_past_the_hundredth(client, task_queue, worker) -> None:
    full = OrderInput(customer="alice", items=[OrderItem(Fruit.BANANA, 1)] * 100)
    handle = await start(client, task_queue, full)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(OrderWorkflow.add_item, OrderItem(Fruit.APPLE, 1))
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "OrderTooLong"
    assert "already has 100 lines" in info.value.cause.message
    assert (await progress(handle)).items == 100


async def test_an_order_without_items_fails_at_once(client, task_queue, worker) -> None:
    handle = await start(client, task_queue, OrderInput(customer="alice", items=[]))
    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "EmptyOrder"


async def test_cancel_while_awaiting_approval_releases_the_stock(
    client, task_queue, worker
) -> None:
    handle = await start(client, task_queue)
    # Cancel once the reservation is made, so the request finds the order waiting.
    await assert_eventually(lambda: has_event(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED))
    await handle.cancel()

    with pytest.raises(WorkflowFailureError) as info:
        await handle.result()
    assert isinstance(info.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert await completed_activities(client, handle) == [
        ("reserve_stock", StockReservation(handle.id, ALICE.items)),
        ("release_stock", StockReservation(handle.id, ALICE.items)),
    ]
    assert (await progress(handle)).state == OrderState.CANCELLED


@dataclass
class HeldCharge:
    """A ``charge_order`` that answers only when the test lets it, so the test can act while
    the order is being charged."""

    released: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name="charge_order")
    async def charge_order(self, charge: Charge) -> str:
        await self.released.wait()
        return await OrderActivities().charge_order(charge)


@pytest.fixture
async def held_charge(client, task_queue) -> AsyncIterator[HeldCharge]:
    """The real workflows and stock activities, with the charge held until released."""
    held, shop = HeldCharge(), OrderActivities()
    worker = build_worker(
        client,
        WorkerSettings(task_queue=task_queue, graceful_shutdown_seconds=1),
        WORKFLOWS,
        [shop.reserve_stock, shop.release_stock, held.charge_order],
    )
    async with worker:
        yield held
        held.released.set()  # let a charge still waiting finish before the worker stops


async def charging(handle: WorkflowHandle) -> bool:
    return (await handle.query(OrderWorkflow.progress)).state == OrderState.CHARGING


async def test_add_item_is_refused_once_the_order_is_approved(
    client, task_queue, held_charge
) -> None:
    handle = await start(client, task_queue)
    await handle.signal(OrderWorkflow.approve, Approval(approver="bob"))
    await assert_eventually(lambda: charging(handle))

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(OrderWorkflow.add_item, OrderItem(Fruit.APPLE, 1))
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "OrderClosed"
    assert "already approved by bob" in info.value.cause.message

    held_charge.released.set()
    assert await handle.result() == "Charged 150 cents to alice for 2 items (approved by bob)"


async def test_cancel_during_the_charge_waits_for_it_and_keeps_the_stock(
    client, task_queue, held_charge
) -> None:
    """A charge cannot be undone by releasing stock: the order waits for the charge's outcome,
    and as the charge went through, it completes."""
    handle = await start(client, task_queue)
    await handle.signal(OrderWorkflow.approve, Approval(approver="bob"))
    await assert_eventually(lambda: charging(handle))
    await handle.cancel()
    await assert_eventually(
        lambda: has_event(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED)
    )

    held_charge.released.set()
    assert await handle.result() == "Charged 150 cents to alice for 2 items (approved by bob)"
    names = [name for name, _ in await completed_activities(client, handle)]
    assert names == ["reserve_stock", "charge_order"]
