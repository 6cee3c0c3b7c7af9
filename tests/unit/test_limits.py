"""Rate limits, input limits and response headers, in process with nothing listening where
Temporal should be: a request that passes every check gets 503 ``temporal-unavailable``."""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import throttled.utils
from asgi_lifespan import LifespanManager
from throttled.asyncio import MemoryStore, RateLimiterType, Throttled, per_duration

from gateway_api.app import create_app
from gateway_api.config import parse_quota
from gateway_api.http.security_headers import REDOC_CSP, SWAGGER_UI_CSP
from gateway_api.security.keys import new_key
from gateway_api.security.ratelimit import MemoryGcra
from gateway_core.routes import build_table
from support.gateway import dev_settings, route, shopping_route, write_keys_file
from support.procs import assert_eventually, free_port

GOOD = {"items": [{"fruit": "APPLE", "amount": 5}]}
ANN, BOB = new_key(), new_key()


@asynccontextmanager
async def offline_api(tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    keys = write_keys_file(
        tmp_path / "keys.yaml", {"ann": (ANN, ["gateway:admin"]), "bob": (BOB, ["s:start"])}
    )
    open_route = route("free", "W", "q", authorization={"start": {"scopes": ["s:start"]}})
    app = create_app(
        dev_settings(auth_disabled=False, keys_file=keys, **settings),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table([shopping_route("q"), open_route]),
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def as_(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def test_per_caller_and_route_bucket(tmp_path) -> None:
    async with offline_api(tmp_path, rate_limit="3/m", rate_limit_global="off") as api:
        for remaining in (2, 1, 0):
            response = await api.post("/workflows/shopping/async", json=GOOD, headers=as_(ANN))
            assert response.status_code == 503  # passed the limit, then Temporal is down
            assert response.headers["ratelimit-limit"] == "3"
            assert response.headers["ratelimit-remaining"] == str(remaining)
            assert response.headers["ratelimit-policy"] == '"caller";q=3;w=60'
            assert response.headers["ratelimit"].startswith(f'"caller";r={remaining};t=')
        refused = await api.post("/workflows/shopping/async", json=GOOD, headers=as_(ANN))
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["code"] == "rate-limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 20  # one token per 20 s
        assert problem["retry_after_seconds"] == int(refused.headers["retry-after"])
        assert refused.headers["ratelimit-remaining"] == "0"
        # Other routes and other callers have their own buckets.
        other_route = await api.post("/workflows/free/async", json={}, headers=as_(ANN))
        assert other_route.status_code == 503
        other_caller = await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        assert other_caller.status_code == 503
        # Calls by id count against the bucket of the id's route, before Temporal is asked...
        by_id = await api.get("/workflows/shopping-workflow-x/status", headers=as_(ANN))
        assert by_id.status_code == 429
        # ...and ids of no route share one bucket per caller (they are all 404s).
        for _ in range(3):
            assert (await api.get("/workflows/x/status", headers=as_(ANN))).status_code == 404
        assert (await api.get("/workflows/y/result", headers=as_(ANN))).status_code == 429


async def test_the_global_bucket(tmp_path) -> None:
    async with offline_api(tmp_path, rate_limit="off", rate_limit_global="2/m burst 2") as api:
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(ANN))
        ).status_code == 503
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        ).status_code == 503
        refused = await api.post("/workflows/shopping/async", json=GOOD, headers=as_(ANN))
        assert refused.status_code == 429
        assert refused.headers["ratelimit-policy"] == '"global";q=2;w=60'


async def test_a_caller_over_its_limit_spends_nothing_of_the_global_one(tmp_path) -> None:
    async with offline_api(tmp_path, rate_limit="1/m", rate_limit_global="3/m") as api:
        for _ in range(5):
            await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        # Bob spent 1 global token, so 2 are left: Ann takes them on two routes of hers.
        r = await api.post("/workflows/shopping/async", json=GOOD, headers=as_(ANN))
        assert r.status_code == 503
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(ANN))
        ).status_code == 503
        r = await api.get("/workflows/x/status", headers=as_(ANN))  # a third bucket of hers
        assert r.status_code == 429
        assert r.headers["ratelimit-policy"] == '"global";q=3;w=60'


async def test_the_bucket_refills(tmp_path) -> None:
    async with offline_api(tmp_path, rate_limit="20/s burst 1") as api:
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        ).status_code == 503
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        ).status_code == 429

        async def refilled() -> bool:
            r = await api.post("/workflows/free/async", json={}, headers=as_(BOB))
            return r.status_code == 503

        await assert_eventually(refilled, timeout=5, interval=0.02)


async def test_unauthenticated_requests_spend_no_tokens(tmp_path) -> None:
    async with offline_api(tmp_path, rate_limit="off", rate_limit_global="1/m") as api:
        for _ in range(5):
            assert (await api.post("/workflows/free/async", json={})).status_code == 401
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        ).status_code == 503


