"""Whose workflows a caller reaches by id: only the route's (its prefix AND its type), and on an
owner-only route only the caller's own (issue 24, items 2 and 13)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from gateway_api.temporal.idempotency import scope
from gateway_core.routes import Access
from support.gateway import ApiKeys, api_client, lifecycle_route
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

EVERY = [f"life:{a.value}" for a in Access]
KEYS = ApiKeys({"ann": EVERY, "bob": EVERY, "admin": ["gateway:admin"]})
auth = KEYS.auth

BY_ID = [
    ("GET", ""),
    ("GET", "/status"),
    ("GET", "/result?wait=0"),
    ("GET", "/events"),
    ("POST", "/signals/finish"),
    ("GET", "/queries/state"),
    ("POST", "/updates/set_limit"),
    ("POST", "/cancel"),
    ("POST", "/terminate"),
    ("GET", "/callbacks"),
    ("POST", "/callbacks/redeliver"),
]
BODIES = {"/updates/set_limit": {"value": 1}}


def _grants(owner_only: bool) -> dict:
    return {
        **{a.value: {"scopes": [f"life:{a.value}"]} for a in Access},
        "ownerOnly": owner_only,
    }


@pytest.fixture
async def api(temporal_server, task_queue, keys_file) -> AsyncIterator[httpx.AsyncClient]:
    shared = lifecycle_route("life", task_queue, authorization=_grants(False))
    owned = lifecycle_route("mine", task_queue, authorization=_grants(True))
    async with api_client(
        temporal_server.address, [shared, owned], auth_disabled=False, keys_file=keys_file
    ) as client:
        yield client


async def _call(api: httpx.AsyncClient, who: str, method: str, path: str) -> httpx.Response:
    suffix = path.split("?")[0].rsplit("/workflows/", 1)[-1]
    body = next((b for s, b in BODIES.items() if suffix.endswith(s)), None)
    return await api.request(method, path, json=body, headers=auth(who))


async def test_a_workflow_of_another_type_under_the_prefix_is_no_workflow_of_the_route(
    api, client: Client, task_queue
) -> None:
    """A GateWorkflow started in Temporal directly as ``life-payroll-…``: every operation by id
    answers 404 as for a missing id, and none reaches it (it still runs, unsignalled)."""
    payroll = await client.start_workflow(
        "GateWorkflow", {}, id=f"life-payroll-{uuid.uuid4().hex}", task_queue=task_queue
    )
    missing = f"life-{uuid.uuid4().hex}"
    for method, suffix in BY_ID:
        got = await _call(api, "ann", method, f"/workflows/{payroll.id}{suffix}")
        absent = await _call(api, "ann", method, f"/workflows/{missing}{suffix}")
        assert got.status_code == absent.status_code == 404, (suffix, got.text)
        assert got.json()["code"] == absent.json()["code"], suffix
    desc = await payroll.describe()
    assert desc.status == WorkflowExecutionStatus.RUNNING
    signals = [
        e async for e in payroll.fetch_history_events()
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]  # fmt: skip
    assert signals == []
    # The sentinel: the route's own workflow takes the same signal and terminate.
    own = (await api.post("/workflows/life/async", json={}, headers=auth("ann"))).json()
    sent = await api.post(f"/workflows/{own['workflow_id']}/signals/finish", headers=auth("ann"))
    assert sent.status_code == 202, sent.text
    await payroll.terminate("done")


async def test_an_owner_only_route_keeps_each_callers_workflows_to_itself(
    api, client: Client
) -> None:
    ann = (await api.post("/workflows/mine/async", json={}, headers=auth("ann"))).json()
    ann_id = ann["workflow_id"]
    assert ann_id.startswith(f"mine-{scope('key:ann')}.")
    keyed = await api.post(
        "/workflows/mine/async", json={}, headers=auth("ann", **{"Idempotency-Key": "k1"})
    )
    assert keyed.json()["workflow_id"] == f"mine-{scope('key:ann')}.k1"

    # Bob holds every grant of the route, and reaches none of Ann's workflows: the same 404
    # as a missing id, decided from the id.
    for method, suffix in BY_ID:
        got = await _call(api, "bob", method, f"/workflows/{ann_id}{suffix}")
        assert got.status_code == 404, (suffix, got.text)
        assert got.json()["code"] in ("workflow-not-found", "callback-not-found")
    # Ann and an administrator do.
    assert (await api.get(f"/workflows/{ann_id}", headers=auth("ann"))).status_code == 200
    assert (await api.get(f"/workflows/{ann_id}", headers=auth("admin"))).status_code == 200

    bob = (await api.post("/workflows/mine/async", json={}, headers=auth("bob"))).json()

    async def listed(who: str) -> set[str]:
        page = await api.get("/workflows", params={"route": "mine"}, headers=auth(who))
        assert page.status_code == 200, page.text
        return {w["workflow_id"] for w in page.json()["workflows"]}

    # Visibility catches up: the administrator seeing all three is the sentinel.
    await assert_eventually(lambda: _has(listed("admin"), {ann_id, bob["workflow_id"]}), timeout=20)
    assert await listed("ann") == {ann_id, f"mine-{scope('key:ann')}.k1"}
    assert await listed("bob") == {bob["workflow_id"]}
    count = await api.get("/workflows/count", params={"route": "mine"}, headers=auth("bob"))
    assert count.json() == {"count": 1}
    for workflow_id in (ann_id, f"mine-{scope('key:ann')}.k1", bob["workflow_id"]):
        await client.get_workflow_handle(workflow_id).terminate("done")


async def _has(found, wanted: set[str]) -> bool:
    return wanted <= await found


async def test_the_type_is_checked_without_an_extra_temporal_call(
    relay, client: Client, task_queue
) -> None:
    """Issue 24 #2's cost: the type check adds no Temporal call to the hot path. A workflow this
    process started is known; one started elsewhere costs one describe the first time, which a
    describe by id then answers from, and nothing after."""
    route = lifecycle_route("life", task_queue)
    async with api_client(relay.address, [route]) as api:
        calls = relay.workflow_calls

        async def asked(method: str, path: str) -> list[str]:
            before = len(calls())
            answer = await api.request(method, path)
            assert answer.status_code == 200, answer.text
            return calls()[before:]

        own = (await api.post("/workflows/life/async", json={})).json()["workflow_id"]
        # The first query of a type also asks the worker's handlers (the route-worker-mismatch
        # check, cached per workflow type); after it, a query is the query alone.
        first_query = await asked("GET", f"/workflows/{own}/queries/state")
        assert first_query == ["QueryWorkflow", "QueryWorkflow"]
        assert await asked("GET", f"/workflows/{own}/queries/state") == ["QueryWorkflow"]
        assert await asked("GET", f"/workflows/{own}/status") == ["DescribeWorkflowExecution"]
        elsewhere = await client.start_workflow(
            "LifecycleWorkflow", {}, id=f"life-{uuid.uuid4().hex}", task_queue=task_queue
        )
        first = await asked("GET", f"/workflows/{elsewhere.id}")
        assert first == ["DescribeWorkflowExecution"], "the check's describe is the answer's"
        assert await asked("GET", f"/workflows/{elsewhere.id}/queries/state") == ["QueryWorkflow"]
        await elsewhere.terminate("done")
        await client.get_workflow_handle(own).terminate("done")
