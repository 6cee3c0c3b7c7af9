"""Activities: the side-effecting steps workflows call."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gateway_workflows.models import Fruit, OrderItem

INVALID_ORDER_ITEM = "InvalidOrderItem"


class ShoppingActivities:
    """The shop's activities. A class, so a real shop client can be passed in when built."""

    @activity.defn(name="order_fruit")
    async def order_fruit(self, item: OrderItem) -> str:
        """Place the order for one item and describe it."""
        if item.amount <= 0:
            # Retrying cannot make a bad amount good.
            raise ApplicationError(
                f"amount must be positive, got {item.amount}",
                type=INVALID_ORDER_ITEM,
                non_retryable=True,
            )
        fruit = Fruit(item.fruit)
        activity.logger.info("ordered fruit", extra={"fruit": fruit.value, "amount": item.amount})
        return f"Ordered {item.amount} {fruit.label(item.amount)}..."
