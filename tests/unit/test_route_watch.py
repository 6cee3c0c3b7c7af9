"""The API's route watch (``API_ROUTES_SOURCE=kubernetes``) against a fake API server: which
WorkflowRoutes it serves after each event, where each watch resumes, and what it does when
the server says the version is gone or cannot be reached."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway_api import metrics
from gateway_api.route_store import RouteStore
from gateway_api.route_store.kube import ClusterRoutes, KubeConfig

CONFIG = KubeConfig("http://kube.test", False)


def obj(
    name: str,
    *,
    path: str | None = None,
    generation: int = 1,
    judged: int | None = None,
    accepted: bool | None = True,
    version: str = "1",
    workflow_type: str = "W",
) -> dict[str, Any]:
    """A WorkflowRoute as the API server returns it; ``accepted``: the operator's verdict on
    generation ``judged`` (default: the current one), None for none yet."""
    status: dict[str, Any] = {}
    if accepted is not None:
        status["conditions"] = [{
            "type": "Accepted", "status": "True" if accepted else "False",
            "observedGeneration": generation if judged is None else judged,
        }]  # fmt: skip
    return {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowRoute",
        "metadata": {
            "name": name, "namespace": "apps", "uid": f"uid-{name}", "generation": generation,
            "resourceVersion": version, "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {
            "path": path or name, "workflowType": workflow_type, "taskQueue": "q",
            "workflowId": {"prefix": f"{path or name}-"},
        },
        "status": status,
    }  # fmt: skip


def served(store: RouteStore) -> dict[str, str]:
    """Path → workflow type of what the table serves."""
    table = store.table
    return {} if table is None else {p: r.spec.workflow_type for p, r in table.routes.items()}


# --- the decision: what a batch of objects as they are now makes the table ------------------


def follow(*batches: dict[str, dict[str, Any] | None]) -> list[dict[str, str]]:
    """Apply each batch (key → object, None: deleted) in turn; the table after each."""
    store = RouteStore(None)
    routes = ClusterRoutes(store, CONFIG)
    seen = []
    for batch in batches:
        routes.apply(batch)
        seen.append(served(store))
    return seen


@pytest.mark.parametrize(
    ("batches", "tables"),
    [
        pytest.param([{"apps/a": obj("a")}], [{"a": "W"}], id="accepted: served"),
        pytest.param([{"apps/a": obj("a", accepted=None)}], [{}], id="not judged yet: not served"),
        pytest.param([{"apps/a": obj("a", accepted=False)}], [{}], id="refused: not served"),
        pytest.param(
            [{"apps/a": obj("a")}, {"apps/a": None}], [{"a": "W"}, {}], id="deleted: gone"
        ),
        pytest.param(
            [
                {"apps/a": obj("a")},
                {"apps/a": obj("a", generation=2, judged=1, workflow_type="V")},
                {"apps/a": obj("a", generation=2, workflow_type="V")},
            ],
            [{"a": "W"}, {"a": "W"}, {"a": "V"}],
            id="a new spec waits for its verdict, the old one served meanwhile",
        ),
        pytest.param(
            [{"apps/a": obj("a")}, {"apps/a": obj("a", generation=2, accepted=False)}],
            [{"a": "W"}, {}],
            id="a new spec refused: the route is no longer served",
        ),
        pytest.param(
            [{"apps/a": obj("a")}, {"apps/b": obj("b", path="a")}, {"apps/a": None}],
            [{"a": "W"}, {"a": "W"}, {"a": "W"}],
            id="a path handed over: the new owner waits until the old one is gone",
        ),
        pytest.param(
            [
                {"apps/a": obj("a", workflow_type="A")},
                {"apps/b": obj("b", path="a", workflow_type="B")},
                {"apps/a": obj("a", generation=2, path="elsewhere", workflow_type="A")},
            ],
            [{"a": "A"}, {"a": "A"}, {"a": "B", "elsewhere": "A"}],
            # The operator's writes land in any order: b's verdict before a's new one.
            id="a path freed by a change: the waiting route takes it, nothing is lost",
        ),
    ],
)
def test_what_each_event_makes_the_table(batches, tables) -> None:
    assert follow(*batches) == tables


def test_a_status_only_change_swaps_nothing() -> None:
    store = RouteStore(None)
    routes = ClusterRoutes(store, CONFIG)
    routes.apply({"apps/a": obj("a", version="1")})
    table = store.table
    routes.apply({"apps/a": obj("a", version="2")})  # the same uid and generation
    assert store.table is table


def test_the_handed_over_path_is_served_by_its_new_owner() -> None:
    store = RouteStore(None)
    routes = ClusterRoutes(store, CONFIG)
    routes.apply({"apps/a": obj("a", workflow_type="Old")})
    routes.apply({"apps/b": obj("b", path="a", workflow_type="New")})
    routes.apply({"apps/a": None})
    assert served(store) == {"a": "New"}


# --- the watch: list, then watch from the list's version; 410 and outages -------------------


class FakeApiServer:
    """Lists ``items``; each watch request takes the next script from ``watches``: a list of
    events streamed before the watch ends, or a status code to answer with."""

    def __init__(self, *items: dict[str, Any], version: str = "10") -> None:
        self.items = {f"apps/{i['metadata']['name']}": i for i in items}
        self.version = version
        self.list_status = 200
        self.requests: list[tuple[str, str | None]] = []
        self.watches: asyncio.Queue[list[dict[str, Any]] | int] = asyncio.Queue()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if params.get("watch") == "true":
            self.requests.append(("watch", params.get("resourceVersion")))
            script = await self.watches.get()
            if isinstance(script, int):
                return httpx.Response(script, json={"kind": "Status", "code": script})
            lines = "".join(json.dumps(event) + "\n" for event in script)
            return httpx.Response(200, content=lines.encode())
        self.requests.append(("list", params.get("resourceVersion")))
        if self.list_status != 200:
            return httpx.Response(self.list_status, json={"kind": "Status"})
        return httpx.Response(200, json={
            "kind": "WorkflowRouteList", "items": list(self.items.values()),
            "metadata": {"resourceVersion": self.version},
        })  # fmt: skip


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not true in time"
        await asyncio.sleep(0.01)


async def running(server: FakeApiServer) -> tuple[RouteStore, asyncio.Task[None]]:
    store = RouteStore(None)
    routes = ClusterRoutes(store, CONFIG, merge_seconds=0.0, transport=httpx.MockTransport(server))
    return store, asyncio.create_task(routes.run())


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_each_watch_resumes_where_the_last_event_left_it() -> None:
    server = FakeApiServer(obj("a"), version="10")
    store, task = await running(server)
    try:
        await eventually(lambda: served(store) == {"a": "W"})
        await eventually(lambda: server.requests == [("list", None), ("watch", "10")])
        server.watches.put_nowait([
            {"type": "ADDED", "object": obj("b", version="11")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
        ])  # fmt: skip
        await eventually(lambda: served(store) == {"a": "W", "b": "W"})
        await eventually(lambda: server.requests[-1] == ("watch", "15"))
        server.watches.put_nowait([
            {"type": "MODIFIED", "object": obj("b", generation=2, workflow_type="V",
                                               version="16")},
            {"type": "DELETED", "object": obj("a", version="17")},
        ])  # fmt: skip
        await eventually(lambda: served(store) == {"b": "V"})
        await eventually(lambda: server.requests[-1] == ("watch", "17"))
        assert [kind for kind, _ in server.requests].count("list") == 1
    finally:
        await stopped(task)


@pytest.mark.parametrize("gone", ["event", "status"])
async def test_a_version_gone_lists_again_and_catches_up(gone) -> None:
    server = FakeApiServer(obj("a"), obj("b"), version="10")
    store, task = await running(server)
    try:
        await eventually(lambda: served(store) == {"a": "W", "b": "W"})
        await eventually(lambda: len(server.requests) == 2)
        # Meanwhile, unseen: a deleted, c created.
        del server.items["apps/a"]
        server.items["apps/c"] = obj("c", version="30")
        server.version = "30"
        server.watches.put_nowait(
            [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old"}}]
            if gone == "event"
            else 410
        )
        await eventually(lambda: served(store) == {"b": "W", "c": "W"})
        await eventually(lambda: server.requests[-1] == ("watch", "30"))
        assert [kind for kind, _ in server.requests] == ["list", "watch", "list", "watch"]
        assert store.source_error is None  # expected, not an outage
    finally:
        await stopped(task)


async def test_an_unreachable_server_keeps_the_last_table_and_says_so() -> None:
    server = FakeApiServer(obj("a"), version="10")
    store, task = await running(server)
    try:
        await eventually(lambda: served(store) == {"a": "W"} and len(server.requests) == 2)
        table = store.table
        server.list_status = 503
        server.watches.put_nowait(503)
        await eventually(lambda: store.source_error is not None)
        assert "503" in store.source_error
        assert metrics.ROUTE_SOURCE_UP._value.get() == 0
        assert store.table is table  # still served
        server.items["apps/b"] = obj("b")
        server.list_status = 200  # back: the next list (after a backoff) catches up
        await eventually(lambda: served(store) == {"a": "W", "b": "W"}, timeout=10)
        assert store.source_error is None
        assert metrics.ROUTE_SOURCE_UP._value.get() == 1
    finally:
        await stopped(task)


def test_equal_pieces_of_listed_routes_are_one_object() -> None:
    from gateway_api.route_store.kube import Interner

    intern = Interner()
    a = intern({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    b = intern({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    c = intern({"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]})
    assert a is b
    assert a != c
    assert a["required"] is c["required"]
    # Equal in Python is not the same JSON: true is not 1, nor 1.0.
    assert intern({"const": True}) is not intern({"const": 1})
    assert intern({"const": 1}) is not intern({"const": 1.0})
    assert intern([1, [2]])[1] is intern({"x": [2]})["x"]


async def test_the_worker_follows_the_same_table_for_its_deliveries() -> None:
    # The worker reads the table before each webhook attempt: FollowedRoutes.current().
    from gateway_core.routes.cluster import ClusterRoutes as Following
    from gateway_core.routes.cluster import FollowedRoutes
    from gateway_worker.config import WorkerSettings

    settings = WorkerSettings(
        task_queue="q", routes_source="kubernetes", routes_namespaces="apps, shop"
    )
    assert settings.routes_namespaces == ["apps", "shop"]
    server = FakeApiServer(obj("a"), version="10")
    routes = FollowedRoutes()
    following = Following(routes, CONFIG, merge_seconds=0.0, transport=httpx.MockTransport(server))
    task = asyncio.create_task(following.run())
    try:
        assert routes.current() is None  # before the first list: attempts fail, and retry
        await eventually(lambda: routes.current() is not None)
        assert set(routes.current().routes) == {"a"}
        server.watches.put_nowait([{"type": "DELETED", "object": obj("a", version="11")}])
        await eventually(lambda: not routes.current().routes)
    finally:
        await stopped(task)


def test_a_swap_tells_the_heap_settler_how_many_routes_it_changed() -> None:
    # freeze_heap gives memory back to the system only after a swap of many routes (a pod's
    # first table, a burst): it walks the whole heap, which one changed route should not pay.
    changes: list[int] = []
    store = RouteStore(None, settle=changes.append)
    routes = ClusterRoutes(store, CONFIG)
    routes.apply({"apps/a": obj("a"), "apps/b": obj("b")})
    routes.apply({"apps/a": obj("a", generation=2, workflow_type="V")})
    assert changes == [2, 1]
