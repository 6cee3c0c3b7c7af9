"""Per-route authorization of every lifecycle operation, with API keys, against a real Temporal.

For each operation: a caller with the grant succeeds; a caller who may read the route but lacks
the grant gets 403 and the workflow is untouched (shown by a sentinel sent afterwards by an
allowed caller: only the sentinel arrived); by id, a caller who may not even read the route
gets the same 404 as for a workflow that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_api.temporal.idempotency import scoped
from gateway_core.routes import Access
from support.gateway import ApiKeys, api_client, lifecycle_route
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

ALL = [f"life:{a.value}" for a in Access]
SCOPES = {
    "full": ALL,
    "reader": ["life:read"],
    "starter": ["life:start", "life:read"],
    "start-signal": ["life:start", "life:signal"],
    "start-update": ["life:start", "life:update"],
    "outsider": ["other:read", *(s.replace("life:", "other:") for s in ALL)],
    **{f"{a}-only": [f"life:{a}"] for a in ("signal", "query", "update", "cancel", "terminate")},
}
KEYS = ApiKeys(SCOPES)
auth = KEYS.auth

BY_ID = {
    # operation: method, path after the id, body, the caller with only its grant, success
    "signal": ("POST", "/signals/add_note", {"text": "denied"}, "signal-only", 202),
    "query": ("GET", "/queries/state", None, "query-only", 200),
    "update": ("POST", "/updates/set_limit", {"value": 50}, "update-only", 200),
    "cancel": ("POST", "/cancel", None, "cancel-only", 202),
    "terminate": ("POST", "/terminate", None, "terminate-only", 200),
    "describe": ("GET", "", None, "reader", 200),
}
WITH_START = {
    "signal-with-start": ("signal-with-start/add_note", "start-signal", 202),
    "update-with-start": ("update-with-start/set_limit", "start-update", 200),
}


@pytest.fixture
async def api(temporal_server, task_queue, keys_file) -> AsyncIterator[httpx.AsyncClient]:
    life = lifecycle_route(
        "life", task_queue, authorization={a.value: {"scopes": [f"life:{a.value}"]} for a in Access}
    )
    async with api_client(
        temporal_server.address, [life], auth_disabled=False, keys_file=keys_file
    ) as client:
        yield client


async def state(api: httpx.AsyncClient, workflow_id: str) -> dict:
    response = await api.get(f"/workflows/{workflow_id}/queries/state", headers=auth("full"))
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def status(api: httpx.AsyncClient, workflow_id: str) -> str:
    response = await api.get(f"/workflows/{workflow_id}/status", headers=auth("full"))
    return response.json()["status"]


def assert_hidden(response: httpx.Response, like: httpx.Response) -> None:
    """``response`` is the 404 ``like`` is for a workflow that does not exist."""
    assert response.status_code == like.status_code == 404, response.text
    got, missing = response.json(), like.json()
    assert got["code"] == missing["code"] == "workflow-not-found"
    assert set(got) == set(missing)
    assert got["detail"].replace(got["workflow_id"], "X") == missing["detail"].replace(
        missing["workflow_id"], "X"
    )


@pytest.mark.parametrize("operation", BY_ID)
async def test_by_id(api, operation) -> None:
    method, path, body, granted, success = BY_ID[operation]
    started = await api.post("/workflows/life/async", json={}, headers=auth("full"))
    wid = started.json()["workflow_id"]
    missing = f"life-{uuid.uuid4().hex}"

    async def call(who: str, workflow_id: str = wid) -> httpx.Response:
        return await api.request(
            method, f"/workflows/{workflow_id}{path}", json=body, headers=auth(who)
        )

    # May not read the route (nor do the operation): the 404 of a missing workflow.
    assert_hidden(await call("outsider"), like=await call("outsider", missing))
    if operation == "describe":
        # Describing is reading: a caller with another grant but not read sees nothing either.
        assert_hidden(await call("signal-only"), like=await call("signal-only", missing))
    else:
        # May read, may not do this: 403.
        denied = await call("reader")
        assert denied.status_code == 403, denied.text
        assert denied.json()["code"] == "forbidden"
        # Another grant, without read, is not enough to learn that the workflow exists.
        other = "query-only" if operation != "query" else "signal-only"
        assert_hidden(await call(other), like=await call(other, missing))

    # Untouched: a sentinel from an allowed caller is all that arrived.
    sentinel = await api.post(
        f"/workflows/{wid}/signals/add_note", json={"text": "sentinel"}, headers=auth("full")
    )
    assert sentinel.status_code == 202, sentinel.text  # still running: not canceled/terminated
    after = await state(api, wid)
    assert after["notes"] == ["sentinel"]
    assert after["set_limit_runs"] == 0
    assert await status(api, wid) == "RUNNING"

    # The grant alone is enough, without read.
    allowed = await call(granted)
    assert allowed.status_code == success, allowed.text
    if operation == "update":
        assert allowed.json()["result"] == 0  # the denied update never set the limit
        assert (await state(api, wid))["set_limit_runs"] == 1
    elif operation in ("cancel", "terminate"):
        closed = "CANCELED" if operation == "cancel" else "TERMINATED"

        async def stopped() -> bool:
            return await status(api, wid) == closed

        await assert_eventually(stopped)
    elif operation == "query":
        assert allowed.json()["result"]["notes"] == ["sentinel"]
    elif operation == "describe":
        assert allowed.json()["workflow_id"] == wid


@pytest.mark.parametrize("operation", WITH_START)
async def test_with_start(api, operation) -> None:
    path, granted, success = WITH_START[operation]
    key = uuid.uuid4().hex

    def wid_of(who: str) -> str:  # keys are the caller's: each caller's key is its own id
        return f"life-{scoped(f'key:{who}', key)}"

    async def call(who: str, arg: dict) -> httpx.Response:
        return await api.post(
            f"/workflows/life/{path}",
            json={"input": {}, "arg": arg},
            headers={**auth(who), "Idempotency-Key": key},
        )

    denied_arg = {"text": "denied"} if operation == "signal-with-start" else {"value": 50}
    # Neither start alone, nor the message's grant alone, nor reading is enough. Starts address
    # a route, whose path is public (it is in the OpenAPI document): 403, not 404.
    message_only = "signal-only" if operation == "signal-with-start" else "update-only"
    for who in ("reader", "starter", message_only, "outsider"):
        response = await call(who, denied_arg)
        assert response.status_code == 403, (who, response.text)
        assert response.json()["code"] == "forbidden"
    # Nothing was started, under any of their ids.
    for who in ("reader", "starter", message_only, "outsider"):
        absent = await api.get(f"/workflows/{wid_of(who)}", headers=auth("full"))
        assert absent.status_code == 404, who

    sentinel_arg = {"text": "sentinel"} if operation == "signal-with-start" else {"value": 1}
    allowed = await call(granted, sentinel_arg)
    assert allowed.status_code == success, allowed.text
    wid = wid_of(granted)
    assert allowed.json()["workflow_id"] == wid
    after = await state(api, wid)
    if operation == "signal-with-start":
        assert after["notes"] == ["sentinel"]
    else:
        assert allowed.json()["result"] == 0
        assert after == {**after, "limit": 1, "set_limit_runs": 1}
