"""The shop's activities: the side-effecting steps its workflows call."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gateway_workflows.shop.models import Charge, Fruit, OrderItem, StockReservation

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


class OrderActivities:
    """The order's activities: stock and payment. A class, so the real stock and payment clients
    can be passed in when built; these stand-ins only log and describe what they would do."""

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, reservation: StockReservation) -> None:
        """Hold stock for the lines of an order (more lines may follow for the same order)."""
        activity.logger.info(
            "stock reserved",
            extra={"order_id": reservation.order_id, "lines": len(reservation.items)},
        )

    @activity.defn(name="release_stock")
    async def release_stock(self, reservation: StockReservation) -> None:
        """Give back what an order holds: the compensation when it will not be charged."""
        activity.logger.info(
            "stock released",
            extra={"order_id": reservation.order_id, "lines": len(reservation.items)},
        )

    @activity.defn(name="charge_order")
    async def charge_order(self, charge: Charge) -> str:
        """Charge the customer and return the receipt."""
        activity.logger.info(
            "order charged",
            extra={"order_id": charge.order_id, "total_cents": charge.total_cents},
        )
        return (
            f"Charged {charge.total_cents} cents to {charge.customer} for {charge.items} items "
            f"(approved by {charge.approved_by})"
        )
