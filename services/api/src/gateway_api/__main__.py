"""``python -m gateway_api``: serve the API with uvicorn, settings from the environment.

uvicorn handles SIGTERM as Kubernetes expects: it stops accepting connections, lets in-flight
requests finish (up to ``API_GRACEFUL_SHUTDOWN_SECONDS``), then runs the lifespan shutdown.
"""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
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
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
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
