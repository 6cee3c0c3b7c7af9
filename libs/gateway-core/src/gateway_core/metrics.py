"""The Prometheus endpoint of the API and the operator, without a version banner.

``prometheus_client.start_http_server`` answers with ``Server: WSGIServer/0.2 CPython/3.11.7``,
which tells anyone who can reach the port which Python to look up vulnerabilities for. This
serves the same exposition (prometheus_client's own handler, content negotiation and gzip
included) from the standard library's threading HTTP server, with no ``Server`` header.

Which address to bind is the caller's choice: all interfaces in a pod (the chart's
NetworkPolicy decides who may connect), loopback on a developer's machine. So is the registry:
the default one of the process, or one that sums several processes (the API's workers).
"""

from __future__ import annotations

import socket
import threading
from http.server import ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry, MetricsHandler


class _Handler(MetricsHandler):
    registry = REGISTRY

    def send_response(self, code: int, message: str | None = None) -> None:
        # BaseHTTPRequestHandler.send_response, less its Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def serve_metrics(
    port: int, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY
) -> ThreadingHTTPServer:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    server_class: type[_Server] = type("MetricsServer", (_Server,), {"address_family": family})
    handler: type[_Handler] = type("Handler", (_Handler,), {"registry": registry})
    server = server_class((host, port), handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
