"""``make bench-routes``: what a route table of 2, 200 and 2,000 routes costs, on a real API server.

One ``temporal server start-dev``, one real kube-apiserver and etcd (``tests/support/kube.py``,
with the CRD and ``k8s/operator``'s RBAC), one operator process as its ServiceAccount, and, as
the baseline, an API following a namespace of 2 routes. Then, for each size N, in a namespace
of its own:

- **operator**: N orders-sized WorkflowRoutes (``k8s/routes/orders.yaml``, each with a schema
  of its own) created at once (16 requests in flight), and the time from the last creation to
  every route ``Ready``, with each route's creation → ``Ready`` (its condition's
  ``lastTransitionTime``, one-second resolution);
- **API ready**: an API process (``API_ROUTES_SOURCE=kubernetes`` on that namespace, as its
  ServiceAccount) from its start to ``/readyz`` 200 with all N routes;
- **start p50**: async starts (``POST /workflows/<route>/async``, c=1, no worker: each is only
  recorded) taking turns between this API and the 2-route baseline, the same requests;
- **OpenAPI**: ``/openapi.json``'s first build (time to its first byte, the build; and the whole
  transfer), size, a second request (cached), one with ``If-None-Match`` (304), one route's own
  document (``/workflows/<route>/openapi.json``), and the document rebuilt after one route
  changed (three times: the median, and the worst);
- **reload CPU**: the API's CPU for one changed route (its recompilation and the table swap:
  ``temporal_gateway_route_update_cpu_seconds``), the same three changes;
- **RSS**: the API process's resident memory once ready and after the OpenAPI requests, and the
  difference from the 2-route API's.

It prints, and writes the figures to ``.bench/`` (gitignored). A benchmark prints: it never
fails on a missed goal. Absolute figures move with the machine's load; the 2-route API runs
beside each other one as its control.

Usage: ``make bench-routes`` or ``KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"
.venv/bin/python hack/bench_routes.py [--sizes 2,200,2000] [--starts 200]``
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from support.kube import ControlPlane  # noqa: E402
from support.procs import (  # noqa: E402
    ApiProcess,
    Process,
    TemporalDevServer,
    eventually,
    free_port,
)

NS = "temporal-gateway"  # where k8s/operator puts the ServiceAccounts and the Lease
GROUP = "/apis/temporal-gateway.dev/v1alpha1"
ORDERS = next(d for d in yaml.safe_load_all((ROOT / "k8s/routes/orders.yaml").read_text()) if d)
ORDER = {"customer": "bench", "items": [{"fruit": "APPLE", "amount": 1}]}
GOALS = {
    "ready_s": ("API ready", 5.0, "≤ 5 s at 2,000"),
    "reload_cpu_ms": ("reload CPU, one route", 100.0, "≤ 100 ms"),
    "openapi_rebuild_ms": ("/openapi.json rebuilt after one change", 200.0, "< 200 ms"),
    "rss_extra_mib": ("RSS above the 2-route API", 30.0, "≤ 30 MiB"),
    "all_ready_s": ("operator: every route Ready after its creation", 30.0, "≤ 30 s"),
}


def route(size: int | str, i: int, bump: int = 0) -> dict[str, Any]:
    """An orders-sized route of the namespace ``bench-<size>``; paths and prefixes unique
    across sizes (the operator judges them all together)."""
    doc = copy.deepcopy(ORDERS)
    name = f"b{size}-{i}"
    doc["metadata"] = {"name": name, "namespace": f"bench-{size}"}
    spec = doc["spec"]
    spec["path"] = name
    spec["workflowId"]["prefix"] = f"{name}-"
    spec["inputSchema"]["properties"]["customer"]["maxLength"] = 64 + i + bump
    return doc


class Cluster:
    """The API server, as its administrator."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.http = httpx.Client(
            base_url=plane.url, verify=plane.ssl_context(), timeout=60, trust_env=False
        )

    def create_all(self, docs: list[dict[str, Any]], in_flight: int = 16) -> float:
        """Create every route, ``in_flight`` requests at a time; the monotonic time the last
        one returned."""

        def create(doc: dict[str, Any]) -> None:
            ns = doc["metadata"]["namespace"]
            self.http.post(f"{GROUP}/namespaces/{ns}/workflowroutes", json=doc).raise_for_status()

        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(create, docs))
        return time.monotonic()

    def routes(self, namespace: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{GROUP}/namespaces/{namespace}/workflowroutes")
        response.raise_for_status()
        return list(response.json()["items"])

    def patch_spec(self, doc: dict[str, Any]) -> None:
        ns, name = doc["metadata"]["namespace"], doc["metadata"]["name"]
        self.http.patch(
            f"{GROUP}/namespaces/{ns}/workflowroutes/{name}",
            json={"spec": doc["spec"]},
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def ready_lags(items: list[dict[str, Any]]) -> list[float] | None:
    """Each route's creation → Ready (its current generation), or None while one is not."""
    lags = []
    for item in items:
        generation = item["metadata"].get("generation", 1)
        found = [
            c for c in (item.get("status") or {}).get("conditions", [])
            if c["type"] == "Ready" and c["status"] == "True"
            and c.get("observedGeneration") == generation
        ]  # fmt: skip
        if not found:
            return None
        lags.append(
            _seconds(found[0]["lastTransitionTime"])
            - _seconds(item["metadata"]["creationTimestamp"])
        )
    return lags


def metric(api: ApiProcess, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{api.metrics_port}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return 0.0


def rss_mib(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM (the peak) of ``pid``, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def timed_get(
    client: httpx.Client, url: str, headers: dict[str, str] | None = None
) -> tuple[float, float, int, int]:
    """(time to the first byte, time to the last, status, size) of one GET, in seconds, on a
    client whose connection is open (a new client costs tens of milliseconds by itself)."""
    client.get(url.rsplit("/", 1)[0] + "/livez")  # the connection, open and warm
    started = time.perf_counter()
    with client.stream("GET", url, headers=headers or {}) as response:
        first = time.perf_counter() - started
        size = sum(len(chunk) for chunk in response.iter_bytes())
    return first, time.perf_counter() - started, response.status_code, size


def start_p50(apis: dict[str, tuple[ApiProcess, str]], starts: int) -> dict[str, float]:
    """Async starts taking turns between the APIs (each on its own route), request by request,
    the order reversed every other turn; each API's p50 in ms."""
    times: dict[str, list[float]] = {k: [] for k in apis}
    keys = list(apis)
    with httpx.Client(timeout=30) as client:
        for i in range(starts + 10):
            for key in keys if i % 2 == 0 else reversed(keys):
                api, path = apis[key]
                started = time.perf_counter()
                response = client.post(f"{api.url}/workflows/{path}/async", json=ORDER)
                took = time.perf_counter() - started
                assert response.status_code in (200, 202), response.text
                if i >= 10:  # the first ten warm up connections and caches
                    times[key].append(took)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def api_for(plane: ControlPlane, logs: Path, temporal: str, namespace: str) -> ApiProcess:
    kubeconfig = plane.service_account_kubeconfig(NS, "temporal-gateway-api")
    return ApiProcess(
        logs, temporal=temporal,
        env={"API_ROUTES_SOURCE": "kubernetes", "API_ROUTES_NAMESPACES": namespace,
             "KUBECONFIG": str(kubeconfig), "LOG_LEVEL": "WARNING",
             # Back to back starts from one caller: never limited here.
             "API_RATE_LIMIT": "off", "API_RATE_LIMIT_GLOBAL": "off"},
    )  # fmt: skip


def measure(
    size: int, cluster: Cluster, baseline: ApiProcess, logs: Path, temporal: str, starts: int
) -> dict[str, Any]:
    plane = cluster.plane
    namespace = f"bench-{size}"
    plane.kubectl("create", "namespace", namespace)
    figures: dict[str, Any] = {"size": size}
    print(f"\n{size} routes", flush=True)

    # The operator: every route Ready.
    docs = [route(size, i) for i in range(size)]
    began = time.monotonic()
    created = cluster.create_all(docs)
    figures["create_s"] = created - began
    lags = eventually(lambda: ready_lags(cluster.routes(namespace)), timeout=600, interval=0.5)
    figures["all_ready_after_last_create_s"] = time.monotonic() - created
    figures["ready_lag_p50_s"] = statistics.median(lags)
    figures["all_ready_s"] = max(lags)
    print(f"  operator: {size} created in {figures['create_s']:.1f}s, every one Ready "
          f"{figures['all_ready_after_last_create_s']:.1f}s after the last creation; "
          f"creation → Ready p50 {figures['ready_lag_p50_s']:.0f}s, max {max(lags):.0f}s",
          flush=True)  # fmt: skip

    # The API: ready with all the routes.
    started = time.monotonic()
    api = api_for(plane, logs, temporal, namespace)
    try:
        api.wait_ready(timeout=120)
        figures["ready_s"] = time.monotonic() - started
        served = metric(api, "temporal_gateway_routes")
        assert served == size, f"{served} routes served of {size}"
        figures["rss_ready_mib"] = rss_mib(api.pid)[0]
        print(f"  API ready in {figures['ready_s']:.2f}s with {size} routes, "
              f"RSS {figures['rss_ready_mib']:.0f} MiB", flush=True)  # fmt: skip

        # The start path, against the 2-route API in the same run.
        p50 = start_p50({"this": (api, f"b{size}-0"), "baseline": (baseline, "bbase-0")}, starts)
        figures["start_p50_ms"], figures["start_p50_baseline_ms"] = p50["this"], p50["baseline"]
        print(f"  start p50 {p50['this']:.2f} ms, the 2-route API {p50['baseline']:.2f} ms "
              f"(x{p50['this'] / p50['baseline']:.2f})", flush=True)  # fmt: skip

        # OpenAPI: first build, cached, 304, one route's document.
        url = f"{api.url}/openapi.json"
        client = httpx.Client(timeout=120)
        first, whole, status, size_bytes = timed_get(client, url)
        assert status == 200
        figures |= {"openapi_first_ms": first * 1000, "openapi_first_transfer_ms": whole * 1000,
                    "openapi_bytes": size_bytes}  # fmt: skip
        first, whole, status, _ = timed_get(client, url)
        figures |= {"openapi_cached_ms": first * 1000, "openapi_cached_transfer_ms": whole * 1000}
        etag = client.get(url).headers["etag"]
        first, _, status, _ = timed_get(client, url, {"If-None-Match": etag})
        assert status == 304
        figures["openapi_304_ms"] = first * 1000
        route_url = f"{api.url}/workflows/b{size}-1/openapi.json"
        first, whole_route, status, route_bytes = timed_get(client, route_url)
        assert status == 200
        figures |= {"route_doc_ms": whole_route * 1000, "route_doc_bytes": route_bytes}

        # One route changed, three times: the API's CPU for it, and the document rebuilt.
        reloads, rebuilds = [], []
        for k in range(3):
            version = httpx.get(f"{api.url}/", timeout=10).json()["routes_version"]
            cpu = metric(api, "temporal_gateway_route_update_cpu_seconds_sum")
            count = metric(api, "temporal_gateway_route_update_cpu_seconds_count")
            cluster.patch_spec(route(size, 1, bump=1000 + k))
            eventually(
                lambda v=version: httpx.get(f"{api.url}/", timeout=10).json()["routes_version"]
                != v, timeout=60, interval=0.05,
            )  # fmt: skip
            swaps = metric(api, "temporal_gateway_route_update_cpu_seconds_count") - count
            spent = metric(api, "temporal_gateway_route_update_cpu_seconds_sum") - cpu
            reloads.append(spent * 1000 / max(swaps, 1))
            first, _, status, _ = timed_get(client, url)
            assert status == 200
            rebuilds.append(first * 1000)
        figures["reload_cpu_ms"] = statistics.median(reloads)
        figures["reload_cpu_max_ms"] = max(reloads)
        figures["openapi_rebuild_ms"] = statistics.median(rebuilds)
        figures["openapi_rebuild_max_ms"] = max(rebuilds)
        figures["rss_openapi_mib"], figures["rss_peak_mib"] = rss_mib(api.pid)
        print(
            f"  /openapi.json: {figures['openapi_bytes'] / 1e6:.2f} MB, first build "
            f"{figures['openapi_first_ms']:.0f} ms (transfer "
            f"{figures['openapi_first_transfer_ms']:.0f} ms), cached "
            f"{figures['openapi_cached_ms']:.1f} ms (transfer "
            f"{figures['openapi_cached_transfer_ms']:.0f} ms), 304 {figures['openapi_304_ms']:.1f}"
            f" ms; rebuilt after one change {[round(r) for r in rebuilds]} ms; one route's "
            f"document {figures['route_doc_ms']:.1f} ms ({route_bytes / 1e3:.0f} kB)\n"
            f"  reload CPU for one changed route {[round(r, 1) for r in reloads]} ms; RSS "
            f"{figures['rss_openapi_mib']:.0f} MiB after the OpenAPI requests (peak "
            f"{figures['rss_peak_mib']:.0f})",
            flush=True,
        )
        client.close()
    finally:
        api.stop()
    return figures


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    logs = Path(tempfile.mkdtemp(prefix="bench-routes-"))
    temporal = TemporalDevServer(logs)
    (logs / "kube").mkdir()
    plane = ControlPlane(logs / "kube", logs)
    operator: Process | None = None
    baseline: ApiProcess | None = None
    results: list[dict[str, Any]] = []
    try:
        temporal.wait_ready()
        plane.start()
        plane.kubectl("apply", "-f", str(ROOT / "k8s/crds"), "-f", str(ROOT / "k8s/operator"))
        plane.kubectl("wait", "--for=condition=Established",
                      "crd/workflowroutes.temporal-gateway.dev")  # fmt: skip
        operator_kubeconfig = plane.service_account_kubeconfig(NS, "temporal-gateway-operator")
        operator = Process(
            "operator", [sys.executable, "-m", "gateway_operator"], log_dir=logs,
            env={"KUBECONFIG": str(operator_kubeconfig), "OPERATOR_LEASE_NAMESPACE": NS,
                 "OPERATOR_METRICS_PORT": str(free_port()),
                 "OPERATOR_HEALTH_PORT": str(free_port()), "TEMPORAL_ADDRESS": temporal.address,
                 "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"},
        )  # fmt: skip
        cluster = Cluster(plane)
        # The baseline: an API on 2 routes, for the whole run.
        plane.kubectl("create", "namespace", "bench-base")
        cluster.create_all([route("base", i) for i in range(2)])
        eventually(lambda: ready_lags(cluster.routes("bench-base")), timeout=120)
        baseline = api_for(plane, logs, temporal.address, "bench-base")
        baseline.wait_ready(timeout=120)
        for size in args.sizes:
            results.append(measure(size, cluster, baseline, logs, temporal.address, args.starts))
        cluster.http.close()
    finally:
        for process in (baseline, operator):
            if process is not None:
                process.stop()
        plane.stop()
        temporal.stop()
    print(f"(logs: {logs})")
    return results


def summary(results: list[dict[str, Any]]) -> str:
    """The figures side by side, and the issue's goals beside the largest table."""
    base = next((r for r in results if r["size"] == 2), results[0])
    for r in results:
        r["rss_extra_mib"] = r["rss_ready_mib"] - base["rss_ready_mib"]
        r["rss_openapi_extra_mib"] = r["rss_openapi_mib"] - base["rss_openapi_mib"]
    rows = [
        ("operator: routes created (16 in flight)", "create_s", "{:.1f} s"),
        (
            "operator: all Ready after the last creation",
            "all_ready_after_last_create_s",
            "{:.1f} s",
        ),
        ("operator: creation → Ready, p50", "ready_lag_p50_s", "{:.0f} s"),
        ("operator: creation → Ready, max", "all_ready_s", "{:.0f} s"),
        ("API ready (start → /readyz 200, every route)", "ready_s", "{:.2f} s"),
        ("reload CPU, one changed route (median of 3)", "reload_cpu_ms", "{:.1f} ms"),
        ("reload CPU, one changed route (max of 3)", "reload_cpu_max_ms", "{:.1f} ms"),
        ("/openapi.json size", "openapi_bytes", "{:,.0f} B"),
        ("/openapi.json first build (first byte)", "openapi_first_ms", "{:.0f} ms"),
        ("/openapi.json first, whole transfer", "openapi_first_transfer_ms", "{:.0f} ms"),
        ("/openapi.json rebuilt after one change (median of 3)", "openapi_rebuild_ms", "{:.0f} ms"),
        (
            "/openapi.json rebuilt after one change (max of 3)",
            "openapi_rebuild_max_ms",
            "{:.0f} ms",
        ),
        ("/openapi.json cached (first byte)", "openapi_cached_ms", "{:.1f} ms"),
        ("/openapi.json cached, whole transfer", "openapi_cached_transfer_ms", "{:.0f} ms"),
        ("/openapi.json with its ETag: 304", "openapi_304_ms", "{:.1f} ms"),
        ("one route's /workflows/<route>/openapi.json", "route_doc_ms", "{:.1f} ms"),
        ("RSS once ready", "rss_ready_mib", "{:.0f} MiB"),
        ("RSS once ready, above the 2-route API", "rss_extra_mib", "{:+.0f} MiB"),
        ("RSS after the OpenAPI requests", "rss_openapi_mib", "{:.0f} MiB"),
        ("RSS after the OpenAPI requests, above 2 routes", "rss_openapi_extra_mib", "{:+.0f} MiB"),
        ("start p50 (c=1)", "start_p50_ms", "{:.2f} ms"),
        ("start p50 of the 2-route API, same run", "start_p50_baseline_ms", "{:.2f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = ["", "routes".ljust(width) + "".join(f"{r['size']:>14,}" for r in results)]
    for label, key, fmt in rows:
        lines.append(label.ljust(width) + "".join(f"{fmt.format(r[key]):>14}" for r in results))
    largest = max(results, key=lambda r: r["size"])
    lines.append("")
    lines.append(f"goals at {largest['size']:,} routes:")
    for key, (label, limit, goal) in GOALS.items():
        value = largest[key]
        lines.append(f"  {label}: {value:.1f} ({goal}): {'met' if value <= limit else 'MISSED'}")
    ratio = largest["start_p50_ms"] / largest["start_p50_baseline_ms"]
    lines.append(f"  start p50 against the 2-route API in the same run: x{ratio:.2f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="hack/bench_routes.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="2,200,2000", help="route table sizes, in order")
    parser.add_argument("--starts", type=int, default=200, help="async starts per API and size")
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    results = run(args)
    print(summary(results))
    out = ROOT / ".bench" / f"bench-routes-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
