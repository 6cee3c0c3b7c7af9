"""The API against a real Temporal dev server and a real worker: the seed's endpoints and
every edge the foundation issue lists."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from gateway_api.temporal.executions import MEMO_ROUTE
from gateway_api.temporal.idempotency import scope
from support.gateway import api_client, route, shopping_route
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

SEED_BODY = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}


async def count(client: Client, task_queue: str) -> int:
    return (await client.count_workflows(f'TaskQueue="{task_queue}"')).count


async def visible(client: Client, workflow_id: str) -> None:
    """Wait until visibility lists ``workflow_id``: the sentinel after which any workflow
    started before it would be listed too."""

    async def listed() -> bool:
        return (await client.count_workflows(f'WorkflowId="{workflow_id}"')).count == 1

    await assert_eventually(listed)


async def test_sync_start_answers_as_the_seed_documents(temporal_server, task_queue) -> None:
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        response = await api.post("/workflows/shopping", json=SEED_BODY)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"workflow_id", "status", "result"}
    assert body["workflow_id"].startswith("shopping-workflow-")
    assert body["status"] == "completed"
    assert body["result"] == "Ordered 5 Apples...Ordered 3 Bananas..."


async def test_async_start_then_status_then_result(temporal_server, client, task_queue) -> None:
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        started = await api.post(
            "/workflows/shopping/async", json={"items": [{"fruit": "ORANGE", "amount": 10}]}
        )
        assert started.status_code == 200
        body = started.json()
        assert body["status"] == "started"
        assert body["result"] is None
        workflow_id = body["workflow_id"]

        result = await api.get(f"/workflows/{workflow_id}/result")
        assert result.json() == {
            "workflow_id": workflow_id,
            "status": "completed",
            "result": "Ordered 10 Oranges...",
        }
        status = (await api.get(f"/workflows/{workflow_id}/status")).json()
    assert status["workflow_id"] == workflow_id
    assert status["status"] == "COMPLETED"
    assert status["start_time"] <= status["close_time"]
    desc = await client.get_workflow_handle(workflow_id).describe()
    assert await desc.memo_value(MEMO_ROUTE) == "shopping"


async def test_one_item_is_singular(temporal_server, task_queue) -> None:
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        response = await api.post(
            "/workflows/shopping", json={"items": [{"fruit": "APPLE", "amount": 1}]}
        )
    assert response.json()["result"] == "Ordered 1 Apple..."


async def test_status_of_a_running_workflow(temporal_server, task_queue) -> None:
    slow = route("slow", "SlowWorkflow", task_queue, input_schema={"type": "object"})
    async with api_client(temporal_server.address, [slow]) as api:
        started = (await api.post("/workflows/slow/async", json={"seconds": 2})).json()
        status = (await api.get(f"/workflows/{started['workflow_id']}/status")).json()
        assert status["status"] == "RUNNING"
        assert status["close_time"] is None
        result = await api.get(f"/workflows/{started['workflow_id']}/result")
    assert result.json()["result"] == "slept 2.0s on attempt 1"


async def test_sync_call_past_its_wait_gets_202_and_loses_nothing(
    temporal_server, task_queue
) -> None:
    slow = route("slow", "SlowWorkflow", task_queue, sync_wait_seconds=0.5)
    async with api_client(temporal_server.address, [slow], result_wait_seconds=0.5) as api:
        response = await api.post("/workflows/slow", json={"seconds": 2.5})
        assert response.status_code == 202
        body = response.json()
        assert body["status"] == "running"
        location = response.headers["location"]
        assert location == f"/workflows/{body['workflow_id']}/result"

        async def completed() -> bool:
            polled = await api.get(location)
            assert polled.status_code in (200, 202)
            return polled.status_code == 200 and polled.json()["status"] == "completed"

        # The first polls outlive result_wait_seconds as well and must answer 202, not fail.
        first = await api.get(location)
        assert first.status_code == 202
        await assert_eventually(completed, timeout=20)


async def test_a_failure_through_an_activity_is_the_activitys_own_type(
    temporal_server, task_queue
) -> None:
    charge = route("charge", "ChargeWorkflow", task_queue)
    async with api_client(temporal_server.address, [charge]) as api:
        response = await api.post("/workflows/charge", json={"sku": "sku-9"})
        problem = response.json()
        assert response.status_code == 500, problem
        assert problem["code"] == "workflow-failed"
        assert (problem["failure_type"], problem["detail"]) == ("OutOfStock", "out of stock: sku-9")
        failure = problem["failure"]
        assert failure["details"] == [{"sku": "sku-9"}]
        assert failure["non_retryable"] is True
        assert [link["kind"] for link in failure["chain"]] == ["activity", "application"]
        assert failure["chain"][0]["activity_type"] == "out_of_stock_activity"

        # The event stream's end and the history event say the same.
        stream = await api.get(f"/workflows/{problem['workflow_id']}/events")
        ends = [line for line in stream.text.splitlines() if line.startswith('data: {"status')]
        assert '"failure_type":"OutOfStock"' in stream.text
        end = json.loads(ends[-1].removeprefix("data: "))
        assert end["failure"] == failure


async def test_failed_workflow_is_an_error_with_id_and_failure_type(
    temporal_server, task_queue
) -> None:
    failing = route("failing", "FailingWorkflow", task_queue)
    async with api_client(temporal_server.address, [failing]) as api:
        response = await api.post("/workflows/failing", json={})
        assert response.status_code == 500
        problem = response.json()
        assert problem["code"] == "workflow-failed"
        assert problem["failure_type"] == "OutOfStock"
        assert problem["non_retryable"] is True
        assert problem["workflow_id"].startswith("failing-")

        again = await api.get(f"/workflows/{problem['workflow_id']}/result")
        assert again.status_code == 500
        assert again.json()["workflow_id"] == problem["workflow_id"]
        status = (await api.get(f"/workflows/{problem['workflow_id']}/status")).json()
    assert status["status"] == "FAILED"


async def test_unknown_workflow_id_is_404(temporal_server, task_queue) -> None:
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        for suffix in ("status", "result"):
            response = await api.get(f"/workflows/no-such-{uuid.uuid4().hex}/{suffix}")
            assert response.status_code == 404
            assert response.json()["code"] == "workflow-not-found"
            assert response.headers["content-type"] == "application/problem+json"


async def test_bad_input_never_reaches_temporal(relay, client, task_queue) -> None:
    bad_bodies = [
        {"items": [{"fruit": "KIWI", "amount": 1}]},
        {"items": [{"fruit": "APPLE", "amount": 0}]},
        {"items": []},
        {"items": [{"fruit": "APPLE", "amount": 1}], "unknown": 1},
    ]
    async with api_client(relay.address, [shopping_route(task_queue)]) as api:
        for body in bad_bodies:
            assert (await api.post("/workflows/shopping/async", json=body)).status_code == 422
        assert (
            await api.post("/workflows/shopping/async", content=b"x" * 300_000,
                           headers={"Content-Type": "application/json"})
        ).status_code == 413  # fmt: skip
        good = await api.post("/workflows/shopping/async", json=SEED_BODY)
        assert good.status_code == 200

    # Counted on the wire: the good body's start is the only one the API sent.
    assert relay.workflow_calls().count("StartWorkflowExecution") == 1
    # And in Temporal: the good workflow came last, so once it is visible a stray would be.
    await visible(client, good.json()["workflow_id"])
    assert await count(client, task_queue) == 1


async def test_idempotency_key_makes_retries_safe(temporal_server, client, task_queue) -> None:
    key = f"order-{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": key}
    # The key is the caller's (here the anonymous one of `make run`): its scope comes first.
    workflow_id = f"shopping-workflow-{scope('anonymous')}.{key}"
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        first = await api.post("/workflows/shopping/async", json=SEED_BODY, headers=headers)
        assert first.status_code == 200
        assert first.json()["workflow_id"] == workflow_id
        # A retry, with the keys in another order: the same body, so the same workflow.
        reordered = {"items": [{"amount": 5, "fruit": "APPLE"}, {"amount": 3, "fruit": "BANANA"}]}
        retry = await api.post("/workflows/shopping/async", json=reordered, headers=headers)
        assert retry.json()["workflow_id"] == first.json()["workflow_id"]
        # Sync with the same key after it finished: the same workflow's result.
        sync = await api.post("/workflows/shopping", json=SEED_BODY, headers=headers)
        assert sync.json() == {
            "workflow_id": workflow_id,
            "status": "completed",
            "result": "Ordered 5 Apples...Ordered 3 Bananas...",
        }
        other = await api.post(
            "/workflows/shopping/async", json={"items": [{"fruit": "APPLE", "amount": 6}]},
            headers=headers,
        )  # fmt: skip
        # The IETF Idempotency-Key draft's answer to a key reused with another body (it was 409).
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency-key-reused"
        assert other.json()["workflow_id"] == workflow_id
        # The sentinel: a start after all of those, without the key.
        sentinel = await api.post("/workflows/shopping/async", json=SEED_BODY)

    await visible(client, sentinel.json()["workflow_id"])
    assert await count(client, task_queue) == 2, "the keyed workflow once, and the sentinel"


async def test_id_taken_by_a_workflow_not_started_here_is_409(
    temporal_server, client, task_queue
) -> None:
    key = uuid.uuid4().hex
    await client.start_workflow(
        "ShoppingWorkflow", SEED_BODY, id=f"shopping-workflow-{scope('anonymous')}.{key}",
        task_queue=task_queue,
    )  # fmt: skip
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        response = await api.post(
            "/workflows/shopping/async", json=SEED_BODY, headers={"Idempotency-Key": key}
        )
    assert response.status_code == 409
    assert response.json()["code"] == "workflow-already-started"


async def test_route_that_disallows_an_operation(temporal_server, task_queue) -> None:
    only_async = shopping_route(task_queue, operations=("start",))
    async with api_client(temporal_server.address, [only_async]) as api:
        response = await api.post("/workflows/shopping", json=SEED_BODY)
    assert response.status_code == 405
    assert response.json()["code"] == "operation-not-allowed"


async def test_a_workflow_whose_task_keeps_failing_says_so(temporal_server, task_queue) -> None:
    """BuggyWorkflow raises a plain RuntimeError: Temporal fails its workflow task and retries
    it for ever, and the workflow shows RUNNING. The sync start's 202, status and describe say
    workflow_task_failing, with the failure Temporal recorded (the event stream, which needs a
    real HTTP server to stream: test_polyglot)."""
    buggy = route("buggy", "BuggyWorkflow", task_queue, sync_wait_seconds=3)
    async with api_client(temporal_server.address, [buggy]) as api:
        started = await api.post("/workflows/buggy", json={})
        assert started.status_code == 202, started.text
        failing = started.json()["workflow_task_failing"]
        assert failing["attempt"] >= 2
        assert failing["message"] == "a bug in the workflow code"
        assert failing["cause"] == "WORKFLOW_WORKER_UNHANDLED_FAILURE"
        workflow_id = started.json()["workflow_id"]

        status = (await api.get(f"/workflows/{workflow_id}/status")).json()
        assert status["status"] == "RUNNING"
        assert status["workflow_task_failing"]["message"] == "a bug in the workflow code"
        described = (await api.get(f"/workflows/{workflow_id}")).json()
        assert described["workflow_task_failing"]["attempt"] >= 2

        await api.post(f"/workflows/{workflow_id}/terminate")


async def test_a_workflow_type_no_worker_registered_says_so(temporal_server, task_queue) -> None:
    """A route naming a type the task queue's worker does not have (a typo, a worker not yet
    deployed): the worker fails each workflow task, the workflow shows RUNNING, and the sync
    start's 202, status and describe say workflow_task_failing with the worker's words."""
    typo = route("typo", "NoSuchWorkflow", task_queue, sync_wait_seconds=3)
    async with api_client(temporal_server.address, [typo]) as api:
        started = await api.post("/workflows/typo", json={})
        assert started.status_code == 202, started.text
        failing = started.json()["workflow_task_failing"]
        assert "NoSuchWorkflow" in failing["message"]
        assert "not registered" in failing["message"]
        workflow_id = started.json()["workflow_id"]
        status = (await api.get(f"/workflows/{workflow_id}/status")).json()
        assert status["status"] == "RUNNING"
        assert status["workflow_task_failing"]["message"] == failing["message"]
        described = (await api.get(f"/workflows/{workflow_id}")).json()
        assert described["workflow_task_failing"]["cause"] == failing["cause"]

        await api.post(f"/workflows/{workflow_id}/terminate")


SHIFTING = {"timer_first": True}
"""The code ShiftingWorkflow replays with: flipped by the test, as a deploy would change it."""


@workflow.defn(name="ShiftingWorkflow", sandboxed=False)
class ShiftingWorkflow:
    """Its first step is a timer, until the code "changes" to make it an activity: a workflow
    that started on the old code and is replayed on the new one no longer matches its history
    (a non-determinism error, the worker's to fail, never the workflow's)."""

    def __init__(self) -> None:
        self.finished = False

    @workflow.run
    async def run(self) -> str:
        if SHIFTING["timer_first"]:
            await workflow.sleep(0.01)
        else:
            await workflow.execute_activity(
                "not_registered", start_to_close_timeout=timedelta(seconds=5)
            )
        await workflow.wait_condition(lambda: self.finished)
        return "finished"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True


async def test_a_non_determinism_error_says_so(temporal_server, task_queue, client) -> None:
    """A workflow started on one version of its code and replayed on an incompatible one: its
    workflow task fails for ever and it shows RUNNING. Status and describe say
    workflow_task_failing, with the SDK's non-determinism message."""
    queue = f"{task_queue}-shifting"
    shifting = route("shifting", "ShiftingWorkflow", queue, signals=[{"name": "finish"}])
    SHIFTING["timer_first"] = True
    # No cache: every workflow task replays the history from its start, with the code as it is.
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[ShiftingWorkflow],
        max_cached_workflows=0,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with worker, api_client(temporal_server.address, [shifting]) as api:
        workflow_id = (await api.post("/workflows/shifting/async", json={})).json()["workflow_id"]
        handle = client.get_workflow_handle(workflow_id)

        async def timer_fired() -> bool:
            history = await handle.fetch_history()
            return any(e.HasField("timer_fired_event_attributes") for e in history.events)

        await assert_eventually(timer_fired)  # the old code has run its first step
        SHIFTING["timer_first"] = False  # the deploy
        sent = await api.post(f"/workflows/{workflow_id}/signals/finish")
        assert sent.status_code == 202, sent.text

        async def failing() -> dict | None:
            status = (await api.get(f"/workflows/{workflow_id}/status")).json()
            return status.get("workflow_task_failing")

        found = await assert_eventually(failing, timeout=30)
        assert "nondetermin" in found["message"].lower(), found
        status = (await api.get(f"/workflows/{workflow_id}/status")).json()
        assert status["status"] == "RUNNING"
        described = (await api.get(f"/workflows/{workflow_id}")).json()
        assert described["workflow_task_failing"]["message"] == found["message"]
        await handle.terminate("done")


