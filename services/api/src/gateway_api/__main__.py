"""``python -m gateway_api``: serve the API with uvicorn, settings from the environment.

uvicorn runs on uvloop with the httptools parser (uvicorn[standard], the ecosystem's fast
path), its protocol guarded against slow clients (:mod:`gateway_api.server`); why this server
and not granian or hypercorn is in docs/performance.md. uvicorn handles SIGTERM as Kubernetes
expects: it stops accepting connections, lets in-flight requests finish (up to
``API_GRACEFUL_SHUTDOWN_SECONDS``), then runs the lifespan shutdown.
"""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_api.server import (
    ConnectionLimits,
    OncePerInterval,
    bounded_connections,
    guarded_protocol,
)
from gateway_core.logging import configure_logging
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
    configure_logging(service="api", level=settings.log_level, fmt=settings.log_format)
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    tracing = configure_tracing("temporal-gateway-api")
    # asyncio logs every failed accept() when descriptors run out; once in a while is enough.
    logging.getLogger("asyncio").addFilter(OncePerInterval())
    limits = ConnectionLimits(
        header_timeout=settings.header_read_timeout_seconds,
        body_timeout=settings.body_read_timeout_seconds,
        max_connections=bounded_connections(settings.max_connections),
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=guarded_protocol(limits),
        ws="none",  # no WebSocket endpoints: do not even import a WebSocket implementation
        backlog=2048,
        log_config=None,  # configure_logging already routes uvicorn's loggers
        access_log=False,  # RequestContextMiddleware writes the access line
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
        server_header=False,  # no "server: uvicorn" banner
        # The API decides which X-Forwarded-For to believe (API_TRUSTED_PROXIES); uvicorn's
        # default would believe any from 127.0.0.1 and rewrite the client address.
        proxy_headers=False,
    )
    tracing.shutdown()  # flush the spans of the last requests


if __name__ == "__main__":
    main()
