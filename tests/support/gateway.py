"""Building route tables, API key files and in-process APIs for tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY
from temporalio.envconfig import ClientConnectConfig

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_api.security.auth import DISABLED_WARNING
from gateway_api.security.keys import entry_yaml, new_key
from gateway_core.routes import (
    CompiledRoute,
    RouteMetadata,
    WorkflowRoute,
    WorkflowRouteSpec,
    build_table,
    compile_route,
    load_routes,
)
from support.procs import ROOT, assert_eventually, free_port

# What `make run` sets: the tests that are not about authentication run without it.
AUTH_OFF: dict[str, Any] = {"environment": "development", "auth_disabled": True}
SHIPPED_ROUTES = ROOT / "k8s" / "routes"


def dev_health(*, temporal_connected: bool = True) -> dict[str, Any]:
    """What ``GET /`` answers with ``make run``'s settings (development, authentication off)
    and the shipped routes."""
    return {
        "service": "Temporal Workflow API",
        "status": "running",
        "temporal_connected": temporal_connected,
        "routes_version": load_routes(SHIPPED_ROUTES).version,
        "authentication": ["disabled"],
        "warning": DISABLED_WARNING,
    }


def dev_settings(**settings: Any) -> ApiSettings:
    """Settings with authentication off (development), unless ``settings`` turn it on; no
    heap freezing, in a test process that builds many apps."""
    return ApiSettings(**{**AUTH_OFF, "gc_freeze": False, **settings})


def shopping_route(task_queue: str, **spec: Any) -> CompiledRoute:
    """The shipped shopping route, sent to ``task_queue`` (one per test)."""
    shipped = load_routes(SHIPPED_ROUTES).routes["shopping"]
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


def _object(**properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


LIFECYCLE_MESSAGES: dict[str, Any] = {
    "signals": [
        {"name": "add_note", "inputSchema": _object(text={"type": "string", "maxLength": 100})},
        {"name": "finish"},
        {"name": "release"},
    ],
    "queries": [
        {"name": "state"},
        {"name": "note", "inputSchema": _object(index={"type": "integer", "minimum": 0})},
    ],
    "updates": [
        # The schema allows any non-negative value; the workflow's validator refuses above 100.
        {"name": "set_limit", "inputSchema": _object(value={"type": "integer", "minimum": 0})},
        {"name": "explode"},
        {"name": "wait_for_release"},
    ],
}
"""What :class:`support.sample_workflows.LifecycleWorkflow` answers, as a route declares it."""


def lifecycle_route(path: str, task_queue: str, **spec: Any) -> CompiledRoute:
    """A route to LifecycleWorkflow declaring all its signals, queries and updates."""
    fields: dict[str, Any] = {
        "input_schema": {
            "type": "object",
            "properties": {"label": {"type": "string"}},
            "additionalProperties": False,
        },
        **LIFECYCLE_MESSAGES,
        **spec,
    }
    return route(path, "LifecycleWorkflow", task_queue, **fields)


def counted(metric: str, *by: str, **labels: str) -> Counter[tuple[str, ...]]:
    """This process's counter ``metric`` (its exposed name, ``..._total``) by the values of the
    labels ``by``, summed over the samples that carry ``labels``. The counters are the
    process's (every in-process API adds to them, other tests' routes may share a name): two
    readings subtract to what happened in between."""
    found: Counter[tuple[str, ...]] = Counter()
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                found[tuple(sample.labels[k] for k in by)] += sample.value
    return found


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


@contextlib.asynccontextmanager
async def api_server(
    temporal_address: str, routes: Iterable[CompiledRoute], **settings: Any
) -> AsyncIterator[str]:
    """The API served by a real uvicorn on a free port, in this event loop; its base URL.

    For streams: httpx's ASGI transport hands over a response only once it is complete.
    """
    app = create_app(
        dev_settings(**settings),
        temporal={"target_host": temporal_address, "namespace": "default"},
        routes=build_table(routes),
    )
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await assert_eventually(lambda: server.started or task.done())
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def write_keys_file(path: Path, keys: Mapping[str, tuple[str, Sequence[str]]]) -> Path:
    """A key file (``API_KEYS_FILE``) at ``path`` for ``keys``: name → (key, scopes)."""
    text = "".join(entry_yaml(name, key, list(scopes), []) for name, (key, scopes) in keys.items())
    path.write_text("keys:\n" + "".join(f"  {line}\n" for line in text.splitlines()))
    return path


class ApiKeys:
    """Named API keys for a test module: a new key per name with its scopes, the key file an
    API reads (``API_KEYS_FILE``), and the header that presents a key."""

    def __init__(self, scopes: Mapping[str, Sequence[str]]) -> None:
        self._keys = {name: (new_key(), list(granted)) for name, granted in scopes.items()}

    def __getitem__(self, name: str) -> str:
        return self._keys[name][0]

    def write(self, path: Path) -> Path:
        return write_keys_file(path, self._keys)

    def auth(self, name: str, **headers: str) -> dict[str, str]:
        return {"X-API-Key": self[name], **headers}
