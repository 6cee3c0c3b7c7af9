"""The API's own CPU per request, in process: no HTTP server, no load generator, no wrk.

A change to the hot path that saves tens of microseconds is below what ``make bench`` can tell
apart on a shared machine; this can. It sends requests one at a time through the whole ASGI
app (middlewares, authentication, routing, the handler, the shared Temporal client) against a
real ``temporal server start-dev`` it starts, and prints the process CPU time per request of
each operation: an async start, a signal and a status read. No worker runs: the starts and
signals are only recorded.

``--baseline OTHER/.venv/bin/python`` measures another checkout too, the two in turn in each
round against the same server, and prints the difference: like with like, at the same moment.

Usage: ``.venv/bin/python hack/bench/in_process.py [--baseline PYTHON] [--rounds 3]
[--requests 1500]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ORDER = {"customer": "bench", "items": [{"fruit": "APPLE", "amount": 1}]}
CART = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}
ORDERS = 10  # signals are spread over this many orders (Temporal caps a workflow's history)


async def measure(root: Path, requests: int) -> dict[str, float]:
    """CPU µs per request of each operation, through the app of the checkout at ``root``."""
    sys.path.insert(0, str(root / "tests"))
    import httpx
    from asgi_lifespan import LifespanManager

    from gateway_api.app import create_app
    from gateway_core.routes import load_routes
    from support.gateway import dev_settings

    settings = dev_settings(rate_limit="off", rate_limit_global="off", log_level="WARNING")
    app = create_app(settings, routes=load_routes(root / "k8s" / "routes"))
    figures: dict[str, float] = {}
    async with LifespanManager(app) as managed:
        transport = httpx.ASGITransport(managed.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for _ in range(300):  # a minute
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit("the API never became ready: is Temporal up?")
            orders = []
            for _ in range(ORDERS):
                answer = await client.post("/workflows/orders/async", json=ORDER)
                answer.raise_for_status()
                orders.append(answer.json()["workflow_id"])
            calls: dict[str, list[tuple[str, str, Any]]] = {
                "start": [("POST", "/workflows/shopping/async", CART)],
                "signal": [
                    ("POST", f"/workflows/{o}/signals/approve", {"approver": "b"}) for o in orders
                ],
                "status": [("GET", f"/workflows/{o}/status", None) for o in orders],
            }
            for name, targets in calls.items():
                for method, path, body in targets[:2]:  # warm: first calls build caches
                    (await client.request(method, path, json=body)).raise_for_status()
                started = time.process_time()
                for i in range(requests):
                    method, path, body = targets[i % len(targets)]
                    answer = await client.request(method, path, json=body)
                    assert answer.status_code < 300, answer.text
                figures[name] = (time.process_time() - started) / requests * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="another checkout's .venv/bin/python")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1500, help="per operation and round")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's mode
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.requests))))
        return

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "tests"))
    from support.procs import TemporalDevServer

    contenders = {"this": sys.executable}
    if args.baseline:
        contenders["baseline"] = args.baseline
    logs = Path(tempfile.mkdtemp(prefix="bench-in-process-"))
    temporal = TemporalDevServer(logs)
    try:
        temporal.wait_ready()
        env = {**os.environ, "TEMPORAL_ADDRESS": temporal.address, "TEMPORAL_NAMESPACE": "default"}
        seen: dict[str, list[dict[str, float]]] = {k: [] for k in contenders}
        for round_ in range(1, args.rounds + 1):
            order = list(contenders.items())
            for key, python in order if round_ % 2 else order[::-1]:  # neither always first
                # The other checkout's own code: its python, its root (its tests/support).
                checkout = root if key == "this" else Path(python).absolute().parents[2]
                out = subprocess.run(
                    [python, __file__, "--measure", str(checkout), "--requests",
                     str(args.requests)],
                    env=env, check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                seen[key].append(json.loads(out.splitlines()[-1]))
                cells = "  ".join(f"{op} {us:6.0f}" for op, us in seen[key][-1].items())
                print(f"round {round_}  {key:<8}  CPU µs a request:  {cells}", flush=True)
        print("\nmedian of the rounds, CPU µs a request")
        for op in seen["this"][0]:
            this = statistics.median(r[op] for r in seen["this"])
            line = f"  {op:<7}  this {this:6.0f}"
            if args.baseline:
                before = statistics.median(r[op] for r in seen["baseline"])
                line += f"   baseline {before:6.0f}   this - baseline {this - before:+5.0f}"
            print(line)
    finally:
        temporal.stop()


if __name__ == "__main__":
    main()
