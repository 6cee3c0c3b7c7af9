"""Inputs and results of the shop's workflows, activities and messages: plain dataclasses the
default converter maps from (and to) the JSON the gateway forwards."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Fruit(StrEnum):
    """What the shop sells. The shipped routes' JSON Schemas list the same names."""

    APPLE = "APPLE"
    BANANA = "BANANA"
    ORANGE = "ORANGE"

    def label(self, amount: int) -> str:
        name = self.value.capitalize()
        return name if amount == 1 else f"{name}s"

    @property
    def unit_price_cents(self) -> int:
        return UNIT_PRICE_CENTS[self]


UNIT_PRICE_CENTS = {Fruit.APPLE: 50, Fruit.BANANA: 25, Fruit.ORANGE: 80}
"""The price list. Whole cents, so totals are exact integers in JSON too."""

# The shipped routes' JSON Schemas carry the same limits; the workflows check them again for
# callers that reach Temporal without the gateway.
MAX_AMOUNT = 1000
MAX_LINES = 100


@dataclass(frozen=True)
class OrderItem:
    """One line of a shopping list or an order: the input of the ``order_fruit`` activity and
    of the order's ``add_item`` update."""

    fruit: Fruit
    amount: int

    @property
    def total_cents(self) -> int:
        return Fruit(self.fruit).unit_price_cents * self.amount


@dataclass(frozen=True)
class ShoppingList:
    """The input of :class:`~gateway_workflows.shop.workflows.ShoppingWorkflow`."""

    items: list[OrderItem]


@dataclass(frozen=True)
class OrderInput:
    """The input of :class:`~gateway_workflows.shop.workflows.OrderWorkflow`."""

    customer: str
    items: list[OrderItem]


@dataclass(frozen=True)
class Approval:
    """The argument of the order's ``approve`` signal."""

    approver: str


class OrderState(StrEnum):
    """Where an order is; the ``progress`` query reports it."""

    AWAITING_APPROVAL = "awaiting-approval"
    CHARGING = "charging"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    """A cancel request was honoured: the stock is released (or being released)."""
    FAILED = "failed"
    """Never approved in time, or the shop failed; the stock is released as on cancellation."""


@dataclass(frozen=True)
class OrderProgress:
    """The result of the order's ``progress`` query. ``items`` counts order lines."""

    state: OrderState
    customer: str
    items: int
    total_cents: int
    approved_by: str | None


@dataclass(frozen=True)
class OrderTotal:
    """The result of the order's ``add_item`` update: the order's size after the new line."""

    items: int
    total_cents: int


@dataclass(frozen=True)
class StockReservation:
    """The input of ``reserve_stock`` and ``release_stock``. The shop keys reservations by
    ``order_id`` (the workflow id), so a retried call and a release of what was never reserved
    are both harmless."""

    order_id: str
    items: list[OrderItem]


@dataclass(frozen=True)
class Charge:
    """The input of ``charge_order``: what to charge whom, and who approved it."""

    order_id: str
    customer: str
    items: int
    total_cents: int
    approved_by: str
