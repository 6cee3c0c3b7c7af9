"""The API's route table follows its files without a restart: new routes serve, removed ones
404, a broken table keeps the last good one (logged and counted), no table means not ready.
Temporal is a closed port here: a served route answers 503, an unknown one 404."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client import REGISTRY

from gateway_api.app import create_app
from gateway_core.errors import RouteConfigError
from gateway_core.routes import RouteFiles
from support.gateway import dev_settings
from support.procs import ROOT, assert_eventually, free_port

ROUTE = """
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {{name: {name}}}
spec:
  path: {name}
  workflowType: W
  taskQueue: q
  inputSchema: {{type: object, required: [n], properties: {{n: {{type: integer}}}}}}
"""


def failures() -> float:
    value = REGISTRY.get_sample_value(
        "temporal_gateway_route_table_loads_total", {"result": "failure"}
    )
    return value or 0.0


@pytest.fixture
def routes_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "routes"
    folder.mkdir()
    shutil.copy(ROOT / "k8s" / "routes" / "shopping.yaml", folder)
    return folder


@contextlib.asynccontextmanager
async def api_for(folder: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = dev_settings(routes_path=folder, routes_reload_seconds=0.05)
    app = create_app(settings, temporal={"target_host": f"127.0.0.1:{free_port()}"})
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
async def api(routes_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with api_for(routes_dir) as client:
        yield client


async def served(api: httpx.AsyncClient, path: str) -> bool:
    response = await api.post(f"/workflows/{path}/async", json={"n": 1})
    # A served route validates the body (shopping refuses this one) or then needs Temporal.
    return response.json()["code"] in ("temporal-unavailable", "validation-error")


async def test_new_route_serves_and_deleted_route_404s(api, routes_dir) -> None:
    before = (await api.get("/")).json()["routes_version"]
    assert not await served(api, "refunds")
    (routes_dir / "refunds.yaml").write_text(ROUTE.format(name="refunds"))
    await assert_eventually(lambda: served(api, "refunds"), timeout=5)
    after = (await api.get("/")).json()["routes_version"]
    assert after != before
    spec = (await api.get("/openapi.json")).json()
    body = spec["paths"]["/workflows/refunds"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/refunds.input"}
    assert spec["components"]["schemas"]["refunds.input"]["required"] == ["n"]
    assert "/workflows/refunds/async" in spec["paths"]

    (routes_dir / "refunds.yaml").unlink()

    async def gone() -> bool:
        response = await api.post("/workflows/refunds/async", json={"n": 1})
        return response.json()["code"] == "route-not-found"

    await assert_eventually(gone, timeout=5)
    assert (await api.get("/")).json()["routes_version"] == before
    assert "/workflows/refunds" not in (await api.get("/openapi.json")).json()["paths"]


async def test_broken_table_keeps_the_last_good_one(api, routes_dir) -> None:
    version = (await api.get("/")).json()["routes_version"]
    failed = failures()
    (routes_dir / "bad.yaml").write_text(ROUTE.format(name="Not_A_Label"))

    await assert_eventually(lambda: failures() == failed + 1, timeout=5)
    assert (await api.get("/")).json()["routes_version"] == version
    assert await served(api, "shopping")
    assert (await api.get("/readyz")).json()["routes_loaded"] is True

    (routes_dir / "bad.yaml").write_text(ROUTE.format(name="fixed"))
    await assert_eventually(lambda: served(api, "fixed"), timeout=5)


async def test_no_table_means_not_ready_until_one_appears(tmp_path) -> None:
    folder = tmp_path / "mount"
    folder.mkdir()
    async with api_for(folder) as api:
        ready = await api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["routes_loaded"] is False
        assert (await api.get("/")).json()["routes_version"] is None
        response = await api.post("/workflows/shopping", json={})
        assert response.status_code == 503
        assert response.json()["code"] == "routes-not-loaded"

        shutil.copy(ROOT / "k8s" / "routes" / "shopping.yaml", folder)
        await assert_eventually(lambda: served(api, "shopping"), timeout=5)


async def test_invalid_table_at_start_stops_the_api(tmp_path) -> None:
    (tmp_path / "bad.yaml").write_text(ROUTE.format(name="Bad"))
    app = create_app(
        dev_settings(routes_path=tmp_path), temporal={"target_host": f"127.0.0.1:{free_port()}"}
    )
    with pytest.raises(RouteConfigError, match=r"spec\.path"):
        async with LifespanManager(app):
            pass


async def test_kubelet_style_symlink_swap_is_seen(tmp_path) -> None:
    """A mounted ConfigMap is a `..data` symlink to a timestamped folder, swapped atomically."""
    mount = tmp_path / "mount"
    mount.mkdir()
    first = mount / "..v1"
    first.mkdir()
    shutil.copy(ROOT / "k8s" / "routes" / "shopping.yaml", first / "routes.yaml")
    (mount / "..data").symlink_to("..v1")
    (mount / "routes.yaml").symlink_to("..data/routes.yaml")
    async with api_for(mount) as api:
        assert await served(api, "shopping")
        second = mount / "..v2"
        second.mkdir()
        (second / "routes.yaml").write_text(ROUTE.format(name="refunds"))
        (mount / "..data_tmp").symlink_to("..v2")
        (mount / "..data_tmp").rename(mount / "..data")
        await assert_eventually(lambda: served(api, "refunds"), timeout=5)
        assert not await served(api, "shopping")


def test_the_workers_route_files_follow_their_contents(routes_dir: Path) -> None:
    """The worker's view (``RouteFiles``, read before each webhook attempt): a change is seen
    at the next look, a broken file keeps the last good table, a missing folder leaves it."""
    files = RouteFiles(routes_dir)
    assert sorted(files.current().routes) == ["shopping"]
    (routes_dir / "extra.yaml").write_text(ROUTE.format(name="extra"))
    assert sorted(files.current().routes) == ["extra", "shopping"]
    (routes_dir / "extra.yaml").write_text("spec: [unclosed")
    assert sorted(files.current().routes) == ["extra", "shopping"]
    (routes_dir / "extra.yaml").unlink()
    assert sorted(files.current().routes) == ["shopping"]
    shutil.rmtree(routes_dir)
    assert sorted(files.current().routes) == ["shopping"]
    assert RouteFiles(routes_dir).current() is None
