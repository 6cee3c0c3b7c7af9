"""The API's Prometheus metrics (served on their own port by ``__main__``).

Label values are bounded: route names and outcomes, never workflow ids or raw paths.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from gateway_core.routes import RouteTable

ROUTE_TABLE_LOADS = Counter(
    "temporal_gateway_route_table_loads_total",
    "Route table loads by result; a failure keeps the last good table",
    ["result"],
)
ROUTE_TABLE_INFO = Gauge(
    "temporal_gateway_route_table_info", "The route table in use (value 1)", ["version"]
)
ROUTES = Gauge("temporal_gateway_routes", "Routes in the table in use")


def route_table_loaded(table: RouteTable) -> None:
    ROUTE_TABLE_LOADS.labels(result="success").inc()
    ROUTE_TABLE_INFO.clear()
    ROUTE_TABLE_INFO.labels(version=table.version).set(1)
    ROUTES.set(len(table.routes))
