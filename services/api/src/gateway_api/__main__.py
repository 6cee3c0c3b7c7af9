"""``python -m gateway_api``: serve the API with uvicorn, settings from the environment.

uvicorn runs on uvloop with the httptools parser (uvicorn[standard], the ecosystem's fast
path), its protocol guarded against slow clients (:mod:`gateway_api.server`); why this server
and not granian or hypercorn is in docs/performance.md. uvicorn handles SIGTERM as Kubernetes
expects: it stops accepting connections, lets in-flight requests finish (up to
``API_GRACEFUL_SHUTDOWN_SECONDS``), then runs the lifespan shutdown. One process by default;
``API_WORKERS`` above 1 runs that many on the port instead (:mod:`gateway_api.processes`).
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_api.processes import configure_process, serve_workers, uvicorn_options
from gateway_api.server import ConnectionLimits, bounded_connections, guarded_protocol
from gateway_core.metrics import serve_metrics
from gateway_core.telemetry import configure_tracing


def main() -> None:
    try:
        settings = ApiSettings()
    except ValidationError as exc:
        # Before logging is set up, and without a traceback: the message names the setting.
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            where = f"API_{field.upper()}: " if field else ""
            print(f"configuration error: {where}{error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_process(settings)
    limits = ConnectionLimits(
        header_timeout=settings.header_read_timeout_seconds,
        body_timeout=settings.body_read_timeout_seconds,
        max_connections=bounded_connections(settings.max_connections),
    )
    if settings.workers > 1:
        serve_workers(settings, limits)
        return
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    tracing = configure_tracing("temporal-gateway-api")
    uvicorn.run(
        create_app(settings),
        http=guarded_protocol(limits),
        # Said here, or uvicorn would take WEB_CONCURRENCY from the environment, and refuse
        # to start with it above 1 and an app object.
        workers=1,
        **uvicorn_options(settings),
    )
    tracing.shutdown()  # flush the spans of the last requests


if __name__ == "__main__":
    main()
