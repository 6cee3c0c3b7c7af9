"""API keys, with authentication on and nothing listening where Temporal should be: a request
that passes authentication and authorization gets 503 ``temporal-unavailable``, one that does
not gets 401 or 403 first. The key file is a real file, rotated while the API runs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import structlog
import yaml
from asgi_lifespan import LifespanManager
from fastapi import Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from gateway_api.api.deps import bearer_token
from gateway_api.api.endpoints import ROUTERS
from gateway_api.api.operations import OPERATIONS
from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_api.security.keys import KeyFileError, entry_yaml, hash_key, new_key, parse_keys
from gateway_core.routes import build_table
from support.gateway import shopping_route
from support.procs import assert_eventually, free_port

GOOD = {"items": [{"fruit": "APPLE", "amount": 5}]}
CI, VIEWER, ADMIN = new_key(), new_key(), new_key()


def key_file(path: Path, *entries: tuple[str, str, list[str]]) -> Path:
    text = "".join(entry_yaml(i, k, s, []) for i, k, s in entries)
    path.write_text("keys:\n" + "\n".join("  " + line for line in text.splitlines()) + "\n")
    return path


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return key_file(
        tmp_path / "keys.yaml",
        ("ci", CI, ["shopping:start", "shopping:read"]),
        ("viewer", VIEWER, ["shopping:read"]),
        ("root", ADMIN, ["gateway:admin"]),
    )


@pytest.fixture
async def api(keys: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(keys_file=keys, keys_reload_seconds=0.05)
    app = create_app(
        settings,
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table([shopping_route("q")]),
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def start(api: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await api.post("/workflows/shopping/async", json=GOOD, headers=headers)


def problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


async def test_no_credentials_is_401_with_a_challenge(api) -> None:
    response = await start(api, {})
    problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="temporal-gateway"'
    for path in ("/workflows/x/status", "/workflows/x/result"):
        problem(await api.get(path), 401, "unauthenticated")


# Every handler by id, second forms included (a GET query, an update's poll): the registered
# routes the app serves, not the operation table.
BY_ID_ROUTES = sorted(
    (method, route.path)
    for router in ROUTERS
    for route in router.routes
    if isinstance(route, APIRoute) and "{workflow_id}" in route.path
    for method in route.methods
)


@pytest.mark.parametrize(("method", "template"), BY_ID_ROUTES)
async def test_by_id_the_caller_is_checked_before_the_parameters(api, method, template) -> None:
    # Whether the handler takes its parameters itself or FastAPI resolves them, an anonymous
    # caller learns nothing from them: 401 first, never a 422 about a parameter.
    path = template.format(workflow_id="shopping-workflow-x", name="approve", update_id="u" * 300)
    bad = {"run_id": "r" * 65, "wait": "-1", "last_event_id": "x"}
    response = await api.request(method, path, params=bad, content=b"{")
    problem(response, 401, "unauthenticated")


def test_every_operation_by_id_is_among_those_routes() -> None:
    by_id = {(row.method, row.path) for row in OPERATIONS.values() if row.by_id}
    assert by_id <= set(BY_ID_ROUTES)
    assert ("GET", "/workflows/{workflow_id}/updates/{name}/{update_id}") in BY_ID_ROUTES


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer tgw_not-a-key"},
        {"X-API-Key": "tgw_not-a-key"},
        {"X-API-Key": hash_key(CI)},  # the stored digest is not a key
        {"Authorization": f"Bearer {CI}x"},
        {"Authorization": f"Bearer {CI[:-1]}"},
    ],
)
async def test_a_wrong_key_is_401_invalid_token(api, headers) -> None:
    response = await start(api, headers)
    problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_bearer_tokens_are_refused_when_no_issuer_is_configured(api) -> None:
    problem(await start(api, bearer("eyJhbGciOi.x.y")), 401, "unauthenticated")


async def test_other_schemes_are_not_credentials(api) -> None:
    response = await start(api, {"Authorization": f"Basic {CI}"})
    assert "invalid_token" not in problem(response, 401, "unauthenticated")["detail"]


@pytest.mark.parametrize(
    "value",
    [None, "", "Bearer", "Bearer ", "Bearer  tgw_x ", "bearer tgw_x", "BEARER a b", "Basic x",
     " Bearer x", "Bearer\tx", "Token tgw_x", "Bearer tgw_x\t"],
)  # fmt: skip
async def test_bearer_tokens_are_read_as_fastapis_http_bearer_reads_them(value) -> None:
    """``deps.bearer_token`` parses by hand what ``HTTPBearer`` (which documents the scheme)
    would: the same token, or none, for every shape of the header."""
    headers = [] if value is None else [(b"authorization", value.encode())]
    request = Request({"type": "http", "headers": headers})
    credentials = await HTTPBearer(auto_error=False)(request)
    expected = credentials.credentials if credentials is not None else None
    assert bearer_token(value) == expected


async def test_two_credentials_are_refused(api) -> None:
    problem(await start(api, {**bearer(CI), "X-API-Key": CI}), 401, "unauthenticated")


@pytest.mark.parametrize("headers", [bearer(CI), {"X-API-Key": CI}, bearer(ADMIN)])
async def test_a_valid_key_passes_to_temporal(api, headers) -> None:
    problem(await start(api, headers), 503, "temporal-unavailable")


async def test_a_key_without_the_routes_scope_is_403(api) -> None:
    body = problem(await start(api, bearer(VIEWER)), 403, "forbidden")
    assert "key:viewer" in body["detail"]
    assert "start" in body["detail"]


async def test_probes_and_docs_need_no_credentials(api) -> None:
    """The document, too: without credentials it shows no route (tests/unit/
    test_openapi_access.py), but the schemes, so a browser can offer Authorize."""
    health = (await api.get("/")).json()
    assert health["authentication"] == ["api-key"]
    assert health["warning"] is None
    assert (await api.get("/livez")).status_code == 200
    assert (await api.get("/readyz")).status_code == 503  # Temporal is down, not a 401
    anonymous = (await api.get("/openapi.json")).json()
    assert anonymous["components"]["securitySchemes"].keys() == {"bearer", "apiKey"}
    spec = (await api.get("/openapi.json", headers=bearer(CI))).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "An API key (`tgw_…`) or a JWT from the configured OIDC provider.",
    }  # fmt: skip
    assert schemes["apiKey"]["in"] == "header"
    assert schemes["apiKey"]["name"] == "X-API-Key"
    for path in ("/workflows/shopping", "/workflows/shopping/async",
                 "/workflows/{workflow_id}/status"):  # fmt: skip
        operation = next(iter(spec["paths"][path].values()))
        assert {"bearer": []} in operation["security"], path
        assert "401" in operation["responses"]
    for path in ("/", "/livez", "/readyz"):
        assert spec["paths"][path]["get"]["security"] == [], path  # explicitly open


async def test_rotation_without_restart(api, keys: Path) -> None:
    rotated = new_key()
    key_file(keys, ("ci", CI, ["shopping:start"]), ("ci", rotated, ["shopping:start"]))

    async def both_work() -> bool:
        new = await start(api, bearer(rotated))
        old = await start(api, bearer(CI))
        return new.status_code == 503 and old.status_code == 503

    await assert_eventually(both_work, timeout=10)
    key_file(keys, ("ci", rotated, ["shopping:start"]))

    async def old_one_refused() -> bool:
        return (await start(api, bearer(CI))).status_code == 401

    await assert_eventually(old_one_refused, timeout=10)
    problem(await start(api, bearer(rotated)), 503, "temporal-unavailable")
    problem(await start(api, bearer(VIEWER)), 401, "unauthenticated")  # removed as well


@pytest.mark.parametrize(
    "text",
    ["keys: [{id: ci, sha256: not-hex}]\n", ""],  # empty: caught while rewritten in place
    ids=["broken", "empty"],
)
async def test_a_broken_key_file_keeps_the_last_good_keys(api, keys: Path, text) -> None:
    with structlog.testing.capture_logs() as logs:
        await asyncio.to_thread(keys.write_text, text)
        # The reloader has read the file once it says it refused it.
        await assert_eventually(
            lambda: any(e["event"].startswith("api key file rejected") for e in logs), timeout=10
        )
    problem(await start(api, bearer(CI)), 503, "temporal-unavailable")
    problem(await start(api, bearer(ADMIN)), 503, "temporal-unavailable")


async def test_a_missing_key_file_stops_the_api(tmp_path: Path) -> None:
    app = create_app(
        ApiSettings(keys_file=tmp_path / "absent.yaml"),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table([shopping_route("q")]),
    )
    with pytest.raises(KeyFileError, match=r"absent\.yaml"):
        async with LifespanManager(app):
            pass


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keys: [{id: a, sha256: abc}]", "sha256"),
        ("keys: [{id: a, sha256: " + "A" * 64 + "}]", "sha256"),  # lower-case hex only
        ("keys: [{id: 'has space', sha256: " + "a" * 64 + "}]", "id"),
        ("keys: [{id: a, sha256: " + "a" * 64 + ", key: plain}]", "key"),
        ("keys: [{id: a, sha256: " + "a" * 64 + "}, {id: b, sha256: " + "a" * 64 + "}]", "twice"),
        ("keys: {", "invalid YAML"),
        ("- just a list", "Input should be"),
        ("", "empty"),
        (" \n\n", "empty"),
    ],
)
def test_invalid_key_files(text, message) -> None:
    with pytest.raises(KeyFileError, match=message):
        parse_keys(text, source="keys.yaml")


def test_the_cli_prints_a_key_and_an_entry_without_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway_api.security.keys", "new", "--id", "ci", "--scopes",
         "shopping:start", "shopping:read", "--groups", "shop"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    key = lines[0]
    assert key.startswith("tgw_")
    assert len(key) >= 4 + 43  # 256 bits, base64url
    entry_text = "\n".join(lines[1:])
    assert key not in entry_text
    keys = parse_keys(yaml.safe_dump({"keys": yaml.safe_load(entry_text)}), source="cli")
    entry = keys.find(key)
    assert entry is not None
    assert entry.id == "ci"
    assert entry.scopes == {"shopping:start", "shopping:read"}
    assert entry.groups == {"shop"}
    again = subprocess.run(
        [sys.executable, "-m", "gateway_api.security.keys", "hash", "--id", "ci"],
        input=key + "\n", capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert hash_key(key) in again.stdout


def test_new_keys_differ() -> None:
    assert len({new_key() for _ in range(100)}) == 100
