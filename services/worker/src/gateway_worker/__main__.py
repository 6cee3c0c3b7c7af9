"""``python -m gateway_worker``: run the worker with settings from the environment."""

from __future__ import annotations

import asyncio
import sys

from gateway_core.codecs import CodecConfigError, load_local
from gateway_core.logging import configure_logging, quiet_temporal_messages
from gateway_core.telemetry import configure_tracing
from gateway_core.temporal import connect_config
from gateway_worker.config import load_settings
from gateway_worker.worker import exit_cleanly, run
from gateway_workflows.registry import WORKFLOWS, build_activities


def main() -> None:
    settings = load_settings()
    try:
        load_local(settings.codecs)  # run() makes them again; a broken one is said here
    except CodecConfigError as exc:
        print(f"configuration error: WORKER_CODECS: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(service="worker", level=settings.log_level, fmt=settings.log_format)
    quiet_temporal_messages()
    tracing = configure_tracing("temporal-gateway-worker")
    try:
        asyncio.run(run(settings, connect_config(), WORKFLOWS, build_activities()))
    finally:
        tracing.shutdown()
    exit_cleanly()


if __name__ == "__main__":
    main()
