"""Health: the seed's ``GET /`` plus Kubernetes probes.

``/livez`` says the process serves HTTP (restart it if not). ``/readyz`` also needs Temporal:
a pod that cannot reach Temporal should get no traffic, but must not be restarted for it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway_api.deps import Connection, Settings
from gateway_api.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/", response_model=HealthResponse, summary="Is the API up, and can it reach Temporal?")
async def root(connection: Connection, settings: Settings) -> HealthResponse:
    return HealthResponse(
        service=settings.service_name, status="running", temporal_connected=connection.connected
    )


@router.get("/livez", summary="Liveness probe")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness probe: 503 while Temporal is unreachable")
async def readyz(connection: Connection) -> JSONResponse:
    if not connection.connected:
        return JSONResponse(
            {"status": "not ready", "temporal_connected": False},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ready", "temporal_connected": True})