async def test_a_lockout_for_failed_authentications_ends_as_its_bucket_refills(tmp_path):
    """Two wrong keys use up the address's bucket: the right key is refused too (429), until
    the bucket has refilled (a second), and then it passes again."""
    async with offline_api(tmp_path, rate_limit_auth_failures="20/s burst 2") as api:
        assert (
            await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        ).status_code == 503
        for _ in range(2):
            wrong = await api.post("/workflows/free/async", json={}, headers=as_(new_key()))
            assert wrong.status_code == 401
        refused = await api.post("/workflows/free/async", json={}, headers=as_(BOB))
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate-limited"

        async def let_in() -> bool:
            r = await api.post("/workflows/free/async", json={}, headers=as_(BOB))
            return r.status_code == 503

        await assert_eventually(let_in, timeout=5, interval=0.05)


def nested(depth: int) -> Any:
    body: Any = 1
    for _ in range(depth):
        body = [body]
    return body


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"a": nested(31)}, 503, None, None),  # depth 32 with the top-level object
        ({"a": nested(32)}, 422, "input-limit-exceeded", "a" + "[0]" * 31),
        ({"a": {"b": {"c": nested(40)}}}, 422, "input-limit-exceeded", "a.b.c" + "[0]" * 29),
        ({"s": "x" * 1000}, 503, None, None),
        ({"s": "x" * 1001}, 422, "input-limit-exceeded", "s"),
        ({"x" * 1001: 1}, 422, "input-limit-exceeded", "body"),
        ({"l": [0] * 100}, 503, None, None),
        ({"l": [0] * 101}, 422, "input-limit-exceeded", "l"),
        ({f"k{i}": i for i in range(101)}, 422, "input-limit-exceeded", "body"),
        ({"deep": [[{"ok": "é" * 1000}]]}, 503, None, None),
    ],
)
async def test_shape_limits(tmp_path, body, status, code, field) -> None:
    limits = {"max_json_depth": 32, "max_json_string_length": 1000, "max_json_items": 100}
    async with offline_api(tmp_path, **limits) as api:
        response = await api.post("/workflows/free/async", json=body, headers=as_(ANN))
    assert response.status_code == status, response.text
    if code is not None:
        problem = response.json()
        assert problem["code"] == code
        assert problem["errors"][0]["field"] == field
        assert problem["limit"] in limits.values()


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 422, "input-limit-exceeded"),  # past the parser's stack
        (b'{"a": NaN}', 400, "malformed-json"),
        (b'{"a": Infinity}', 400, "malformed-json"),
        (b'{"a": -Infinity}', 400, "malformed-json"),
        (b'{"a": 1e999}', 400, "malformed-json"),
        (b'{"a": ' + b"9" * 5000 + b"}", 400, "malformed-json"),  # past Python's digit limit
        (b'{"a": "\\ud800"}', 400, "malformed-json"),  # a lone surrogate
        (b'{"\\udfff": 1}', 400, "malformed-json"),
        (b'{"a": "\\ud83d\\ude00"}', 503, None),  # a proper pair is an emoji
        (b"\xff\xfe{}", 400, "malformed-json"),
        (b"", 400, "malformed-json"),
    ],
)
async def test_json_that_python_accepts_but_json_or_temporal_does_not(
    tmp_path, raw, status, code
) -> None:
    async with offline_api(tmp_path, max_body_bytes=300_000) as api:
        response = await api.post(
            "/workflows/free/async",
            content=raw,
            headers={**as_(ANN), "Content-Type": "application/json"},
        )
    assert response.status_code == status, response.text
    if code:
        assert response.json()["code"] == code
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("raw", "headers", "status", "field"),
    [
        # Issue 11 #9: all three were accepted (the last key winning; UTF-16 decoded by
        # json.loads' guess; the encoding ignored).
        (b'{"a": 1, "a": 2}', {}, 422, "a"),
        (b'{"x": {"b": 1, "b": 1}}', {}, 422, "b"),
        ('{"a": 1}'.encode("utf-16"), {"Content-Type": "application/json; charset=utf-16"},
         415, None),
        ('{"a": 1}'.encode("utf-16"), {}, 400, None),  # undeclared, still not UTF-8
        (b'{"a": 1}', {"Content-Encoding": "gzip"}, 415, None),
        (b'{"a": 1}', {"Content-Type": 'application/json; charset="UTF-8"'}, 503, None),
        (b'{"a": 1}', {"Content-Encoding": "identity"}, 503, None),
    ],
)  # fmt: skip
async def test_bodies_that_mean_two_things_are_refused(tmp_path, raw, headers, status, field):
    async with offline_api(tmp_path) as api:
        response = await api.post(
            "/workflows/free/async",
            content=raw,
            headers={**as_(ANN), "Content-Type": "application/json", **headers},
        )
    assert response.status_code == status, response.text
    if field:
        assert response.json()["errors"] == [
            {"field": field, "message": "the key appears more than once"}
        ]
    if status == 415 and "Content-Encoding" in headers:
        assert response.headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("raw", [b"{", b"1" * 5000, b"\xff", b'{"a": tru}'])