async def test_a_healthy_workflows_status_keeps_the_seeds_four_fields(
    temporal_server, task_queue
) -> None:
    async with api_client(temporal_server.address, [shopping_route(task_queue)]) as api:
        done = (await api.post("/workflows/shopping", json=SEED_BODY)).json()
        status = (await api.get(f"/workflows/{done['workflow_id']}/status")).json()
    assert set(status) == {"workflow_id", "status", "start_time", "close_time"}


async def test_a_route_may_refuse_starts_without_a_worker(
    temporal_server, client, task_queue
) -> None:
    """No worker polls ``nobody-…``: the opted-in route answers 503 no-worker and starts
    nothing; the same workflow type on the polled queue starts (the sentinel that a start
    would have been counted)."""
    empty = f"nobody-{uuid.uuid4().hex}"
    strict = route("strict", "SlowWorkflow", empty, refuse_starts_without_worker=True)
    lax = route("lax", "SlowWorkflow", empty)
    polled = route("polled", "SlowWorkflow", task_queue, refuse_starts_without_worker=True)
    async with api_client(temporal_server.address, [strict, lax, polled]) as api:
        refused = await api.post("/workflows/strict/async", json={"seconds": 0})
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "no-worker"
        assert int(refused.headers["retry-after"]) >= 1
        started = await api.post("/workflows/lax/async", json={"seconds": 0})
        assert started.status_code == 200
        ran = await api.post("/workflows/polled", json={"seconds": 0})
        assert ran.status_code == 200, ran.text
    await assert_eventually(lambda: count(client, empty), timeout=20)  # the lax one shows
    assert await count(client, empty) == 1


