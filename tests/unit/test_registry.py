"""What the worker registers. Running workflows and the routes find workflows and activities by
these names, whatever module they live in: moving code must never rename them."""

from __future__ import annotations

from temporalio import activity, workflow

from gateway_workflows.registry import (
    CALLBACK_WORKFLOWS,
    WORKFLOWS,
    activity_methods,
    build_activities,
    build_callback_activities,
)


def names(workflows) -> list[str]:
    return [workflow._Definition.must_from_class(cls).name for cls in workflows]


def activity_names(callables) -> list[str]:
    return sorted(activity._Definition.must_from_callable(fn).name or "" for fn in callables)


def test_the_route_workflows_keep_their_type_names() -> None:
    assert names(WORKFLOWS) == ["ShoppingWorkflow", "OrderWorkflow"]


def test_the_route_activities_keep_their_names() -> None:
    assert activity_names(build_activities()) == [
        "charge_order", "order_fruit", "release_stock", "reserve_stock",
    ]  # fmt: skip


def test_the_delivery_workflow_and_its_activities_keep_their_names() -> None:
    assert names(CALLBACK_WORKFLOWS) == ["CallbackDelivery"]
    built = build_callback_activities(client=None, secrets_dir=None)  # type: ignore[arg-type]
    assert activity_names(built) == ["callback_await_close", "callback_deliver"]


def test_activity_methods_are_the_decorated_ones_only() -> None:
    class Mixed:
        @activity.defn(name="one")
        async def one(self) -> None: ...

        async def helper(self) -> None: ...

        @activity.defn
        async def two(self) -> None: ...

    mixed = Mixed()
    assert activity_methods(mixed) == [mixed.one, mixed.two]
