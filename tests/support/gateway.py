"""Building route tables and in-process APIs for tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from temporalio.envconfig import ClientConnectConfig

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_core.routes import (
    CompiledRoute,
    RouteMetadata,
    WorkflowRoute,
    WorkflowRouteSpec,
    build_table,
    compile_route,
    load_routes,
)
from support.procs import ROOT

# What `make run` sets: the tests that are not about authentication run without it.
AUTH_OFF: dict[str, Any] = {"environment": "development", "auth_disabled": True}


def dev_settings(**settings: Any) -> ApiSettings:
    """Settings with authentication off (development), unless ``settings`` turn it on."""
    return ApiSettings(**{**AUTH_OFF, **settings})


def shopping_route(task_queue: str, **spec: Any) -> CompiledRoute:
    """The shipped shopping route, sent to ``task_queue`` (one per test)."""
    shipped = load_routes(ROOT / "k8s" / "routes").routes["shopping"]
    fields = {**shipped.spec.model_dump(), "task_queue": task_queue, **spec}
    return _compile("shopping", WorkflowRouteSpec.model_validate(fields))


def route(path: str, workflow_type: str, task_queue: str, **spec: Any) -> CompiledRoute:
    return _compile(
        path,
        WorkflowRouteSpec(
            path=path,
            workflow_type=workflow_type,
            task_queue=task_queue,
            **{"workflow_id": {"prefix": f"{path}-"}, **spec},
        ),
    )


def _compile(name: str, spec: WorkflowRouteSpec) -> CompiledRoute:
    doc = WorkflowRoute(
        api_version="temporal-gateway.dev/v1alpha1",
        kind="WorkflowRoute",
        metadata=RouteMetadata(name=name),
        spec=spec,
    )
    return compile_route(doc)


@contextlib.asynccontextmanager
async def api_client(
    temporal_address: str,
    routes: Iterable[CompiledRoute],
    *,
    temporal: ClientConnectConfig | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process API (lifespan and all) behind an httpx client; ``temporal`` replaces the
    plain connection to ``temporal_address`` (TLS, API keys)."""
    app = create_app(
        dev_settings(**settings),
        temporal=temporal or {"target_host": temporal_address, "namespace": "default"},
        routes=build_table(routes),
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", timeout=60
        ) as client:
            yield client
