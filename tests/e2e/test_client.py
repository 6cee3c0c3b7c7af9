"""The installable Python client against the live API: results and typed errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from support.gateway import dev_health
from support.procs import eventually, free_port
from temporal_gateway_client import (
    AsyncTemporalAPIClient,
    GatewayUnavailable,
    InvalidRequest,
    PreconditionFailed,
    ScheduleNotFound,
    TemporalAPIClient,
    UpdateRejected,
    WorkflowClosed,
    WorkflowFailed,
    WorkflowNotFound,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack):
    with TemporalAPIClient(stack.url, timeout=30) as client:
        yield client


def test_health(client) -> None:
    assert client.health() == dev_health()


def test_sync_async_status_and_wait(client) -> None:
    done = client.trigger_shopping_workflow_sync([{"fruit": "ORANGE", "amount": 2}])
    assert done["result"] == "Ordered 2 Oranges..."
    started = client.trigger_shopping_workflow_async([{"fruit": "BANANA", "amount": 1}])
    assert started["status"] == "started"
    final = client.wait_for_workflow(started["workflow_id"], timeout=30)
    assert final["result"] == "Ordered 1 Banana..."
    assert client.get_status(started["workflow_id"])["status"] == "COMPLETED"


def test_idempotent_retries_return_the_same_workflow(client) -> None:
    key = uuid.uuid4().hex
    items = [{"fruit": "APPLE", "amount": 3}]
    first = client.trigger_shopping_workflow_async(items, idempotency_key=key)
    again = client.trigger_shopping_workflow_sync(items, idempotency_key=key)
    assert again["workflow_id"] == first["workflow_id"]
    with pytest.raises(InvalidRequest) as info:
        client.trigger_shopping_workflow_async(
            [{"fruit": "APPLE", "amount": 4}], idempotency_key=key
        )
    assert info.value.status == 422  # the IETF Idempotency-Key draft's answer (it was 409)
    assert info.value.code == "idempotency-key-reused"


def test_invalid_request_names_the_fields(client) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.trigger_shopping_workflow_sync([{"fruit": "KIWI", "amount": 0}])
    assert info.value.status == 422
    assert [e["field"] for e in info.value.errors] == ["items[0].amount", "items[0].fruit"]


def test_unknown_workflow(client) -> None:
    with pytest.raises(WorkflowNotFound) as info:
        client.get_status("no-such-workflow-" + uuid.uuid4().hex)
    assert info.value.code == "workflow-not-found"


def test_unreachable_api_is_gateway_unavailable() -> None:
    client = TemporalAPIClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with client, pytest.raises(GatewayUnavailable):
        client.health()


ORDER = {"customer": "alice", "items": [{"fruit": "APPLE", "amount": 2}]}


def test_every_lifecycle_method_on_the_orders_route(client) -> None:
    started = client.start_workflow("orders", ORDER, wait=False)
    order = started["workflow_id"]
    assert order.startswith("order-")
    assert client.query(order, "progress")["state"] == "awaiting-approval"
    key = uuid.uuid4().hex
    added = client.update(order, "add_item", {"fruit": "ORANGE", "amount": 1}, idempotency_key=key)
    assert added["result"] == {"items": 2, "total_cents": 180}
    assert client.update(order, "add_item", {"fruit": "ORANGE", "amount": 1},
                         idempotency_key=key) == added  # fmt: skip
    # The poll location names the update by the id the answer gives (the key, scoped to the
    # caller), not by the raw key.
    assert client.update_result(order, "add_item", added["update_id"])["result"] == added["result"]
    full = {"customer": "bob", "items": [{"fruit": "APPLE", "amount": 1}] * 100}
    full_order = client.start_workflow("orders", full, wait=False)["workflow_id"]
    with pytest.raises(UpdateRejected) as info:  # the workflow's validator: 100 lines at most
        client.update(full_order, "add_item", {"fruit": "APPLE", "amount": 1})
    assert info.value.status == 422
    # The workflow's failure as its author raised it, as every failure is (docs/api.md).
    assert info.value.failure_type == "OrderTooLong"
    assert info.value.failure["message"] == "the order already has 100 lines, the most it may have"
    assert info.value.failure["chain"][0]["type"] == "OrderTooLong"
    client.terminate(full_order)
    client.signal(order, "approve", {"approver": "bob"})
    assert client.describe(order)["route"] == "orders"
    assert client.get_result(order, wait=20)["result"] == (
        "Charged 180 cents to alice for 2 items (approved by bob)"
    )
    with pytest.raises(WorkflowClosed):
        client.signal(order, "approve", {"approver": "bob"})

    cancelled = client.start_workflow("orders", ORDER, wait=False)["workflow_id"]
    assert client.cancel(cancelled)["status"] == "cancel-requested"
    with pytest.raises(WorkflowFailed) as failed:
        client.wait_for_workflow(cancelled, timeout=30)
    assert failed.value.code == "workflow-canceled"
    terminated = client.start_workflow("orders", ORDER, wait=False)["workflow_id"]
    assert client.terminate(terminated, "test")["status"] == "terminated"

    with_key = uuid.uuid4().hex
    banana = {"fruit": "BANANA", "amount": 2}
    updated = client.update_with_start(
        "orders", "add_item", ORDER, banana, idempotency_key=with_key
    )
    assert updated["result"] == {"items": 2, "total_cents": 150}
    signaled = client.signal_with_start("orders", "approve", ORDER, {"approver": "carol"},
                                        idempotency_key=with_key)  # fmt: skip
    assert signaled["workflow_id"] == updated["workflow_id"]
    assert "carol" in client.get_result(updated["workflow_id"], wait=20)["result"]
    with pytest.raises(WorkflowNotFound):
        client.query(order, "no_such_query")


async def test_the_async_client(stack) -> None:
    async with AsyncTemporalAPIClient(stack.url, timeout=30) as client:
        order = (await client.start_workflow("orders", ORDER, wait=False))["workflow_id"]
        assert (await client.query(order, "progress"))["items"] == 1
        events = client.events(order)
        first = await anext(events)
        assert first.event in ("history", "status")
        await events.aclose()
        await client.signal(order, "approve", {"approver": "dan"})
        result = await client.wait_for_workflow(order, timeout=30)
        assert result["result"].endswith("(approved by dan)")
        assert (await client.get_status(order))["status"] == "COMPLETED"


STANDING_ORDER = {"customer": "grace", "items": [{"fruit": "BANANA", "amount": 6}]}
WEEKLY = {"cron_expressions": ["0 9 * * MON"], "time_zone": "Europe/Paris"}


def test_every_schedule_method_on_the_orders_route(client) -> None:
    created = client.create_schedule("orders", STANDING_ORDER, WEEKLY, paused=True,
                                     idempotency_key=uuid.uuid4().hex)  # fmt: skip
    sid, etag = created["schedule_id"], created["etag"]
    assert sid.startswith("order-")
    assert etag
    assert client.describe_schedule(sid)["etag"] == etag
    changed = client.update_schedule(sid, STANDING_ORDER, {"cron_expressions": ["0 10 * * MON"]},
                                     policy={"overlap": "BufferOne"}, if_match=etag)  # fmt: skip
    assert changed["spec"]["cron_expressions"] == ["0 10 * * 1"]
    assert changed["paused"] is True  # unset: kept
    with pytest.raises(PreconditionFailed) as stale:
        client.update_schedule(sid, STANDING_ORDER, WEEKLY, if_match=etag)
    assert stale.value.code == "precondition-failed"
    assert client.unpause_schedule(sid, "open")["paused"] is False
    assert client.pause_schedule(sid)["paused"] is True
    assert client.trigger_schedule(sid, overlap="AllowAll")["status"] == "triggered"
    now = datetime.now(UTC)
    backfilled = client.backfill_schedule(sid, now - timedelta(days=2), now - timedelta(days=1))
    assert backfilled["status"] == "backfilling"
    assert "schedules" in client.list_schedules(route="orders", page_size=5)
    # The order the trigger started, cancelled (it would wait a week for an approval).
    run = eventually(lambda: client.describe_schedule(sid)["recent_actions"])[-1]
    client.cancel(run["workflow_id"])
    assert client.delete_schedule(sid)["status"] == "deleted"
    with pytest.raises(ScheduleNotFound):
        client.describe_schedule(sid)
