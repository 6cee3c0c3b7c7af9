"""What a route table costs the API's memory, in process: no API server, no Kubernetes.

``make bench-routes`` measures the API's RSS with 2, 200 and 2,000 routes on a real API server,
a few minutes a run. This measures the same table in seconds, so a change to what a route keeps
can be compared before and after: for each size, N orders-sized routes
(``k8s/routes/orders.yaml``, each with a schema of its own, as ``make bench-routes`` makes them)
go the way the API's watch takes them: listed as JSON in pages of 100, each object slimmed and
interned (``gateway_core.routes.cluster``), validated, compiled and indexed; then the API's
settling after a swap (``freeze_heap``). Each size runs in a fresh process, twice: once for the
RSS (above the same process with a 2-route table, measured the same way), once under
``tracemalloc`` for what the table keeps (its objects, whatever the allocator does with pages).

``--baseline OTHER/.venv/bin/python`` runs the same measurements with another checkout's code
(this file, that checkout's packages), each size in turn with this one's.

Usage: ``.venv/bin/python hack/bench/route_memory.py [--sizes 200,2000] [--baseline PYTHON]``
"""

from __future__ import annotations

import argparse
import copy
import gc
import inspect
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = 100
ORDERS = next(d for d in yaml.safe_load_all((ROOT / "k8s/routes/orders.yaml").read_text()) if d)


def _object(size: int, i: int) -> dict[str, Any]:
    """An accepted orders-sized WorkflowRoute, as the API server lists it."""
    doc: dict[str, Any] = copy.deepcopy(ORDERS)
    name = f"b{size}-{i}"
    doc["metadata"] = {"name": name, "namespace": f"bench-{size}", "uid": f"uid-{i}",
                       "generation": 1, "resourceVersion": str(i),
                       "creationTimestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
    spec = doc["spec"]
    spec["path"] = name
    spec["workflowId"]["prefix"] = f"{name}-"
    spec["inputSchema"]["properties"]["customer"]["maxLength"] = 64 + i
    doc["status"] = {
        "conditions": [{"type": "Accepted", "status": "True", "observedGeneration": 1}]
    }
    return doc


def _pages(size: int) -> list[bytes]:
    return [
        json.dumps(
            {"items": [_object(size, i) for i in range(start, min(size, start + PAGE))]}
        ).encode()
        for start in range(0, size, PAGE)
    ]


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _table(pages: list[bytes]) -> Any:
    """The table the watch would make of these pages, then settled as the API settles it."""
    from gateway_api.route_store import freeze_heap
    from gateway_core.routes import build_table, compile_route
    from gateway_core.routes.cluster import Interner, _slim
    from gateway_core.routes.spec import WorkflowRoute

    intern = Interner()
    slim = [_slim(obj, intern) for page in pages for obj in json.loads(page)["items"]]
    routes = []
    for obj in slim:
        document = {k: obj[k] for k in ("apiVersion", "kind", "spec")}
        meta = obj["metadata"]
        document["metadata"] = {"name": meta["name"], "namespace": meta["namespace"]}
        routes.append(compile_route(WorkflowRoute.model_validate(document), check_schemas=False))
    table = build_table(routes)
    del slim, routes, intern
    # The settle of the checkout measured: with the number of routes swapped in, or without.
    settle: Any = freeze_heap
    settle(len(table.routes)) if inspect.signature(settle).parameters else settle()
    return table


def _measure(size: int, mode: str) -> dict[str, float]:
    """In this process: ``rss`` or ``traced`` MiB that a table of ``size`` routes adds."""
    small = _table(_pages(2))  # the code paths warm, as in the 2-route API
    pages = _pages(size)
    gc.collect()
    if mode == "traced":
        tracemalloc.start()
    before = _rss_mib()
    table = _table(pages)
    del pages
    gc.collect()
    if mode == "traced":
        kept, peak = tracemalloc.get_traced_memory()
        return {"traced": kept / 2**20, "peak": peak / 2**20, "routes": len(table.routes)}
    del small
    return {"rss": _rss_mib() - before, "routes": len(table.routes)}


def _run(python: str, size: int, mode: str) -> dict[str, float]:
    done = subprocess.run(
        [python, __file__, "--child", mode, "--sizes", str(size)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    measured: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,2000")
    parser.add_argument("--baseline", help="another checkout's .venv/bin/python")
    parser.add_argument("--child", choices=("rss", "traced"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(_measure(sizes[0], args.child)))
        return
    pythons = {"this": sys.executable}
    if args.baseline:
        pythons["baseline"] = args.baseline
    print(f"{'routes':>7} {'code':>9} {'RSS added':>10} {'kept (traced)':>14} {'peak':>8}")
    for size in sizes:
        for name, python in pythons.items():
            rss, traced = _run(python, size, "rss"), _run(python, size, "traced")
            print(f"{size:>7} {name:>9} {rss['rss']:>7.1f} MiB {traced['traced']:>10.1f} MiB "
                  f"{traced['peak']:>4.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
