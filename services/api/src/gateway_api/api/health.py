"""Health: the seed's ``GET /`` plus Kubernetes probes.

``/livez`` says the process serves HTTP (restart it if not). ``/readyz`` also needs Temporal
and a route table: a pod without them should get no traffic, but must not be restarted for it.
A pod whose route source (the Kubernetes API) is unreachable stays ready on its last good
table, and says so (``routes_current: false`` and the error).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway_api.api.deps import Auth, Connection, Settings, Store
from gateway_api.api.schemas import HealthResponse, Readiness
from gateway_api.security.auth import DISABLED_WARNING

router = APIRouter(tags=["health"])


@router.get(
    "/",
    response_model=HealthResponse,
    summary="Is the API up, and can it reach Temporal?",
    operation_id="health.root",
)
async def root(
    connection: Connection, settings: Settings, store: Store, auth: Auth
) -> HealthResponse:
    return HealthResponse(
        service=settings.service_name,
        status="running",
        temporal_connected=connection.connected,
        routes_version=store.table.version if store.table else None,
        authentication=auth.methods,
        warning=DISABLED_WARNING if auth.disabled else None,
    )


@router.get("/livez", summary="Liveness probe", operation_id="health.livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: 503 while Temporal is unreachable or no routes loaded",
    operation_id="health.readyz",
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "Not ready: retry after Retry-After seconds"},
    },
)
async def readyz(connection: Connection, store: Store) -> JSONResponse:
    body: dict[str, object] = {
        "temporal_connected": connection.connected,
        "routes_loaded": store.table is not None,
    }
    ready = all(body.values())
    # A table that may lag its source is still the last good one: served, and said.
    body["routes_current"] = store.source_error is None
    if store.source_error is not None:
        body["routes_source_error"] = store.source_error
    if not ready:
        return JSONResponse(
            {"status": "not ready", **body}, status_code=503, headers={"Retry-After": "5"}
        )
    return JSONResponse({"status": "ready", **body})
