"""Rate limits shared by API replicas through a real Redis (Debian's ``redis-server``, started
here by pid), and what happens without Redis: each process counts alone, and a Redis that stops
answering turns into 503s rather than no limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_api.security.keys import new_key
from support.gateway import write_keys_file
from support.procs import ApiProcess
from support.redis_server import RedisServer

pytestmark = pytest.mark.e2e

BODY = {"items": [{"fruit": "APPLE", "amount": 1}]}
KEY = new_key()
OTHER = new_key()
LIMIT = {"API_RATE_LIMIT": "5/m", "API_RATE_LIMIT_GLOBAL": "off"}


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory) -> Path:
    return write_keys_file(
        tmp_path_factory.mktemp("keys") / "keys.yaml",
        {"ci": (KEY, ["shopping:start", "shopping:read"]), "other": (OTHER, ["shopping:start"])},
    )


@pytest.fixture
def redis(logs_dir) -> Iterator[RedisServer]:
    server = RedisServer(logs_dir)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def api(stack, logs_dir, keys_file: Path, **env: str) -> ApiProcess:
    return ApiProcess(
        logs_dir,
        temporal=stack.temporal.address,
        env={
            "API_ENVIRONMENT": "production",
            "API_AUTH_DISABLED": "false",
            "API_KEYS_FILE": str(keys_file),
            **LIMIT,
            **env,
        },
    )


def start(process: ApiProcess, key: str = KEY) -> httpx.Response:
    return httpx.post(
        process.url + "/workflows/shopping/async", json=BODY, headers={"X-API-Key": key},
        timeout=30,
    )  # fmt: skip


def test_two_replicas_share_one_bucket_through_redis(redis, stack, logs_dir, keys_file) -> None:
    env = {"API_RATE_LIMIT_REDIS_URL": redis.url}
    first, second = api(stack, logs_dir, keys_file, **env), api(stack, logs_dir, keys_file, **env)
    try:
        first.wait_ready()
        second.wait_ready()
        statuses = [start(p).status_code for p in (first, second, first, second, first)]
        assert statuses == [200] * 5
        for process in (first, second):
            refused = start(process)
            assert refused.status_code == 429, refused.text
            assert refused.json()["code"] == "rate-limited"
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["ratelimit-remaining"] == "0"
        assert start(second, OTHER).status_code == 200  # another caller, its own bucket
        assert any(key.startswith("temporal-gateway") for key in redis.cli("keys", "*").split())

        redis.stop()
        down = start(first)
        assert down.status_code == 503
        assert down.json()["code"] == "rate-limiter-unavailable"
        assert down.headers["content-type"] == "application/problem+json"
        assert int(down.headers["retry-after"]) > 0
    finally:
        first.stop()
        second.stop()


def test_without_redis_each_replica_counts_alone(stack, logs_dir, keys_file) -> None:
    first, second = api(stack, logs_dir, keys_file), api(stack, logs_dir, keys_file)
    try:
        first.wait_ready()
        second.wait_ready()
        assert [start(first).status_code for _ in range(5)] == [200] * 5
        assert start(first).status_code == 429
        assert start(second).status_code == 200
    finally:
        first.stop()
        second.stop()
