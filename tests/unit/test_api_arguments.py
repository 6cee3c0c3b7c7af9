"""The API refuses bodies that do not fit a route's arguments before Temporal is asked (nothing
listens where Temporal should be, so a valid body is 503): positional arrays, protobuf inputs
checked against the route's descriptor set, integers beyond ±(2^53-1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway_api.app import create_app
from gateway_core.routes import build_table, load_routes
from support.gateway import dev_settings, route
from support.procs import ROOT, free_port
from support.protos import SAMPLE_JSON, descriptor_set

POLYGLOT = load_routes(ROOT / "tests" / "support" / "polyglot_routes")
UNBOUNDED = {"type": "object", "properties": {"n": {"type": "integer"}}}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "parcels.binpb").write_bytes(descriptor_set())
    routes = [*POLYGLOT.routes.values(), route("ints", "W", "q", input_schema=UNBOUNDED)]
    app = create_app(
        dev_settings(descriptor_sets_dir=tmp_path),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table(routes),
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.mark.parametrize(
    ("url", "body", "fields"),
    [
        ("/workflows/parcels", ["ann", 3, True], None),
        ("/workflows/parcels", ["ann", 3], ["body"]),
        ("/workflows/parcels", ["ann", "3", True], ["[1]"]),
        ("/workflows/parcels/async", {"customer": "ann"}, ["body"]),
        ("/workflows/parcels/update-with-start/weigh",
         {"input": ["ann", 1, False], "arg": ["A", "x"]}, ["arg[1]"]),
        ("/workflows/parcels/update-with-start/weigh",
         {"input": ["ann", 1, False], "arg": ["A", 2**63]}, ["arg[1]"]),
        ("/workflows/parcel-1/updates/weigh", ["A"], ["body"]),
        ("/workflows/parcel-1/updates/weigh", ["A", 2**63 - 1], None),
        ("/workflows/parcel-1/queries/label", ["A", "yes"], ["[1]"]),
        ("/workflows/parcel-1/signals/ship", ["ups", 3], None),
        ("/workflows/received", SAMPLE_JSON, None),
        ("/workflows/received", {"items": [{"sku": "A", "colour": "red"}]}, ["items[0].colour"]),
        ("/workflows/received", {"grams": "heavy"}, ["grams"]),
        ("/workflows/received-1/updates/inspect", {"status": "STATUS_LOST"}, ["status"]),
        ("/workflows/ints", {"n": 2**53 - 1}, None),
        ("/workflows/ints", {"n": 2**53}, ["n"]),
        ("/workflows/ints", {"n": -(2**53)}, ["n"]),
    ],
)  # fmt: skip
async def test_bodies_that_do_not_fit_the_arguments_never_reach_temporal(
    api, url, body, fields
) -> None:
    response = await api.post(url, json=body)
    if fields is None:
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "temporal-unavailable"
        return
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "validation-error"
    assert [e["field"] for e in problem["errors"]] == fields
