"""The worker's metrics and traces.

Metrics: the Temporal SDK's own (task slots, schedule-to-start latency, task failures...) through
its runtime's Prometheus exporter, on ``WORKER_METRICS_PORT``, plus per-activity outcomes
recorded on the same meter, so one port serves them all. Traces: Temporal's OpenTelemetry
interceptor continues the trace the API started (RunWorkflow, StartActivity, RunActivity).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity, client
from temporalio.common import MetricCounter, MetricMeter
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.exceptions import CancelledError
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


def runtime(metrics_bind: str | None) -> Runtime:
    """A runtime exporting SDK metrics on ``metrics_bind`` (``host:port``); None: no metrics."""
    if metrics_bind is None:
        return Runtime(telemetry=TelemetryConfig())
    prometheus = PrometheusConfig(
        bind_address=metrics_bind, counters_total_suffix=True, durations_as_seconds=True
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


class ActivityOutcomes(client.Interceptor, Interceptor):
    """Counts every activity execution by type and outcome: completed, failed, canceled.

    Also a client interceptor (that changes nothing), so it can be given to ``Client.connect``
    and reach every worker built from that client, as Temporal's tracing interceptor does.
    """

    def __init__(self, meter: MetricMeter) -> None:
        self._counter = meter.create_counter(
            "temporal_gateway_activity_outcomes", "Activity executions by type and outcome"
        )

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Outcomes(next, self._counter)


class _Outcomes(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, counter: MetricCounter) -> None:
        super().__init__(next)
        self._counter = counter

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        outcome = "failed"
        try:
            result = await super().execute_activity(input)
        except (asyncio.CancelledError, CancelledError):
            outcome = "canceled"
            raise
        else:
            outcome = "completed"
            return result
        finally:
            attributes = {"activity_type": activity.info().activity_type, "outcome": outcome}
            self._counter.add(1, attributes)


def interceptors(meter: MetricMeter) -> list[client.Interceptor]:
    return [TracingInterceptor(), ActivityOutcomes(meter)]
