"""OpenAPI with one documented operation per route and operation.

FastAPI documents the generic ``/workflows/{route_path}`` handlers; this adds, for every route in
the current table, ``POST /workflows/<path>`` and ``/async`` with the route's own JSON Schema as
the request body (OpenAPI 3.1 uses JSON Schema 2020-12, as routes do). Rebuilt when the table
version changes, so a route applied at run time shows up in ``/docs`` at once.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from gateway_api.routing import RouteStore
from gateway_core.routes import Operation, RouteTable

GENERIC = "/workflows/{route_path}"


def build(app: FastAPI, table: RouteTable | None) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    if table is None:
        return spec
    paths = spec["paths"]
    for route in table.routes.values():
        for suffix, operation, summary in (
            ("", Operation.SYNC_START, "Start {} and wait for its result"),
            ("/async", Operation.START, "Start {} and return its id"),
        ):
            if not route.allows(operation):
                continue
            op = copy.deepcopy(paths[GENERIC + suffix]["post"])
            op["operationId"] = f"{route.name}_{operation.value}".replace("-", "_")
            op["summary"] = summary.format(route.spec.workflow_type)
            op["tags"] = [f"route: {route.name}"]
            op["parameters"] = [p for p in op.get("parameters", []) if p["name"] != "route_path"]
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.spec.input_schema}},
            }
            paths[f"/workflows/{route.spec.path}{suffix}"] = {"post": op}
    return spec


def install(app: FastAPI, store: RouteStore) -> None:
    cache: dict[str | None, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        version = store.table.version if store.table else None
        if version not in cache:
            cache.clear()
            cache[version] = build(app, store.table)
        return cache[version]

    app.openapi = openapi  # type: ignore[method-assign]