async def test_error_details_name_no_python_internals(tmp_path, raw) -> None:
    """Issue 11 #9: details quoted the interpreter (``sys.set_int_max_str_digits``, codec
    names)."""
    async with offline_api(tmp_path) as api:
        response = await api.post(
            "/workflows/free/async",
            content=raw,
            headers={**as_(ANN), "Content-Type": "application/json"},
        )
    detail = response.json()["detail"]
    assert response.status_code == 400, detail
    for internal in ("sys.", "codec", "Error", "char ", "'utf-8'"):
        assert internal not in detail


async def test_payloads_over_temporals_blob_limit_are_413(tmp_path) -> None:
    async with offline_api(tmp_path, temporal_blob_limit_bytes=1000) as api:
        ok = await api.post("/workflows/free/async", json={"s": "x" * 900}, headers=as_(ANN))
        assert ok.status_code == 503
        # 700 characters are 700 bytes in the body, 4200 once the converter escapes them.
        body = json.dumps({"s": "é" * 700}, ensure_ascii=False).encode()
        big = await api.post(
            "/workflows/free/async", content=body,
            headers={**as_(ANN), "Content-Type": "application/json"},
        )  # fmt: skip
    assert big.status_code == 413
    problem = big.json()
    assert problem["code"] == "payload-too-large"
    assert problem["limit_bytes"] == 1000
    assert problem["size_bytes"] > 1000


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/livez", 200),
        ("GET", "/readyz", 503),
        ("GET", "/openapi.json", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/", 405),
        ("POST", "/workflows/free/async", 401),
        ("GET", "/workflows/x/status", 401),
    ],
)
async def test_security_headers_on_every_response(tmp_path, method, path, status) -> None:
    async with offline_api(tmp_path) as api:
        response = await api.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert "strict-transport-security" not in response.headers
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(("path", "policy"), [("/docs", SWAGGER_UI_CSP), ("/redoc", REDOC_CSP)])
async def test_the_docs_pages_may_load_only_their_own_scripts(tmp_path, path, policy) -> None:
    async with offline_api(tmp_path) as api:
        response = await api.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == policy
    assert "'self'" in policy
    assert "unsafe" not in policy
    assert "http" not in policy
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


async def test_hsts_when_configured(tmp_path) -> None:
    async with offline_api(tmp_path, hsts_seconds=31536000) as api:
        response = await api.get("/")
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_cors_only_for_configured_origins(tmp_path) -> None:
    async with offline_api(tmp_path, cors_origins="https://app.example") as api:
        preflight = await api.options(
            "/workflows/free/async",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key, content-type, idempotency-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert preflight.headers["x-content-type-options"] == "nosniff"
        # Every header the API reads (issue 24 #16: Prefer, Callback-*, Last-Event-ID were not).
        everything = await api.options(
            "/workflows/free",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "prefer, callback-url, callback-outcomes, "
                "last-event-id, idempotency-key, authorization",
            },
        )
        assert everything.status_code == 200, everything.text
        actual = await api.post(
            "/workflows/free/async", json={}, headers={**as_(ANN), "Origin": "https://app.example"}
        )
        assert actual.headers["access-control-allow-origin"] == "https://app.example"
        exposed = actual.headers["access-control-expose-headers"].lower()
        assert "ratelimit-remaining" in exposed
        assert "retry-after" in exposed
        assert "preference-applied" in exposed
        assert "location" in exposed
        other = await api.post(
            "/workflows/free/async", json={}, headers={**as_(ANN), "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        refused = await api.options(
            "/workflows/free/async",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400


async def test_the_memory_buckets_answer_as_throttleds_memory_store(monkeypatch) -> None:
    """``MemoryGcra`` computes throttled-py's GCRA without its store's layers: over a random
    walk of spends, peeks and waits on several quotas, it gives throttled's own answers."""
    clock = [1000.0]
    monkeypatch.setattr(throttled.utils, "now_mono_f", lambda: clock[0])
    rng = random.Random(7)
    tats: OrderedDict[tuple[str, str], float] = OrderedDict()
    for n, quota in enumerate(["3/s", "20/s burst 1", "5/m burst 2", "2/s burst 5"]):
        limit, period, burst = parse_quota(quota) or (0, timedelta(), 0)
        rates = per_duration(period, limit, burst)
        theirs = Throttled(using=RateLimiterType.GCRA.value, quota=rates,
                           store=MemoryStore()).limiter  # fmt: skip
        ours = MemoryGcra(f"q{n}", rates, tats, clock=lambda: clock[0])
        limited = 0
        for _ in range(400):
            clock[0] += rng.choice([0.0, 0.0, 0.01, 0.1, 0.37, 1.0, 7.0])
            key = rng.choice(["a", "b"])
            if rng.random() < 0.25:
                assert await ours.peek(key) == await theirs.peek(key), (quota, key)
                continue
            mine, expected = await ours.limit(key), await theirs.limit(key)
            assert (mine.limited, mine.state) == (expected.limited, expected.state), quota
            limited += mine.limited
        assert limited, f"{quota}: the walk never emptied a bucket"
