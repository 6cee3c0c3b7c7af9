"""The API with no Temporal behind it (a port nothing listens on — a real refused connection).

It must start, say so at GET / and /readyz, refuse bad input with precise problems (bad input
never needs Temporal), and answer 503 with Retry-After for everything that does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from gateway_api.app import create_app
from support.gateway import dev_health, dev_settings
from support.procs import ROOT, free_port

GOOD = {"items": [{"fruit": "APPLE", "amount": 5}]}


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    settings = dev_settings(routes_path=ROOT / "k8s" / "routes", max_body_bytes=4096)
    app = create_app(settings, temporal={"target_host": f"127.0.0.1:{free_port()}"})
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith("/" + code)
    assert problem["title"]
    return problem


async def test_health_reports_temporal_down(api: httpx.AsyncClient) -> None:
    response = await api.get("/")
    assert response.json() == dev_health(temporal_connected=False)
    assert (await api.get("/livez")).status_code == 200
    ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]


async def test_valid_request_gets_503_with_retry_after(api: httpx.AsyncClient) -> None:
    for path in ("/workflows/shopping", "/workflows/shopping/async"):
        response = await api.post(path, json=GOOD)
        assert_problem(response, 503, "temporal-unavailable")
        assert int(response.headers["retry-after"]) > 0
    assert_problem(
        await api.get("/workflows/shopping-workflow-some-id/status"), 503, "temporal-unavailable"
    )
    assert_problem(
        await api.get("/workflows/shopping-workflow-some-id/result"), 503, "temporal-unavailable"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"fruit": "KIWI", "amount": 5}]}, "items[0].fruit"),
        ({"items": [{"fruit": "APPLE", "amount": 0}]}, "items[0].amount"),
        ({"items": [{"fruit": "APPLE", "amount": 1.5}]}, "items[0].amount"),
        ({"items": []}, "items"),
        ({}, "items"),
        ({"items": [{"fruit": "APPLE", "amount": 1}] * 101}, "items"),
        ({"items": [{"fruit": "APPLE", "amount": 1}], "extra": True}, "extra"),
    ],
)
async def test_bad_input_is_422_naming_the_field(api: httpx.AsyncClient, body, field) -> None:
    for path in ("/workflows/shopping", "/workflows/shopping/async"):
        problem = assert_problem(await api.post(path, json=body), 422, "validation-error")
        assert field in [e["field"] for e in problem["errors"]]
        assert problem["detail"].startswith(problem["errors"][0]["field"])


async def test_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    big = {"items": [{"fruit": "APPLE", "amount": 1}], "pad": "x" * 5000}
    problem = assert_problem(await api.post("/workflows/shopping", json=big), 413, "body-too-large")
    assert problem["limit_bytes"] == 4096


async def test_body_over_the_limit_without_content_length_is_413(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"items": ['
        for _ in range(500):
            yield b'{"fruit": "APPLE", "amount": 1},'

    response = await api.post(
        "/workflows/shopping", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "body-too-large")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_wrong_content_type_is_415(api: httpx.AsyncClient, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.post("/workflows/shopping", content=b'{"items": []}', headers=headers)
    assert_problem(response, 415, "unsupported-media-type")


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/workflows/shopping", content=b'{"items": [', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed-json")


async def test_unknown_route_is_404(api: httpx.AsyncClient) -> None:
    problem = assert_problem(await api.post("/workflows/nope", json=GOOD), 404, "route-not-found")
    assert "/workflows/nope" in problem["detail"]


async def test_bad_idempotency_key_is_422_naming_the_header(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/workflows/shopping", json=GOOD, headers={"Idempotency-Key": "has spaces"}
    )
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.parametrize(
    ("path", "headers", "field", "message"),
    [
        ("/workflows/shopping/async", {"Idempotency-Key": "x" * 129}, "header.Idempotency-Key",
         "at most 128 characters"),
        ("/workflows/orders/signal-with-start/approve", {"Idempotency-Key": "a/b"},
         "header.Idempotency-Key", "must match"),
        ("/workflows/order-1/updates/add_item", {"Idempotency-Key": "a b"},
         "header.Idempotency-Key", "must match"),
        ("/workflows/shopping", {"Callback-Url": "https://h.example/" + "x" * 2048},
         "header.Callback-Url", "at most 2048 characters"),
        ("/workflows/shopping/async", {"Callback-Outcomes": "x" * 201},
         "header.Callback-Outcomes", "at most 200 characters"),
    ],
)  # fmt: skip
async def test_headers_that_do_not_fit_are_422_naming_them_before_temporal_is_asked(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], field: str, message: str
) -> None:
    # Temporal is unreachable here: a header read after any call to it would be a 503.
    response = await api.post(path, json=GOOD, headers=headers)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["title"] == "Request is invalid"
    assert problem["errors"][0]["field"] == field
    assert message in problem["errors"][0]["message"]


async def test_unknown_paths_and_methods_are_problems_too(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/nowhere"), 404, "not-found")
    assert_problem(await api.delete("/"), 405, "method-not-allowed")


async def test_request_id_is_echoed_or_made(api: httpx.AsyncClient) -> None:
    given = await api.get("/", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await api.get("/", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] not in ("", "bad id with spaces")
    problem = (await api.post("/workflows/nope", json=GOOD, headers={"X-Request-ID": "r1"})).json()
    assert problem["request_id"] == "r1"


async def test_docs_and_openapi(api: httpx.AsyncClient) -> None:
    assert "swagger" in (await api.get("/docs")).text.lower()
    assert "redoc" in (await api.get("/redoc")).text.lower()
    spec = (await api.get("/openapi.json")).json()
    # The starts at each route's own path; the generic template would collide with the by-id one.
    assert "/workflows/shopping" in spec["paths"]
    assert "/workflows/{route_path}" not in spec["paths"]
    assert "/workflows/{workflow_id}/status" in spec["paths"]


def test_several_prefer_fields_are_one_list() -> None:
    """RFC 7240: two Prefer fields mean their values joined; the gateway reads them so rather
    than refusing them (Issue 24 #12, decided)."""
    from starlette.requests import Request

    from gateway_api.http.request_headers import PREFER

    scope = {"type": "http", "headers": [(b"prefer", b"respond-async"), (b"prefer", b"wait=7")]}
    assert PREFER.read(Request(scope)) == "respond-async, wait=7"
