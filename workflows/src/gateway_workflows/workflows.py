"""Workflow definitions. Sandbox-safe: deterministic code and passed-through models only."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from gateway_workflows.activities import INVALID_ORDER_ITEM, ShoppingActivities
    from gateway_workflows.models import ShoppingList

EMPTY_SHOPPING_LIST = "EmptyShoppingList"

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
