"""A worker process hosting the test workflows (the sample and the message ones), run through
the real worker service code: ``python -m support.slow_worker`` (with ``tests`` on PYTHONPATH)."""

from __future__ import annotations

import asyncio

from gateway_core.logging import configure_logging
from gateway_core.telemetry import configure_tracing
from gateway_core.temporal import connect_config
from gateway_worker.config import WorkerSettings
from gateway_worker.worker import exit_cleanly, run
from support.message_workflows import MESSAGE_WORKFLOWS
from support.payload_workflows import PAYLOAD_WORKFLOWS
from support.sample_workflows import TEST_ACTIVITIES, TEST_WORKFLOWS

if __name__ == "__main__":
    configure_logging(service="slow-worker", fmt="json")
    tracing = configure_tracing("slow-worker")  # exports only with OTEL_EXPORTER_OTLP_ENDPOINT
    try:
        asyncio.run(
            run(
                WorkerSettings(),
                connect_config(),
                [*TEST_WORKFLOWS, *MESSAGE_WORKFLOWS, *PAYLOAD_WORKFLOWS],
                TEST_ACTIVITIES,
            )
        )
    finally:
        tracing.shutdown()
    exit_cleanly()
