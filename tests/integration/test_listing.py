"""Listing and counting workflows against a real Temporal: pages, the restriction to the
caller's routes (whatever the query says), and the errors. Route paths are unique per test, since
every test's workflows share the dev server's one visibility store."""

from __future__ import annotations

import uuid

import pytest
import structlog
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest

from support.gateway import ApiKeys, api_client, route
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

KEYS = ApiKeys({
    "alpha": ["alpha:start", "alpha:read"],
    "beta": ["beta:start", "beta:read"],
    "nobody": ["unrelated:read"],
    "admin": ["gateway:admin"],
})  # fmt: skip
auth = KEYS.auth


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def guarded(path: str, scope: str, task_queue: str, **spec):
    grants = {"start": {"scopes": [f"{scope}:start"]}, "read": {"scopes": [f"{scope}:read"]}}
    return route(path, "FlakyWorkflow", task_queue, authorization=grants, **spec)


async def listed_ids(api, who: str | None = None, **params) -> list[str]:
    response = await api.get("/workflows", params=params, headers=auth(who) if who else None)
    assert response.status_code == 200, response.text
    return [w["workflow_id"] for w in response.json()["workflows"]]


async def test_pages_of_a_route(temporal_server, task_queue) -> None:
    path = unique("pages")
    async with api_client(
        temporal_server.address, [route(path, "FlakyWorkflow", task_queue)]
    ) as api:
        started = set()
        for _ in range(3):
            response = await api.post(f"/workflows/{path}", json={"label": "x"})
            assert response.json()["status"] == "completed"
            started.add(response.json()["workflow_id"])

        async def all_visible() -> bool:
            return set(await listed_ids(api, page_size=100)) == started

        await assert_eventually(all_visible)
        first = await api.get("/workflows", params={"page_size": 2})
        page1 = first.json()
        assert len(page1["workflows"]) == 2
        assert page1["next_page_token"]
        second = await api.get(
            "/workflows", params={"page_size": 2, "page_token": page1["next_page_token"]}
        )
        page2 = second.json()
        ids = [w["workflow_id"] for w in page1["workflows"] + page2["workflows"]]
        assert len(ids) == len(set(ids)) == 3
        assert set(ids) == started
        assert page2["next_page_token"] is None
        item = page1["workflows"][0]
        assert item["route"] == path
        assert item["workflow_type"] == "FlakyWorkflow"
        assert item["status"] == "COMPLETED"
        assert item["run_id"]
        assert item["start_time"] <= item["close_time"]

        # The caller's query narrows; a token is only good with the query it came with.
        assert await listed_ids(api, query="ExecutionStatus = 'Running'") == []
        other_query = await api.get(
            "/workflows", params={"query": "ExecutionStatus = 'Completed'", "page_size": 2,
                                  "page_token": page1["next_page_token"]},
        )  # fmt: skip
        assert other_query.status_code == 400
        assert other_query.json()["errors"][0]["field"] == "page_token"

        counted = await api.get("/workflows/count", params={"query": "ExecutionStatus='Completed'"})
        assert counted.json() == {"count": 3}
        assert (await api.get("/workflows/count", params={"route": path})).json() == {"count": 3}


