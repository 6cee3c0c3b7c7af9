"""The API under another HTTP server, for ``make bench --api-args``: the server comparison.

``serve.py uvicorn-h11`` (pure Python parser, asyncio loop: the seed's setup),
``serve.py uvicorn-httptools`` (uvloop + httptools: uvicorn[standard]) and ``serve.py granian``
(Rust/hyper, its embedded server on a uvloop loop) build the app exactly as ``python -m
gateway_api`` does and serve it on ``API_HOST``/``API_PORT``. Not a supported entry point.
"""

from __future__ import annotations

import sys

import uvicorn
from prometheus_client import start_http_server

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_core.logging import configure_logging
from gateway_core.telemetry import configure_tracing


def main(server: str) -> None:
    settings = ApiSettings()
    configure_logging(service="api", level=settings.log_level, fmt=settings.log_format)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.host)
    tracing = configure_tracing("temporal-gateway-api")
    app = create_app(settings)
    if server.startswith("uvicorn"):
        h11 = server == "uvicorn-h11"
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False,
            loop="asyncio" if h11 else "uvloop", http="h11" if h11 else "httptools",
        )  # fmt: skip
    else:
        import uvloop
        from granian.constants import Interfaces
        from granian.server.embed import Server

        embedded = Server(app, address=settings.host, port=settings.port,
                          interface=Interfaces.ASGI, log_access=False)  # fmt: skip
        uvloop.run(embedded.serve())
    tracing.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
