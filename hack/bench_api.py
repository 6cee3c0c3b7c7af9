"""Benchmark: what the gateway adds on top of talking to Temporal directly.

Starts a real Temporal dev server, the worker and the API as processes on free ports, then
measures, side by side in one run and with the same concurrency:

- ``sdk start``: ``client.start_workflow`` straight from the Temporal Python SDK;
- ``api async``: ``POST /workflows/shopping/async`` (validation, id, the same start call);
- ``sdk execute``: ``start_workflow`` + ``result()`` through the SDK;
- ``api sync``: ``POST /workflows/shopping`` (start and wait);
- ``api 422``: a request refused by the schema (never reaches Temporal);
- ``api health``: ``GET /``.

Prints throughput and latency percentiles, and the API/SDK ratios, which are what to compare
across changes (absolute figures move with the machine's load).

``--security on`` runs the API as in production: an API key on every request, per-route
authorization and rate limiting (limits set high enough never to refuse); ``off`` (the default)
runs it as ``make run`` does, without authentication, and with rate limiting off too. Comparing
the two gives the cost of authentication and rate limiting per request.

Usage: ``make bench`` or
``.venv/bin/python hack/bench_api.py [--requests N] [--concurrency C] [--security on|off]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gateway_api.keys import entry_yaml, new_key
from support.procs import ApiProcess, TemporalDevServer, WorkerProcess

BODY = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}
BAD = {"items": [{"fruit": "KIWI", "amount": 0}]}


async def measure(
    name: str, requests: int, concurrency: int, call: Callable[[], Awaitable[None]]
) -> dict[str, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[None] = asyncio.Queue()
    for _ in range(requests):
        queue.put_nowait(None)

    async def runner() -> None:
        while not queue.empty():
            queue.get_nowait()
            t = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t)

    for _ in range(min(10, requests)):  # warm up connections
        await call()
    started = time.perf_counter()
    await asyncio.gather(*(runner() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    row = {
        "rps": requests / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }
    print(
        f"{name:<12} {row['rps']:8.1f} req/s   p50 {row['p50']:7.2f} ms   p99 {row['p99']:7.2f} ms"
    )
    return row


def security_env(on: bool, logs: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The API's environment and the headers of every request."""
    if not on:
        return {"API_RATE_LIMIT": "off", "API_RATE_LIMIT_GLOBAL": "off"}, {}
    key = new_key()
    keys = logs / "keys.yaml"
    entry = entry_yaml("bench", key, ["shopping:start", "shopping:read"], [])
    keys.write_text("keys:\n" + "".join(f"  {line}\n" for line in entry.splitlines()))
    env = {
        "API_ENVIRONMENT": "production",
        "API_AUTH_DISABLED": "false",
        "API_KEYS_FILE": str(keys),
        "API_RATE_LIMIT": "100000/s",
        "API_RATE_LIMIT_GLOBAL": "100000/s",
    }
    return env, {"X-API-Key": key}


async def bench(requests: int, concurrency: int, logs: Path, security: bool) -> None:
    temporal = TemporalDevServer(logs)
    worker = api = None
    try:
        temporal.wait_ready()
        worker = WorkerProcess(logs, temporal=temporal.address, env={"LOG_LEVEL": "WARNING"})
        env, headers = security_env(security, logs)
        api = ApiProcess(logs, temporal=temporal.address, env={"LOG_LEVEL": "WARNING", **env})
        api.wait_ready()
        client = await Client.connect(temporal.address)
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=api.url, timeout=60, limits=limits, headers=headers
        ) as http:

            async def sdk_start() -> None:
                await client.start_workflow(
                    "ShoppingWorkflow", BODY, id=f"bench-{uuid.uuid4().hex}",
                    task_queue="shopping-task-queue",
                )  # fmt: skip

            async def sdk_execute() -> None:
                handle = await client.start_workflow(
                    "ShoppingWorkflow", BODY, id=f"bench-{uuid.uuid4().hex}",
                    task_queue="shopping-task-queue",
                )  # fmt: skip
                await handle.result()

            async def api_post(path: str, body: object, status: int) -> None:
                response = await http.post(path, json=body)
                assert response.status_code == status, response.text

            async def api_async() -> None:
                await api_post("/workflows/shopping/async", BODY, 200)

            async def api_sync() -> None:
                await api_post("/workflows/shopping", BODY, 200)

            async def api_invalid() -> None:
                await api_post("/workflows/shopping", BAD, 422)

            async def api_health() -> None:
                assert (await http.get("/")).status_code == 200

            print(f"{requests} requests each, concurrency {concurrency}, security "
                  f"{'on' if security else 'off'}\n")  # fmt: skip
            rows = {
                "sdk start": await measure("sdk start", requests, concurrency, sdk_start),
                "api async": await measure("api async", requests, concurrency, api_async),
                "sdk execute": await measure("sdk execute", requests, concurrency, sdk_execute),
                "api sync": await measure("api sync", requests, concurrency, api_sync),
                "api 422": await measure("api 422", requests, concurrency, api_invalid),
                "api health": await measure("api health", requests, concurrency, api_health),
            }
        print()
        for api_row, sdk_row in (("api async", "sdk start"), ("api sync", "sdk execute")):
            a, s = rows[api_row], rows[sdk_row]
            print(
                f"{api_row} / {sdk_row}: throughput x{a['rps'] / s['rps']:.2f}, "
                f"p50 latency x{a['p50'] / s['p50']:.2f}"
            )
    finally:
        for proc in (api, worker, temporal):
            if proc is not None:
                proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--security", choices=["on", "off"], default="off")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs:
        asyncio.run(bench(args.requests, args.concurrency, Path(logs), args.security == "on"))


if __name__ == "__main__":
    main()
