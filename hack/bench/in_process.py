"""The API's own CPU per request, in process: no HTTP server, no HTTP client, no wrk.

A change to the hot path that saves tens of microseconds is below what ``make bench`` can tell
apart on a shared machine; this can. It calls the whole ASGI app (middlewares, authentication,
routing, the handler, the shared Temporal client) directly, with a request built by hand, against
a real ``temporal server start-dev`` it starts, and prints the CPU time each request costs the
thread that serves it (the event loop's; the SDK's Rust threads, the same for the bare SDK, are
left out) for each operation:

- ``start``: an async start, ``POST /workflows/shopping/async``;
- ``start+auth``: the same start on a second app in the same process, with an API key and both
  rate limits on (never reached): its difference from ``start`` is what authentication and
  rate limiting cost a request (the ``auth + limits`` goal of ``make bench``);
- ``signal``: ``POST /workflows/{id}/signals/approve``;
- ``status``: ``GET /workflows/{id}/status``.

The operations take turns request by request (the order reversed every other cycle), so a slow
moment of the machine lands on all of them alike. No worker runs: the starts and signals are
only recorded.

``--baseline OTHER/.venv/bin/python`` measures another checkout too, the two processes in turn
in each round against the same server, and prints the difference: like with like, at the same
moment.

Usage: ``.venv/bin/python hack/bench/in_process.py [--baseline PYTHON] [--rounds 3]
[--requests 1500]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
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

Call = tuple[Any, str, str, bytes, list[tuple[bytes, bytes]]]
"""An app, the method, the path, the body and the extra request headers."""


async def call(app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]):
    """One request through ``app`` as a server would make it; its status and body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"gateway"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), *headers],
    }  # fmt: skip
    received = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def measure(root: Path, requests: int) -> dict[str, float]:
    """CPU µs per request of each operation, through the apps of the checkout at ``root``."""
    sys.path.insert(0, str(root / "tests"))
    from asgi_lifespan import LifespanManager

    from gateway_api.app import create_app
    from gateway_api.config import ApiSettings

    try:
        from gateway_api.security.keys import entry_yaml, new_key
    except ImportError:  # a --baseline checkout from before the API's layers
        from gateway_api.keys import entry_yaml, new_key  # type: ignore[attr-defined,no-redef]
    from gateway_core.routes import load_routes
    from support.gateway import dev_settings

    key = new_key()
    keys = Path(tempfile.mkdtemp(prefix="bench-keys-")) / "keys.yaml"
    entry = entry_yaml("bench", key, ["shopping:start", "shopping:read"], [])
    keys.write_text("keys:\n" + "".join(f"  {line}\n" for line in entry.splitlines()))
    # One table for both apps: what a start builds once per route is kept per route object.
    routes = load_routes(root / "k8s" / "routes")
    plain = create_app(
        dev_settings(rate_limit="off", rate_limit_global="off", log_level="WARNING"),
        routes=routes,
    )
    secured = create_app(
        ApiSettings(
            environment="production", auth_disabled=False, keys_file=keys, log_level="WARNING",
            rate_limit="1000000/s", rate_limit_global="1000000/s",
        ),
        routes=routes,
    )  # fmt: skip
    async with LifespanManager(plain) as p, LifespanManager(secured) as s:
        api, api_auth = p.app, s.app
        auth = [(b"x-api-key", key.encode())]
        for _ in range(300):  # a minute
            if (await call(api, "GET", "/readyz", b"", []))[0] == 200:
                break
            await asyncio.sleep(0.2)
        else:
            raise SystemExit("the API never became ready: is Temporal up?")
        orders = []
        for _ in range(ORDERS):
            status, answer = await call(
                api, "POST", "/workflows/orders/async", json.dumps(ORDER).encode(), []
            )
            assert status == 200, answer
            orders.append(json.loads(answer)["workflow_id"])
        cart, approval = json.dumps(CART).encode(), json.dumps({"approver": "b"}).encode()
        start = "/workflows/shopping/async"
        calls: dict[str, list[Call]] = {
            "start": [(api, "POST", start, cart, [])],
            "start+auth": [(api_auth, "POST", start, cart, auth)],
            "signal": [
                (api, "POST", f"/workflows/{o}/signals/approve", approval, []) for o in orders
            ],
            "status": [(api, "GET", f"/workflows/{o}/status", b"", []) for o in orders],
        }
        for targets in calls.values():
            for target in targets[:2]:  # warm: first calls build caches
                status, answer = await call(*target)
                assert status < 300, answer
        spent = dict.fromkeys(calls, 0.0)
        names = list(calls)
        clock = time.thread_time
        for i in range(requests):
            for name in names if i % 2 else reversed(names):
                targets = calls[name]
                started = clock()
                status, answer = await call(*targets[i % len(targets)])
                spent[name] += clock() - started
                assert status < 300, answer
    return {name: seconds / requests * 1e6 for name, seconds in spent.items()}


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
    # SIGTERM as Ctrl-C, so the Temporal server and the measuring child are stopped on the way
    # out, not left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
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
            line = f"  {op:<10}  this {this:6.0f}"
            if args.baseline:
                before = statistics.median(r[op] for r in seen["baseline"])
                line += f"   baseline {before:6.0f}   this - baseline {this - before:+5.0f}"
            print(line)
        for key, rounds in seen.items():
            costs = [r["start+auth"] - r["start"] for r in rounds]
            cost = statistics.median(costs)
            share = cost / statistics.median(r["start"] for r in rounds)
            print(f"\nauth + limits, {key}: start+auth - start {cost:+.0f} µs a request "
                  f"(rounds: {', '.join(f'{c:+.0f}' for c in costs)}), {share:.1%} of a start "
                  "here")  # fmt: skip
    finally:
        temporal.stop()


if __name__ == "__main__":
    main()
