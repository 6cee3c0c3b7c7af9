"""``make bench``'s SDK contenders (A: ``start_workflow``, D: ``execute_workflow``, A.signal and
A.query: a handle's ``signal`` and ``query``) in a process of their own, so they share no event
loop with the orchestrator or the API.

One Temporal client per namespace for the whole run (starts go to the namespace no worker
polls, executions to the worker's), with the interceptors the API's client has
(:func:`gateway_api.app.temporal_interceptors`) and the API's tracing setup. Reads one line per
round on stdin, ``<start|execute|signal|query> <concurrency> <seconds> [<workflow id>]``
(signals go to the namespace of the starts, queries to the worker's), answers one JSON line on
stdout with the same fields as ``post.lua`` writes.

Usage: ``sdk_load.py <address> <namespace of the starts> <namespace of the executions>``
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

from temporalio.client import Client

from gateway_api.app import temporal_interceptors
from gateway_core.telemetry import configure_tracing

BODY = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}
TASK_QUEUE = "shopping-task-queue"
APPROVAL = {"approver": "bench"}


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


async def run_round(
    client: Client, mode: str, concurrency: int, seconds: float, target: str = ""
) -> dict[str, int]:
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def call() -> None:
        if mode == "signal":
            await client.get_workflow_handle(target).signal("approve", APPROVAL)
            return
        if mode == "query":
            await client.get_workflow_handle(target).query("progress")
            return
        handle = await client.start_workflow(
            "ShoppingWorkflow", BODY, id=f"bench-sdk-{uuid.uuid4().hex}", task_queue=TASK_QUEUE
        )
        if mode == "execute":
            await handle.result()

    async def runner() -> None:
        nonlocal errors
        while (t := time.perf_counter()) < deadline:
            try:
                await call()
            except Exception:
                errors += 1
                continue
            done = time.perf_counter()
            if done <= deadline:  # as wrk: what ends after the round is not counted
                latencies.append(done - t)

    await asyncio.gather(*(runner() for _ in range(concurrency)))
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_us": int(seconds * 1e6),
        "socket_errors": errors,
        "status_errors": 0,
        "p50_us": int(percentile(latencies, 0.50) * 1e6),
        "p95_us": int(percentile(latencies, 0.95) * 1e6),
        "p99_us": int(percentile(latencies, 0.99) * 1e6),
    }


async def main(address: str, starts: str, executions: str) -> None:
    tracing = configure_tracing("bench-sdk")
    starts_client = await Client.connect(
        address, namespace=starts, interceptors=temporal_interceptors()
    )
    executions_client = await Client.connect(
        address, namespace=executions, interceptors=temporal_interceptors()
    )
    clients = {
        "start": starts_client,
        "signal": starts_client,
        "execute": executions_client,
        "query": executions_client,
    }
    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": True}), flush=True)
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        mode, concurrency, seconds, *target = line.split()
        row = await run_round(clients[mode], mode, int(concurrency), float(seconds), *target)
        print(json.dumps(row), flush=True)
    tracing.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
