"""SIGTERM: the API finishes in-flight requests and refuses new ones; the worker lets a running
activity finish before it exits. Real processes, real Temporal, real signals."""

from __future__ import annotations

import asyncio
import signal
import threading
import uuid

import httpx
import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from support.procs import (
    ApiProcess,
    assert_eventually,
    eventually,
    refuses_connections,
    sample_worker,
)
from temporal_gateway_client import TemporalAPIClient, WorkflowStillRunning

pytestmark = pytest.mark.e2e

SLOW_ROUTE = """
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {{name: slow}}
spec:
  path: slow
  workflowType: SlowWorkflow
  taskQueue: {task_queue}
  workflowId: {{prefix: slow-}}
  inputSchema: {{type: object, required: [seconds], properties: {{seconds: {{type: number}}}}}}
"""


@pytest.fixture
def task_queue() -> str:
    return f"slow-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def slow_api(tmp_path, logs_dir, temporal_server, task_queue):
    routes = tmp_path / "routes.yaml"
    routes.write_text(SLOW_ROUTE.format(task_queue=task_queue))
    api = ApiProcess(
        logs_dir,
        temporal=temporal_server.address,
        env={"API_ROUTES_PATH": str(routes), "API_RESULT_WAIT_SECONDS": "0.5"},
    )
    api.wait_ready()
    yield api
    api.stop()


def _started_on(address: str, task_queue: str) -> bool:
    """Whether Temporal has a workflow on ``task_queue`` (the sync start is in flight)."""

    async def count() -> int:
        client = await Client.connect(address)
        return (await client.count_workflows(f"TaskQueue = '{task_queue}'")).count

    return asyncio.run(count()) > 0


def test_api_drains_in_flight_requests_on_sigterm(
    slow_api, logs_dir, temporal_server, task_queue
) -> None:
    worker = sample_worker(logs_dir, temporal=temporal_server.address, task_queue=task_queue)
    try:
        outcome: dict[str, httpx.Response] = {}

        def call() -> None:
            outcome["response"] = httpx.post(
                slow_api.url + "/workflows/slow", json={"seconds": 3}, timeout=30
            )

        caller = threading.Thread(target=call)
        caller.start()
        eventually(lambda: _started_on(temporal_server.address, task_queue), timeout=20)
        slow_api.signal(signal.SIGTERM)

        eventually(lambda: refuses_connections(slow_api.url), timeout=10)
        assert caller.is_alive(), "the in-flight request should still be running"
        caller.join(30)
        response = outcome["response"]
        assert response.status_code == 200
        assert response.json()["result"] == "slept 3.0s on attempt 1"
        # uvicorn re-raises the signal once its graceful shutdown is complete.
        assert slow_api.popen.wait(30) == -signal.SIGTERM
        assert "Application shutdown complete" in slow_api.log()
    finally:
        worker.stop()


async def test_worker_drains_running_activity_on_sigterm(
    logs_dir, temporal_server, task_queue
) -> None:
    client = await Client.connect(temporal_server.address)
    worker = sample_worker(logs_dir, temporal=temporal_server.address, task_queue=task_queue)
    handle = await client.start_workflow(
        "SlowWorkflow", {"seconds": 3}, id=f"drain-{task_queue}", task_queue=task_queue
    )

    async def activity_running() -> bool:
        desc = await handle.describe()
        pending = desc.raw_description.pending_activities
        return (
            bool(pending)
            and pending[0].state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        )

    await assert_eventually(activity_running, timeout=30)
    worker.signal(signal.SIGTERM)
    exit_code = await asyncio.to_thread(worker.popen.wait, 30)
    assert exit_code == 0
    assert "worker draining" in worker.log()
    # The drained worker completed the activity; a new worker only has to finish the workflow.
    replacement = sample_worker(logs_dir, temporal=temporal_server.address, task_queue=task_queue)
    try:
        result = await asyncio.wait_for(handle.result(), 30)
        assert result == "slept 3.0s on attempt 1"
    finally:
        replacement.stop()


def test_client_wait_gives_up_while_still_running(slow_api) -> None:
    # No worker polls this route's queue, so the workflow stays running.
    with TemporalAPIClient(slow_api.url, timeout=10) as client:
        started = client.start_workflow("slow", {"seconds": 1}, wait=False)
        assert client.get_result(started["workflow_id"])["status"] == "running"
        with pytest.raises(WorkflowStillRunning) as info:
            client.wait_for_workflow(started["workflow_id"], timeout=1.5, poll_interval=0.2)
        assert info.value.workflow_id == started["workflow_id"]
