"""Per-route authorization against a real Temporal: callers see and touch only workflows
started through routes they may read; anything else is the same 404 as a workflow that does not
exist, so ids do not leak. Every start records the route and the caller in the memo."""

from __future__ import annotations

import uuid

import pytest

from gateway_api.temporal.executions import MEMO_PRINCIPAL, MEMO_ROUTE, MEMO_ROUTE_PATH
from support.gateway import ApiKeys, api_client, route
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

KEYS = ApiKeys({
    "alpha": ["alpha:start", "alpha:read"],
    "alpha-starter": ["alpha:start"],
    "beta": ["beta:start", "beta:read"],
    "auditor": ["alpha:read", "beta:read"],
    "admin": ["gateway:admin"],
})  # fmt: skip
auth = KEYS.auth


def routes(task_queue: str) -> list:
    def guarded(name: str):
        return route(
            name, "FlakyWorkflow", task_queue,
            authorization={"start": {"scopes": [f"{name}:start"]},
                           "read": {"scopes": [f"{name}:read"]}},
        )  # fmt: skip

    return [guarded("alpha"), guarded("beta"), route("open", "FlakyWorkflow", task_queue)]


async def test_callers_read_only_what_their_routes_allow(
    temporal_server, client, task_queue, keys_file
) -> None:
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        alpha = (await api.post("/workflows/alpha", json={}, headers=auth("alpha"))).json()
        beta = (await api.post("/workflows/beta", json={}, headers=auth("beta"))).json()
        assert alpha["status"] == beta["status"] == "completed"
        missing = f"alpha-{uuid.uuid4().hex}"
        foreign = f"not-via-gateway-{uuid.uuid4().hex}"
        await client.start_workflow("FlakyWorkflow", {}, id=foreign, task_queue=task_queue)

        async def get(who: str, workflow_id: str, what: str):
            return await api.get(f"/workflows/{workflow_id}/{what}", headers=auth(who))

        for what in ("status", "result"):
            assert (await get("alpha", alpha["workflow_id"], what)).status_code == 200
            assert (await get("beta", beta["workflow_id"], what)).status_code == 200
            assert (await get("auditor", alpha["workflow_id"], what)).status_code == 200
            assert (await get("auditor", beta["workflow_id"], what)).status_code == 200
            for wid in (alpha["workflow_id"], beta["workflow_id"]):
                assert (await get("admin", wid, what)).status_code == 200, (wid, what)
            # An id no route's prefix claims is no gateway workflow, administrators included.
            assert (await get("admin", foreign, what)).status_code == 404

            # Another route's workflow, one not started here, and none at all: one answer.
            answers = [
                await get("alpha", beta["workflow_id"], what),
                await get("beta", alpha["workflow_id"], what),
                await get("alpha-starter", alpha["workflow_id"], what),
                await get("alpha", foreign, what),
                await get("auditor", foreign, what),
                await get("alpha", missing, what),
            ]
            for response in answers:
                assert response.status_code == 404, response.text
                assert response.headers["content-type"] == "application/problem+json"
                body = response.json()
                assert body["code"] == "workflow-not-found"
                # Nothing says which case it is: the same members (trace_id when tracing is on).
                assert set(body) - {"trace_id"} == {
                    "type", "title", "status", "code", "detail", "instance", "request_id",
                    "workflow_id",
                }  # fmt: skip
            assert answers[3].json()["detail"].replace(foreign, "X") == answers[5].json()[
                "detail"
            ].replace(missing, "X")
            assert (await get("admin", missing, what)).status_code == 404

    desc = await client.get_workflow_handle(alpha["workflow_id"]).describe()
    assert await desc.memo_value(MEMO_ROUTE) == "alpha"
    assert await desc.memo_value(MEMO_ROUTE_PATH) == "alpha"
    assert await desc.memo_value(MEMO_PRINCIPAL) == "key:alpha"


async def test_starting_needs_the_start_grant(temporal_server, client, task_queue, keys_file):
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        for who, path, status in [
            ("alpha", "alpha", 200),
            ("alpha-starter", "alpha", 200),
            ("beta", "alpha", 403),
            ("auditor", "alpha", 403),
            ("alpha", "open", 403),  # no authorization block: administrators only
            ("admin", "open", 200),
            ("admin", "beta", 200),
        ]:
            response = await api.post(f"/workflows/{path}/async", json={}, headers=auth(who))
            assert response.status_code == status, (who, path, response.text)
            if status == 403:
                assert response.json()["code"] == "forbidden"

    async def four_started() -> bool:  # visibility is eventually consistent
        return (await client.count_workflows(f'TaskQueue="{task_queue}"')).count == 4

    await assert_eventually(four_started)


async def test_an_idempotent_repeat_does_not_hand_over_what_the_caller_cannot_read(
    temporal_server, task_queue, keys_file
) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        first = await api.post("/workflows/alpha", json={}, headers={**auth("alpha"), **key})
        assert first.status_code == 200
        again = await api.post("/workflows/alpha", json={}, headers={**auth("alpha"), **key})
        assert again.json() == first.json()
        # The key is alpha's, not the starter's: the starter's request is its own workflow
        # (it was 409 before keys were scoped to the caller), never alpha's.
        starter = await api.post(
            "/workflows/alpha", json={}, headers={**auth("alpha-starter"), **key}
        )
        assert starter.status_code == 200, starter.text
        assert starter.json()["workflow_id"] != first.json()["workflow_id"]
