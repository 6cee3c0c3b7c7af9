"""The shop's workflows. Sandbox-safe: deterministic code and passed-through models only."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError, is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from gateway_workflows.shop.activities import (
        INVALID_ORDER_ITEM,
        OrderActivities,
        ShoppingActivities,
    )
    from gateway_workflows.shop.models import (
        MAX_AMOUNT,
        MAX_LINES,
        Approval,
        Charge,
        OrderInput,
        OrderItem,
        OrderProgress,
        OrderState,
        OrderTotal,
        ShoppingList,
        StockReservation,
    )

EMPTY_SHOPPING_LIST = "EmptyShoppingList"
EMPTY_ORDER = "EmptyOrder"
ORDER_TOO_LONG = "OrderTooLong"
ORDER_CLOSED = "OrderClosed"
ORDER_NOT_APPROVED = "OrderNotApproved"

# A shop call is quick; a minute covers a slow one, and five tries ride out a short outage
# without hiding a broken shop for long.
ORDER_TIMEOUT = timedelta(minutes=1)
ORDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[INVALID_ORDER_ITEM],
)
# Releasing stock is the compensation: worth trying for longer (about a quarter of an hour)
# before the order gives up and leaves the stock for the shop to reclaim.
RELEASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
)
# Long enough for a person to get round to it over a weekend, short enough that reserved stock
# does not stay held forever.
APPROVAL_WAIT = timedelta(days=7)


@workflow.defn
class ShoppingWorkflow:
    """Orders every item of a shopping list, one activity per item, in list order."""

    @workflow.run
    async def run(self, shopping_list: ShoppingList) -> str:
        if not shopping_list.items:
            raise ApplicationError(
                "the shopping list is empty", type=EMPTY_SHOPPING_LIST, non_retryable=True
            )
        receipts = []
        for item in shopping_list.items:
            receipts.append(
                await workflow.execute_activity_method(
                    ShoppingActivities.order_fruit,
                    item,
                    start_to_close_timeout=ORDER_TIMEOUT,
                    retry_policy=ORDER_RETRY,
                )
            )
        workflow.logger.info("shopping list ordered", extra={"items": len(receipts)})
        return "".join(receipts)


def _check_item(item: OrderItem) -> None:
    if not 1 <= item.amount <= MAX_AMOUNT:
        raise ApplicationError(
            f"amount must be between 1 and {MAX_AMOUNT}, got {item.amount}",
            type=INVALID_ORDER_ITEM,
            non_retryable=True,
        )


@workflow.defn
class OrderWorkflow:
    """An order that waits for someone to approve it before the customer is charged.

    It reserves the stock of its lines (and of lines added by ``add_item`` while it waits),
    waits up to :data:`APPROVAL_WAIT` for ``approve``, then charges. A cancel request before
    the charge completes, or any failure on the way, releases the stock before the order closes.
    """

    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        # Set up from the input before any handler runs: a signal or update may come with the
        # start (signal-with-start, update-with-start) and must see the order.
        self._customer = order.customer
        self._items = list(order.items)
        self._reserved = 0
        self._approval: Approval | None = None
        self._state = OrderState.AWAITING_APPROVAL

    @workflow.run
    async def run(self, order: OrderInput) -> str:
        if not order.items:
            raise ApplicationError("the order has no items", type=EMPTY_ORDER, non_retryable=True)
        if len(order.items) > MAX_LINES:
            raise ApplicationError(
                f"an order may have at most {MAX_LINES} lines, got {len(order.items)}",
                type=ORDER_TOO_LONG,
                non_retryable=True,
            )
        for item in order.items:
            _check_item(item)
        order_id = workflow.info().workflow_id
        try:
            approval = await self._reserve_until_approved(order_id)
            self._state = OrderState.CHARGING
            receipt = await workflow.execute_activity_method(
                OrderActivities.charge_order,
                Charge(
                    order_id,
                    self._customer,
                    len(self._items),
                    self._total_cents(),
                    approval.approver,
                ),
                start_to_close_timeout=ORDER_TIMEOUT,
                retry_policy=ORDER_RETRY,
                # Releasing stock cannot undo a charge: on a cancel request, wait for the
                # charge's own outcome. If it went through, the order completes.
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except (asyncio.CancelledError, FailureError) as err:
            # A cancel request shows up as asyncio's CancelledError while waiting, but as an
            # ActivityError caused by a cancellation while an activity runs.
            cancelled = is_cancelled_exception(err)
            self._state = OrderState.CANCELLED if cancelled else OrderState.FAILED
            await self._release(order_id)
            raise  # unchanged, so a cancelled order closes as Cancelled, not Failed
        self._state = OrderState.COMPLETED
        workflow.logger.info("order charged", extra={"total_cents": self._total_cents()})
        return receipt

    @workflow.signal
    def approve(self, approval: Approval) -> None:
        """Let the order be charged. Only the first approval counts, and only while it waits."""
        if self._approval is not None or self._state is not OrderState.AWAITING_APPROVAL:
            workflow.logger.warning(
                "approval ignored", extra={"approver": approval.approver, "state": self._state}
            )
            return
        self._approval = approval

    @workflow.query
    def progress(self) -> OrderProgress:
        return OrderProgress(
            state=self._state,
            customer=self._customer,
            items=len(self._items),
            total_cents=self._total_cents(),
            approved_by=self._approval.approver if self._approval else None,
        )

    @workflow.update
    def add_item(self, item: OrderItem) -> OrderTotal:
        """Add a line; the workflow reserves its stock before it charges."""
        self._items.append(item)
        return OrderTotal(items=len(self._items), total_cents=self._total_cents())

    @add_item.validator
    def _validate_item(self, item: OrderItem) -> None:
        # A refusal here rejects the update before it enters the history.
        if self._approval is not None:
            raise ApplicationError(
                f"the order was already approved by {self._approval.approver}: "
                "no more items can be added",
                type=ORDER_CLOSED,
            )
        if self._state is not OrderState.AWAITING_APPROVAL:
            raise ApplicationError(
                f"the order is {self._state.value}: no more items can be added", type=ORDER_CLOSED
            )
        if len(self._items) >= MAX_LINES:
            raise ApplicationError(
                f"the order already has {MAX_LINES} lines, the most it may have",
                type=ORDER_TOO_LONG,
            )
        _check_item(item)

    async def _reserve_until_approved(self, order_id: str) -> Approval:
        """Reserve each line as it arrives until the order is approved; fail at the deadline."""
        deadline = workflow.now() + APPROVAL_WAIT
        while True:
            if self._reserved < len(self._items):
                lines = self._items[self._reserved :]
                await workflow.execute_activity_method(
                    OrderActivities.reserve_stock,
                    StockReservation(order_id, lines),
                    start_to_close_timeout=ORDER_TIMEOUT,
                    retry_policy=ORDER_RETRY,
                )
                self._reserved += len(lines)
            elif self._approval is not None:
                # Lines can no longer be added (the validator refuses), so all are reserved.
                return self._approval
            else:
                try:
                    await workflow.wait_condition(
                        lambda: self._approval is not None or self._reserved < len(self._items),
                        # At least a second: a timer must have a positive duration.
                        timeout=max(deadline - workflow.now(), timedelta(seconds=1)),
                    )
                except TimeoutError:
                    raise ApplicationError(
                        f"the order was not approved within {APPROVAL_WAIT.days} days",
                        type=ORDER_NOT_APPROVED,
                        non_retryable=True,
                    ) from None

    async def _release(self, order_id: str) -> None:
        # Every line, reserved or not: a reservation may have gone through just before it was
        # cancelled, and releasing what was never reserved is harmless (StockReservation).
        await workflow.execute_activity_method(
            OrderActivities.release_stock,
            StockReservation(order_id, list(self._items)),
            start_to_close_timeout=ORDER_TIMEOUT,
            retry_policy=RELEASE_RETRY,
        )

    def _total_cents(self) -> int:
        return sum(item.total_cents for item in self._items)