async def test_a_query_no_worker_takes_up_is_a_timeout(temporal_server, task_queue) -> None:
    """Issue 24 #16: a query to a workflow whose worker is gone answered 502 (gRPC CANCELLED)
    after 10 s; it is 504 temporal-timeout, without Temporal's own words."""
    empty = f"nobody-{uuid.uuid4().hex}"
    asked = route("asked", "SlowWorkflow", empty, queries=[{"name": "progress"}])
    async with api_client(temporal_server.address, [asked], rpc_timeout_seconds=3) as api:
        started = await api.post("/workflows/asked/async", json={"seconds": 0})
        workflow_id = started.json()["workflow_id"]
        answer = await api.get(f"/workflows/{workflow_id}/queries/progress")
        assert answer.status_code == 504, answer.text
        problem = answer.json()
        assert problem["code"] == "temporal-timeout"
        assert problem["workflow_id"] == workflow_id
        await api.post(f"/workflows/{workflow_id}/terminate")


async def test_a_caller_cannot_hold_more_waits_than_its_share(
    temporal_server, client, task_queue
) -> None:
    """Issue 24 #5: paced result waits from one key filled the API's connections. A caller may
    hold API_MAX_WAITS_PER_CALLER at once (1 here): another wait is 429 too-many-waits with
    Retry-After, before anything starts (a sync start included); the held wait finishes."""
    gate = route("gate", "GateWorkflow", task_queue)
    async with api_client(temporal_server.address, [gate], max_waits_per_caller=1) as api:
        started = (await api.post("/workflows/gate/async", json={})).json()
        result = f"/workflows/{started['workflow_id']}/result"
        held = asyncio.create_task(api.get(f"{result}?wait=30"))

        async def refused() -> bool:
            nonlocal held
            if held.done():  # the probe took the slot first: hold it again
                held = asyncio.create_task(api.get(f"{result}?wait=30"))
            # A task too, so the held request (scheduled first) runs first.
            answer = await asyncio.create_task(api.get(f"{result}?wait=0"))
            return answer.status_code == 429 and answer.json()["code"] == "too-many-waits"

        await assert_eventually(refused, timeout=20)
        before = await count(client, task_queue)
        sync = await api.post("/workflows/gate", json={})
        assert sync.status_code == 429, sync.text
        assert int(sync.headers["retry-after"]) >= 1
        await client.get_workflow_handle(started["workflow_id"]).signal("finish", "done")
        assert (await held).status_code == 200
        assert (await api.get(f"{result}?wait=0")).status_code == 200  # free again
    assert await count(client, task_queue) == before  # the refused sync start started nothing