async def test_callers_list_only_their_routes(temporal_server, client, task_queue, keys_file):
    alpha_path, beta_path = unique("alpha"), unique("beta")
    routes = [guarded(alpha_path, "alpha", task_queue), guarded(beta_path, "beta", task_queue)]
    async with api_client(
        temporal_server.address, routes, auth_disabled=False, keys_file=keys_file
    ) as api:
        alpha, beta = set(), set()
        for who, path, ids in (("alpha", alpha_path, alpha), ("beta", beta_path, beta)):
            for _ in range(2):
                response = await api.post(f"/workflows/{path}", json={}, headers=auth(who))
                assert response.status_code == 200, response.text
                ids.add(response.json()["workflow_id"])
        # Same type, same task queue, but no route's prefix: not a gateway workflow.
        foreign = f"foreign-{uuid.uuid4().hex}"
        await client.start_workflow("FlakyWorkflow", {}, id=foreign, task_queue=task_queue)

        # The sentinel: once the administrator sees all four and Temporal itself the foreign
        # one, visibility has caught up, and what a caller does not see was filtered out.
        async def caught_up() -> bool:
            seen = set(await listed_ids(api, "admin", page_size=100))
            raw = [w.id async for w in client.list_workflows(f"WorkflowId = '{foreign}'")]
            return seen == alpha | beta and raw == [foreign]

        await assert_eventually(caught_up)

        assert set(await listed_ids(api, "alpha")) == alpha
        assert set(await listed_ids(api, "beta")) == beta
        assert await listed_ids(api, "nobody") == []
        count = await api.get("/workflows/count", headers=auth("alpha"))
        assert count.json() == {"count": 2}
        assert (await api.get("/workflows/count", headers=auth("nobody"))).json() == {"count": 0}

        # Queries that try to widen the restriction are refused ...
        for query in [
            ") OR (1=1",
            "WorkflowType='FlakyWorkflow') OR (WorkflowId STARTS_WITH ''",
            "'",
            f"WorkflowId = '{foreign}\\') OR (WorkflowId STARTS_WITH '",
            "WorkflowId STARTS_WITH '' -- ",
            "ORDER BY StartTime) OR (1=1",
        ]:
            for path in ("/workflows", "/workflows/count"):
                response = await api.get(path, params={"query": query}, headers=auth("alpha"))
                assert response.status_code == 400, (query, response.text)
                assert response.json()["code"] == "invalid-query"
                assert response.json()["errors"] == [
                    {"field": "query", "message": response.json()["errors"][0]["message"]}
                ]
        # ... and those that parse only ever narrow it.
        for query in [
            "WorkflowId STARTS_WITH '' OR WorkflowType != 'x'",
            f"WorkflowId = '{foreign}' OR WorkflowId STARTS_WITH '{beta_path}'",
            "`ExecutionStatus` = \"Completed\" OR ExecutionStatus = 'Running'",
        ]:
            assert set(await listed_ids(api, "alpha", query=query)) <= alpha, query
        everything = "WorkflowId STARTS_WITH '' OR WorkflowType != 'x'"
        assert set(await listed_ids(api, "alpha", query=everything)) == alpha

        # Temporal's own refusals are 400 too: SQLite visibility has no ORDER BY, and 1=1 is
        # not a filter it knows.
        for query in ("ExecutionStatus='Running' ORDER BY StartTime", "1=1"):
            response = await api.get("/workflows", params={"query": query}, headers=auth("alpha"))
            assert response.status_code == 400, response.text
            assert response.json()["code"] == "temporal-invalid-argument"

        # route=: one route; another's and an unknown one are the same 404.
        only = await listed_ids(api, "admin", route=alpha_path)
        assert set(only) == alpha
        hidden = await api.get("/workflows", params={"route": beta_path}, headers=auth("alpha"))
        unknown = await api.get("/workflows", params={"route": "nope"}, headers=auth("alpha"))
        for response, name in ((hidden, beta_path), (unknown, "nope")):
            assert response.status_code == 404
            assert response.json()["code"] == "route-not-found"
            assert response.json()["detail"].replace(name, "X") == (
                "no route 'X' whose workflows key:alpha may read"
            )


async def test_route_in_another_namespace(temporal_server, client, task_queue) -> None:
    namespace = unique("ns")
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    home, away = unique("home"), unique("away")
    missing = unique("missing")
    routes = [
        route(home, "FlakyWorkflow", task_queue),
        route(away, "GateWorkflow", task_queue, namespace=namespace),
        route(missing, "GateWorkflow", task_queue, namespace="no-such-namespace"),
    ]
    async with api_client(temporal_server.address, routes) as api:
        response = await api.get("/workflows")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "route"

        # No worker polls the other namespace: the workflow stays running there.
        started = await api.post(f"/workflows/{away}/async", json={})
        assert started.status_code == 200, started.text
        workflow_id = started.json()["workflow_id"]

        async def listed_there() -> bool:
            return await listed_ids(api, route=away) == [workflow_id]

        await assert_eventually(listed_there)
        assert await listed_ids(api, route=home) == []
        count = await api.get("/workflows/count", params={"route": away})
        assert count.json() == {"count": 1}

        # A route naming a namespace Temporal does not have is the gateway's configuration
        # problem, not the caller's: a 502 that says so.
        wrong = await api.get("/workflows/count", params={"route": missing})
        assert wrong.status_code == 502, wrong.text
        assert wrong.json()["code"] == "temporal-namespace-not-found"


async def test_temporals_own_words_stay_in_the_log(temporal_server, task_queue) -> None:
    """Issue 24 #10: a query Temporal's parser refuses, or a route naming a namespace Temporal
    does not have, answered with Temporal's own message as the problem's detail. The status and
    code are unchanged; Temporal's words are in the API's log and nowhere in the answer."""
    path, missing = unique("words"), unique("missing")
    routes = [
        route(path, "FlakyWorkflow", task_queue),
        route(missing, "GateWorkflow", task_queue, namespace=unique("no-such-namespace")),
    ]
    async with api_client(temporal_server.address, routes) as api:
        with structlog.testing.capture_logs() as logs:
            refused = await api.get(
                "/workflows", params={"route": path, "query": "NoSuchAttribute = 'x'"}
            )
            absent = await api.get("/workflows/count", params={"route": missing})
    said = [e["error"] for e in logs if e["event"] == "temporal error"]
    assert len(said) == 2, logs
    for answer, status, code, detail, words in (
        (refused, 400, "temporal-invalid-argument", "Temporal refused the request's arguments",
         said[0]),
        (absent, 502, "temporal-namespace-not-found",
         "the route's Temporal namespace does not exist", said[1]),
    ):  # fmt: skip
        assert answer.status_code == status, answer.text
        problem = answer.json()
        assert problem["code"] == code
        assert problem["detail"] == detail
        assert words
        assert not any(words in str(value) for value in problem.values()), problem
