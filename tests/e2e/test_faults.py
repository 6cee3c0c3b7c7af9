"""Faults, for real: processes killed by pid and restarted under load from careful clients
(one Idempotency-Key per request, retried with the same key, honouring Retry-After). Each
scenario counts what was sent, what was acknowledged, and the workflows Temporal holds (asked
through the SDK, not the gateway), and fails on any loss, duplicate, 500, or request left
without an answer past its bound. ``make test-faults`` runs only these; each prints its tally.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from support.careful import CarefulLoad, Tally
from support.kube import apply
from support.procs import (
    ROOT,
    ApiProcess,
    TemporalDevServer,
    WorkerProcess,
    assert_eventually,
    free_port,
    sample_worker,
)
from support.redis_server import RedisServer

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

BRIEF = {"seconds": 0.3}
RPC_TIMEOUT = 10.0  # the API's default: a request in flight when Temporal vanishes may wait this


def route_dir(tmp_path: Path, queue: str, *, sync_wait: float = 30) -> Path:
    folder = tmp_path / f"routes-{queue}"
    folder.mkdir()
    (folder / "faults.yaml").write_text(
        json.dumps(
            {
                "apiVersion": "temporal-gateway.dev/v1alpha1",
                "kind": "WorkflowRoute",
                "metadata": {"name": "faults"},
                "spec": {
                    "path": "faults",
                    "workflowType": "BriefWorkflow",
                    "taskQueue": queue,
                    "workflowId": {"prefix": "faults-"},
                    "syncWaitSeconds": sync_wait,
                },
            }
        )
    )  # JSON is YAML
    return folder


def api_env(routes: Path, **extra: str) -> dict[str, str]:
    return {"API_ROUTES_PATH": str(routes), "API_HEALTH_INTERVAL_SECONDS": "0.5", **extra}


async def in_temporal(client: Client, query: str) -> tuple[int, int]:
    """Workflow executions matching ``query``, and how many ids appear more than once."""
    ids = Counter([wf.id async for wf in client.list_workflows(query)])
    return sum(ids.values()), sum(1 for n in ids.values() if n > 1)


async def settle(client: Client, query: str, expected: int) -> tuple[int, int]:
    """Temporal's count once visibility (eventually consistent) has caught up with the
    acknowledged requests; the last count if it never does, for the assertion to report."""
    seen: tuple[int, int] = (0, 0)

    async def caught_up() -> bool:
        nonlocal seen
        seen = await in_temporal(client, query)
        return seen[0] >= expected

    with contextlib.suppress(AssertionError):  # the assertion in check() says what differs
        await assert_eventually(caught_up, timeout=60, interval=0.5)
    return seen


def check(name: str, tally: Tally, counted: tuple[int, int], window: tuple[float, float]) -> dict:
    workflows, duplicates = counted
    summary = tally.summary(workflows, duplicates, *window)
    print(f"\n[faults] {name}: {summary}")
    assert not tally.server_errors, tally.server_errors[:3]
    assert not tally.unfinished, f"{len(tally.unfinished)} requests never acknowledged"
    assert duplicates == 0, summary
    assert workflows == len(tally.acknowledged), summary  # none lost, none extra
    assert len(set(tally.acknowledged.values())) == len(tally.acknowledged), summary
    return summary


async def test_worker_killed_mid_activity(temporal_server, logs_dir, tmp_path) -> None:
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    address = temporal_server.address
    worker = sample_worker(logs_dir, temporal=address, task_queue=queue)
    api = ApiProcess(logs_dir, temporal=address, env=api_env(route_dir(tmp_path, queue)))
    client = await Client.connect(address)
    try:
        api.wait_ready()
        async with CarefulLoad([api.url], "/workflows/faults/async", BRIEF) as load:
            await load.acknowledged(8)
            killed_at = time.monotonic()
            worker.signal(signal.SIGKILL)  # activities and workflow tasks in flight are lost
            worker.popen.wait()
            await load.acknowledged(8)  # starts go on without a worker
            worker = sample_worker(logs_dir, temporal=address, task_queue=queue)
            await load.acknowledged(4)
            back_at = time.monotonic()
        query = f"TaskQueue = '{queue}'"

        async def all_completed() -> bool:
            done = await client.count_workflows(f"{query} AND ExecutionStatus = 'Completed'")
            return done.count == len(load.tally.acknowledged)

        await assert_eventually(all_completed, timeout=90, interval=0.5)
        counted = await settle(client, query, len(load.tally.acknowledged))
        check("worker killed", load.tally, counted, (killed_at, back_at))
    finally:
        api.stop()
        worker.stop()


async def test_api_killed_with_a_second_replica_serving(temporal_server, logs_dir, tmp_path):
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    address = temporal_server.address
    routes = route_dir(tmp_path, queue)
    worker = sample_worker(logs_dir, temporal=address, task_queue=queue)
    first = ApiProcess(logs_dir, temporal=address, env=api_env(routes))
    second = ApiProcess(logs_dir, temporal=address, env=api_env(routes))
    client = await Client.connect(address)
    try:
        first.wait_ready()
        second.wait_ready()
        urls = [first.url, second.url]
        async with CarefulLoad(urls, "/workflows/faults/async", BRIEF, clients=6) as load:
            await load.acknowledged(10)
            killed_at = time.monotonic()
            first.signal(signal.SIGKILL)
            first.popen.wait()
            await load.acknowledged(10)  # the second replica serves meanwhile
            first = ApiProcess(logs_dir, temporal=address, env=api_env(routes), port=first.port)
            first.wait_ready()
            back_at = time.monotonic()
            await load.acknowledged(6)
        query = f"TaskQueue = '{queue}'"
        summary = check("API killed", load.tally,
                        await settle(client, query, len(load.tally.acknowledged)),
                        (killed_at, back_at))  # fmt: skip
        assert summary["2xx"] >= 26
    finally:
        first.stop()
        second.stop()
        worker.stop()


async def test_temporal_stopped_for_30_seconds(logs_dir, tmp_path) -> None:
    port, db = free_port(), tmp_path / "temporal.db"
    temporal = TemporalDevServer(logs_dir, port=port, db=db)
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    worker: WorkerProcess | None = None
    api: ApiProcess | None = None
    try:
        temporal.wait_ready()
        worker = sample_worker(logs_dir, temporal=temporal.address, task_queue=queue)
        api = ApiProcess(
            logs_dir, temporal=temporal.address, env=api_env(route_dir(tmp_path, queue))
        )
        api.wait_ready()
        async with CarefulLoad([api.url], "/workflows/faults/async", BRIEF) as load:
            await load.acknowledged(8)
            stopped_at = time.monotonic()
            temporal.stop()

            async def down_for_30_seconds() -> bool:  # the outage, while the load goes on
                return time.monotonic() - stopped_at >= 30

            await assert_eventually(down_for_30_seconds, timeout=40, interval=0.5)
            outage = load.tally.errors_between(stopped_at, time.monotonic())
            assert outage, "no request was answered during the outage"
            assert {a.status for a in outage} <= {503}, {a.status for a in outage}
            temporal = TemporalDevServer(logs_dir, port=port, db=db)
            temporal.wait_ready()
            back_at = time.monotonic()
            await load.acknowledged(8, timeout=60)
        client = await Client.connect(temporal.address)
        query = f"TaskQueue = '{queue}'"
        summary = check("Temporal stopped 30 s", load.tally,
                        await settle(client, query, len(load.tally.acknowledged)),
                        (stopped_at, back_at))  # fmt: skip
        # Fail fast: once the API's probe has seen the outage, 503s come at once; only the
        # requests already in flight when Temporal went away wait for their RPC timeout.
        assert summary["outage p50 ms"] < 250, summary
        assert summary["outage max ms"] < (RPC_TIMEOUT + 2) * 1000, summary
    finally:
        if api is not None:
            api.stop()
        if worker is not None:
            worker.stop()
        temporal.stop()


async def test_redis_restarted_under_shared_rate_limits(temporal_server, logs_dir, tmp_path):
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    address = temporal_server.address
    redis = RedisServer(logs_dir)
    worker = sample_worker(logs_dir, temporal=address, task_queue=queue)
    env = api_env(route_dir(tmp_path, queue), API_RATE_LIMIT_REDIS_URL=redis.url,
                  API_RATE_LIMIT="1000/s", API_RATE_LIMIT_GLOBAL="5000/s")  # fmt: skip
    api = ApiProcess(logs_dir, temporal=address, env=env)
    client = await Client.connect(address)
    try:
        redis.wait_ready()
        api.wait_ready()
        async with CarefulLoad([api.url], "/workflows/faults/async", BRIEF) as load:
            await load.acknowledged(8)
            stopped_at = time.monotonic()
            redis.stop()

            async def refused() -> bool:  # 503 rate-limiter-unavailable, retried by clients
                return len(load.tally.errors_between(stopped_at, time.monotonic())) >= 8

            await assert_eventually(refused, timeout=60)
            redis = RedisServer(logs_dir, port=redis.port)
            redis.wait_ready()
            back_at = time.monotonic()
            await load.acknowledged(8, timeout=60)
        query = f"TaskQueue = '{queue}'"
        counted = await settle(client, query, len(load.tally.acknowledged))
        check("Redis restarted", load.tally, counted, (stopped_at, back_at))
    finally:
        api.stop()
        worker.stop()
        redis.stop()


async def test_slow_worker_sync_calls_end_with_202_and_complete(
    temporal_server, logs_dir, tmp_path
):
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    address = temporal_server.address
    worker = sample_worker(logs_dir, temporal=address, task_queue=queue)
    api = ApiProcess(logs_dir, temporal=address,
                     env=api_env(route_dir(tmp_path, queue, sync_wait=0.5)))  # fmt: skip
    client = await Client.connect(address)
    try:
        api.wait_ready()
        started = time.monotonic()
        async with CarefulLoad([api.url], "/workflows/faults", {"seconds": 1.5}, clients=3) as load:
            await load.acknowledged(6)
        waits = [a for a in load.tally.answers if a.status == 202]
        assert waits, "no sync start outlived its wait"
        # Each 202 came at the wait limit (0.5 s), not after the workflow's 1.5 s.
        assert max(a.seconds for a in waits) < 1.4, max(a.seconds for a in waits)
        query = f"TaskQueue = '{queue}'"
        counted = await settle(client, query, len(load.tally.acknowledged))
        check("slow worker", load.tally, counted, (started, time.monotonic()))
        done = await client.count_workflows(f"{query} AND ExecutionStatus = 'Completed'")
        assert done.count == len(load.tally.acknowledged)
    finally:
        api.stop()
        worker.stop()


async def test_operator_killed_while_a_route_changes(plane, operator, kube_api, stack) -> None:
    """The API keeps the last table while the operator is down; the change is served once
    the operator is back."""
    client = await Client.connect(stack.temporal.address)
    path = f"faults-{uuid.uuid4().hex[:6]}"
    body = {"items": [{"fruit": "APPLE", "amount": 1}]}
    async with httpx.AsyncClient(base_url=kube_api.url, timeout=5) as http:
        apply(plane, (ROOT / "k8s" / "routes" / "shopping.yaml").read_text())

        async def shopping_served() -> bool:
            return (await http.post("/workflows/shopping/async", json=body)).status_code == 200

        await assert_eventually(shopping_served, timeout=90, interval=0.5)
        version = (await http.get("/")).json()["routes_version"]
        async with CarefulLoad([kube_api.url], "/workflows/shopping/async", body) as load:
            await load.acknowledged(5)
            operator.proc.signal(signal.SIGKILL)
            operator.proc.popen.wait()
            killed_at = time.monotonic()
            apply(plane, [new_route(path)])
            await load.acknowledged(10)  # served all along, from the last table
            assert (await http.get("/")).json()["routes_version"] == version
            missing = await http.post(f"/workflows/{path}/async", json=body)
            assert missing.status_code == 404  # nobody reconciled the change yet
            operator.start()

            async def served() -> bool:
                response = await http.post(f"/workflows/{path}/async", json=body)
                return response.status_code == 200

            await assert_eventually(served, timeout=90, interval=0.5)
            back_at = time.monotonic()
            await load.acknowledged(5)
        # The shopping queue is shared with other tests: look each acknowledged id up instead.
        found = [
            await client.get_workflow_handle(i).describe() for i in load.tally.acknowledged.values()
        ]
        check("operator killed", load.tally, (len(found), 0), (killed_at, back_at))
    plane.kubectl("delete", "workflowroute", path, "-n", "default")


def new_route(path: str) -> dict[str, Any]:
    return {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowRoute",
        "metadata": {"name": path, "namespace": "default"},
        "spec": {
            "path": path,
            "workflowType": "ShoppingWorkflow",
            "taskQueue": "shopping-task-queue",
            "workflowId": {"prefix": f"{path}-"},
        },
    }
