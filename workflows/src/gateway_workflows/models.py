"""Inputs of the shopping workflow and activity: plain dataclasses the default converter maps
from the JSON body the gateway forwards."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Fruit(StrEnum):
    """What the shop sells. The shipped route's JSON Schema lists the same names."""

    APPLE = "APPLE"
    BANANA = "BANANA"
    ORANGE = "ORANGE"

    def label(self, amount: int) -> str:
        name = self.value.capitalize()
        return name if amount == 1 else f"{name}s"


@dataclass(frozen=True)
class OrderItem:
    """One line of a shopping list: the input of the ``order_fruit`` activity."""

    fruit: Fruit
    amount: int


@dataclass(frozen=True)
class ShoppingList:
    """The input of :class:`~gateway_workflows.workflows.ShoppingWorkflow`."""

    items: list[OrderItem]
