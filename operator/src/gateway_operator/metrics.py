"""The operator's Prometheus metrics (bounded labels: results and condition reasons)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "temporal_gateway_operator_reconciles_total",
    "Reconciles by result: changed, unchanged or error",
    ["result"],
)
RECONCILE_SECONDS = Histogram(
    "temporal_gateway_operator_reconcile_duration_seconds", "Time to reconcile all routes"
)
PLAN_SECONDS = Histogram(
    "temporal_gateway_operator_plan_duration_seconds",
    "Time to judge and plan all routes (no I/O), per reconcile",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LEADER = Gauge(
    "temporal_gateway_operator_leader", "1 while this replica holds the Lease and writes"
)
WORKER_CHECKS = Counter(
    "temporal_gateway_operator_worker_checks_total",
    "DescribeTaskQueue calls by result: ok, error",
    ["result"],
)
ROUTES = Gauge(
    "temporal_gateway_operator_routes",
    "WorkflowRoutes by their Accepted condition's reason (Accepted, PathConflict, ...)",
    ["reason"],
)
# Known results start at zero, so rate() and increase() see the first error.
for _result in ("changed", "unchanged", "error"):
    RECONCILES.labels(result=_result)
for _result in ("ok", "error"):
    WORKER_CHECKS.labels(result=_result)

REASONS = ("Accepted", "InvalidSpec", "InvalidSchema", "PathConflict", "IdPrefixConflict")


def set_routes(by_reason: Mapping[str, int]) -> None:
    for reason in REASONS:
        ROUTES.labels(reason=reason).set(by_reason.get(reason, 0))
