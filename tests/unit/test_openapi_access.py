"""Who reads which routes in the OpenAPI documents (``API_OPENAPI_ACCESS``, docs/security.md).

The attack (security round 2, item 14): outside development, an unauthenticated
``GET /openapi.json`` listed every route, admin-only ones included, with their workflow type,
task queue and id prefix. Per caller (the default outside development), a caller is shown the
routes it holds a grant on; no credentials, none; a route's own document is the same 404 for a
route the caller may not use as for no route. ``public`` serves the whole table to anyone, as
in development.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway_api.app import create_app
from gateway_api.openapi.document import build
from gateway_api.security.keys import new_key
from gateway_core.routes import build_table
from support.gateway import dev_settings, route, shopping_route, write_keys_file
from support.procs import free_port

ROOT, SHOPPER, READER, NOBODY = new_key(), new_key(), new_key(), new_key()
PAYROLL = route(
    "payroll", "PayrollWorkflow", "payroll-secret-queue",
    workflow_id={"prefix": "payroll-run-"},
)  # fmt: skip
"""A route only administrators may use: it has no authorization block."""
LEDGER = route("ledger", "LedgerWorkflow", "q", authorization={"read": {"scopes": ["ledger:read"]}})
TABLE = build_table([shopping_route("q"), PAYROLL, LEDGER])
PROBES = {"/", "/livez", "/readyz"}
PAYROLL_WORDS = ("PayrollWorkflow", "payroll-secret-queue", "payroll-run-", "/workflows/payroll")


@asynccontextmanager
async def api(tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    keys = write_keys_file(tmp_path / "keys.yaml", {
        "root": (ROOT, ["gateway:admin"]),
        "shopper": (SHOPPER, ["shopping:start", "shopping:read"]),
        "reader": (READER, ["ledger:read"]),
        "nobody": (NOBODY, ["elsewhere:start"]),
    })  # fmt: skip
    app = create_app(
        dev_settings(auth_disabled=False, keys_file=keys, **settings),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=TABLE,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def as_(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def routes_in(spec: dict[str, Any]) -> set[str]:
    """The routes a document shows (by their tags)."""
    tags = [t["name"] for t in spec["tags"]]
    return {t.removeprefix("route: ") for t in tags if t.startswith("route: ")}


@pytest.fixture
async def production(tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    async with api(tmp_path, environment="production") as client:
        yield client


async def test_without_credentials_no_route_is_shown(production) -> None:
    answer = await production.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["vary"] == "Authorization, X-API-Key"
    spec = answer.json()
    # The probes, and the list and count, which name no route; nothing of any route.
    assert set(spec["paths"]) == PROBES | {"/workflows", "/workflows/count"}
    assert routes_in(spec) == set()
    # What /docs needs to offer Authorize.
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for word in PAYROLL_WORDS:
        assert word not in answer.text, word


async def test_each_caller_sees_the_routes_it_holds_a_grant_on(production) -> None:
    shown = {}
    for name, key in {"shopper": SHOPPER, "reader": READER, "nobody": NOBODY}.items():
        answer = await production.get("/openapi.json", headers=as_(key))
        assert answer.status_code == 200, answer.text
        shown[name] = routes_in(answer.json())
        for word in PAYROLL_WORDS:
            assert word not in answer.text, (name, word)
    assert shown == {"shopper": {"shopping"}, "reader": {"ledger"}, "nobody": set()}
    # The by-id operations name only the caller's prefixes.
    spec = (await production.get("/openapi.json", headers=as_(READER))).json()
    status = spec["paths"]["/workflows/{workflow_id}/status"]["get"]
    pattern = next(p for p in status["parameters"] if p["name"] == "workflow_id")
    assert "ledger-" in pattern["schema"]["pattern"]
    assert "shopping" not in pattern["schema"]["pattern"]


async def test_a_callers_document_is_the_reference_build_of_its_routes(production) -> None:
    app = create_app(dev_settings(), routes=TABLE)
    for key, paths in ((SHOPPER, ["shopping"]), (READER, ["ledger"]), (NOBODY, [])):
        served = (await production.get("/openapi.json", headers=as_(key))).json()
        share = build_table([TABLE.routes[p] for p in paths])
        assert served == build(app, share, [{"url": "/"}]), paths


async def test_an_administrator_sees_every_route(production) -> None:
    answer = await production.get("/openapi.json", headers={"Authorization": f"Bearer {ROOT}"})
    assert routes_in(answer.json()) == {"shopping", "payroll", "ledger"}


async def test_bad_credentials_are_401(production) -> None:
    for headers in ({"X-API-Key": "tgw_nope"}, {"Authorization": "Basic eDp5"},
                    {"X-API-Key": SHOPPER, "Authorization": f"Bearer {SHOPPER}"}):  # fmt: skip
        answer = await production.get("/openapi.json", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["code"] == "unauthenticated"


async def test_a_route_document_is_404_to_a_caller_who_may_not_use_the_route(production) -> None:
    refused = await production.get("/workflows/payroll/openapi.json", headers=as_(SHOPPER))
    absent = await production.get("/workflows/absent/openapi.json", headers=as_(SHOPPER))
    anonymous = await production.get("/workflows/payroll/openapi.json")
    for answer in (refused, absent, anonymous):
        assert answer.status_code == 404
        assert answer.json()["code"] == "route-not-found"
    assert refused.json()["detail"].replace("payroll", "absent") == absent.json()["detail"]
    mine = await production.get("/workflows/shopping/openapi.json", headers=as_(SHOPPER))
    assert mine.status_code == 200
    assert routes_in(mine.json()) == {"shopping"}
    root = await production.get("/workflows/payroll/openapi.json", headers=as_(ROOT))
    assert routes_in(root.json()) == {"payroll"}


async def test_etags_are_per_document(production) -> None:
    shopper = await production.get("/openapi.json", headers=as_(SHOPPER))
    reader = await production.get("/openapi.json", headers=as_(READER))
    assert shopper.headers["etag"] != reader.headers["etag"]
    again = await production.get(
        "/openapi.json", headers={**as_(SHOPPER), "If-None-Match": shopper.headers["etag"]}
    )
    assert again.status_code == 304
    other = await production.get(
        "/openapi.json", headers={**as_(READER), "If-None-Match": shopper.headers["etag"]}
    )
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("settings", "per_caller"),
    [
        ({"environment": "production", "openapi_access": "public"}, False),
        ({"environment": "development"}, False),
        ({"environment": "development", "openapi_access": "per-caller"}, True),
    ],
)
async def test_the_setting(tmp_path, settings, per_caller) -> None:
    async with api(tmp_path, **settings) as client:
        answer = await client.get("/openapi.json")
        route_doc = await client.get("/workflows/payroll/openapi.json")
    assert answer.status_code == 200
    assert routes_in(answer.json()) == (set() if per_caller else {"shopping", "payroll", "ledger"})
    assert route_doc.status_code == (404 if per_caller else 200)
    assert ("vary" in answer.headers) is per_caller
