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
SCHEDULE_RECONCILES = Counter(
    "temporal_gateway_operator_schedule_reconciles_total",
    "WorkflowSchedules reconciled, by result: changed (something written, to Temporal or to "
    "the resource), unchanged or error",
    ["result"],
)
SCHEDULE_RECONCILE_SECONDS = Histogram(
    "temporal_gateway_operator_schedule_reconcile_duration_seconds",
    "Time to reconcile the WorkflowSchedules due in one round (Temporal calls included)",
)
SCHEDULE_ACTIONS = Counter(
    "temporal_gateway_operator_schedule_actions_total",
    "Changes made to Temporal schedules, by action: write, pause, unpause, delete",
    ["action"],
)
SCHEDULE_DRIFT = Counter(
    "temporal_gateway_operator_schedule_drift_total",
    "Temporal schedules found changed (or deleted) behind the operator's back, and set back",
)
SCHEDULES = Gauge(
    "temporal_gateway_operator_schedules",
    "WorkflowSchedules by their Ready condition's reason (Scheduled, Paused, NotAccepted, ...)",
    ["reason"],
)
# Known results start at zero, so rate() and increase() see the first error.
for _result in ("changed", "unchanged", "error"):
    RECONCILES.labels(result=_result)
for _result in ("ok", "error"):
    WORKER_CHECKS.labels(result=_result)
for _result in ("changed", "unchanged", "error"):
    SCHEDULE_RECONCILES.labels(result=_result)
for _action in ("write", "pause", "unpause", "delete"):
    SCHEDULE_ACTIONS.labels(action=_action)

REASONS = ("Accepted", "InvalidSpec", "InvalidSchema", "PathConflict", "IdPrefixConflict")


def set_routes(by_reason: Mapping[str, int]) -> None:
    for reason in REASONS:
        ROUTES.labels(reason=reason).set(by_reason.get(reason, 0))


SCHEDULE_REASONS = ("Scheduled", "Paused", "PausedOnFailure", "NotAccepted", "ScheduleIdTaken",
                    "TemporalError", "Pending")  # fmt: skip


def set_schedules(by_reason: Mapping[str, int]) -> None:
    for reason in SCHEDULE_REASONS:
        SCHEDULES.labels(reason=reason).set(by_reason.get(reason, 0))
