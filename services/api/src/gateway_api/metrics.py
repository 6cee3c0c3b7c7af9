"""The API's Prometheus metrics (served on their own port, :mod:`gateway_api.server.processes`).

Names follow OpenTelemetry's semantic conventions where one exists (``http.server.*``).
Label values are bounded: route templates and route names, methods, status codes, outcomes and
error codes, never workflow ids or raw paths.

With several workers (``API_WORKERS``) each process writes its values to files in
``PROMETHEUS_MULTIPROC_DIR`` and the metrics port serves their sum
(:mod:`gateway_api.server.processes`):
counters and histograms add up; each gauge's ``multiprocess_mode`` says how its values combine,
over the live processes only, so a worker that died stops counting. One process ignores it.
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

from gateway_core.routes import RouteTable

HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP requests (semconv http.server.request.duration)",
    ["http_request_method", "http_route", "http_response_status_code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_ACTIVE = Gauge(
    "http_server_active_requests",
    "HTTP requests in flight (semconv http.server.active_requests)",
    ["http_request_method"],
    multiprocess_mode="livesum",  # the pod's requests in flight
)
WORKFLOW_STARTS = Counter(
    "temporal_gateway_workflow_starts_total",
    "Workflow start requests by route and outcome: started, existing (an idempotent repeat), "
    "rejected (bad input), conflict, error; signaled and updated for the with-start operations "
    "(which start the workflow only if it is not running)",
    ["route", "outcome"],
)
SCHEDULE_ACTIONS = Counter(
    "temporal_gateway_schedule_actions_total",
    "Schedule requests by route, action (create, describe, update, pause, unpause, trigger, "
    "backfill, delete) and outcome: ok, existing (an idempotent repeat of a create), rejected "
    "(bad input, a resource's schedule), conflict (the id taken, a stale If-Match), error",
    ["route", "action", "outcome"],
)
SYNC_WAIT = Histogram(
    "temporal_gateway_sync_wait_seconds",
    "Time spent waiting for workflow results, by route and outcome: completed, running (202), "
    "failed",
    ["route", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
TEMPORAL_ERRORS = Counter(
    "temporal_gateway_temporal_errors_total",
    "Errors from Temporal calls by gRPC status code (NOT_CONNECTED before a first connection)",
    ["grpc_code"],
)
REJECTIONS = Counter(
    "temporal_gateway_rejections_total",
    "Requests refused before reaching Temporal, by problem code",
    ["code"],
)
TEMPORAL_CONNECTED = Gauge(
    "temporal_gateway_temporal_connected",
    "1 while the API can reach Temporal, else 0",
    # Each process has its own connection: 1 only while all of them are connected, since the
    # requests of one that is not fail.
    multiprocess_mode="livemin",
)
ROUTE_TABLE_LOADS = Counter(
    "temporal_gateway_route_table_loads_total",
    "Route table loads by result; a failure keeps the last good table",
    ["result"],
)
ROUTE_TABLE_INFO = Gauge(
    "temporal_gateway_route_table_info",
    "The route table in use (value 1)",
    ["version"],
    # 1 for each version some process serves: both, while a reload reaches one after the other.
    multiprocess_mode="livemax",
)
ROUTE_SOURCE_UP = Gauge(
    "temporal_gateway_route_source_up",
    "1 while the route table's source (the Kubernetes API, with API_ROUTES_SOURCE=kubernetes) "
    "is reachable; 0 while the last good table is served without updates",
    multiprocess_mode="livemin",
)
ROUTE_SOURCE_UP.set(1)
ROUTE_UPDATE_SECONDS = Histogram(
    "temporal_gateway_route_update_cpu_seconds",
    "CPU time of one incremental route table update (compiling the changed routes and the swap)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CODEC_CALLS = Histogram(
    "temporal_gateway_codec_duration_seconds",
    "Payload codec calls by codec, operation (encode, decode) and result (ok, error)",
    ["codec", "operation", "result"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROUTES = Gauge("temporal_gateway_routes", "Routes in the table in use", multiprocess_mode="livemax")

# Known outcomes start at zero, so rate() and increase() see the first failure.
for _result in ("success", "failure"):
    ROUTE_TABLE_LOADS.labels(result=_result)


def route_table_loaded(table: RouteTable) -> None:
    ROUTE_TABLE_LOADS.labels(result="success").inc()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # A series cannot be removed from the shared files (prometheus_client warns and keeps
        # it): the versions replaced go to 0 instead.
        for family in ROUTE_TABLE_INFO.collect():
            for sample in family.samples:
                if sample.labels["version"] != table.version:
                    ROUTE_TABLE_INFO.labels(**sample.labels).set(0)
    else:
        ROUTE_TABLE_INFO.clear()
    ROUTE_TABLE_INFO.labels(version=table.version).set(1)
    ROUTES.set(len(table.routes))
