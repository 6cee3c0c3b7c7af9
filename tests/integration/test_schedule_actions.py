"""Schedules over HTTP against a real Temporal dev server and the real worker: every action,
a backfill whose workflows run and are counted, optimistic concurrency, idempotent creates,
and who may do what (a key without ``schedule`` cannot list, create or trigger; a caller never
sees another route's schedules, nor on an owner-only route another caller's).

Route paths and prefixes are unique per test: every test's schedules share the dev server's one
namespace and visibility store.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio import client as temporal
from temporalio.client import Client

from gateway_api.temporal.idempotency import scope
from gateway_core import memo
from gateway_core.routes import DEFAULT_OPERATIONS, Access, Operation
from gateway_core.schedules import ScheduleSettings, build, encode_action
from support.gateway import ApiKeys, api_client, counted, route, shopping_route
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

SCHEDULING = [*DEFAULT_OPERATIONS, Operation.SCHEDULE]
ITEMS = {"items": [{"fruit": "APPLE", "amount": 2}]}
NIGHTLY = {"cron_expressions": ["0 3 * * *"], "time_zone": "Europe/Paris"}

KEYS = ApiKeys({
    "full": ["alpha:start", "alpha:read", "alpha:schedule", "beta:schedule", "beta:read"],
    "reader": ["alpha:read", "alpha:start"],
    "scheduler": ["alpha:schedule"],
    "scheduler2": ["alpha:schedule"],
    "outsider": ["beta:read", "beta:schedule"],
    "admin": ["gateway:admin"],
})  # fmt: skip
auth = KEYS.auth


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def shop(task_queue: str, path: str | None = None, **spec: Any):
    """The shipped shopping route (its real, quick workflow) serving schedules, under a path
    and prefix of the test's own."""
    path = path or unique("shop")
    fields = {"workflow_id": {"prefix": f"{path}-"}, "operations": SCHEDULING, **spec}
    return shopping_route(task_queue, path=path, **fields)


def grants(name: str, **extra: Any) -> dict[str, Any]:
    return {
        **{a.value: {"scopes": [f"{name}:{a.value}"]} for a in (Access.START, Access.READ,
                                                                   Access.SCHEDULE)},
        **extra,
    }  # fmt: skip


async def created(api: httpx.AsyncClient, path: str, body: dict, **headers: str) -> dict:
    response = await api.post(f"/workflows/{path}/schedules", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json() | {"etag": response.headers["etag"]}


async def workflow_count(api: httpx.AsyncClient, query: str, **headers: str) -> int:
    response = await api.get("/workflows/count", params={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count


async def listed(api: httpx.AsyncClient, **params: Any) -> list[str]:
    headers = params.pop("headers", None)
    response = await api.get("/schedules", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [s["schedule_id"] for s in response.json()["schedules"]]


async def test_every_action_of_a_schedule(temporal_server, task_queue) -> None:
    route = shop(task_queue)
    path = route.spec.path
    async with api_client(temporal_server.address, [route]) as api:
        body = {
            "input": ITEMS,
            "spec": {**NIGHTLY, "intervals": [{"every_seconds": 86400, "offset_seconds": 7200}],
                     "jitter_seconds": 30, "start_time": "2026-01-01T00:00:00Z",
                     "end_time": "2099-01-01T00:00:00+01:00"},
            "policy": {"overlap": "BufferOne", "catchup_window_seconds": 600,
                       "pause_on_failure": True},
        }  # fmt: skip
        response = await api.post(
            f"/workflows/{path}/schedules", json=body, headers={"Idempotency-Key": "nightly"}
        )
        assert response.status_code == 201, response.text
        schedule = response.json()
        sid = schedule["schedule_id"]
        # The route's prefix, the caller's scope and its key: the route's, by id.
        assert sid == f"{path}-{scope('anonymous')}.nightly"
        assert response.headers["location"] == f"/schedules/{sid}"
        etag = response.headers["etag"]
        assert schedule["route"] == route.name
        assert schedule["workflow_type"] == "ShoppingWorkflow"
        assert schedule["task_queue"] == task_queue
        assert schedule["input"] == ITEMS
        assert schedule["spec"] == {
            "cron_expressions": ["0 3 * * *"],
            "intervals": [{"every_seconds": 86400, "offset_seconds": 7200}],
            "time_zone": "Europe/Paris", "jitter_seconds": 30,
            "start_time": "2026-01-01T00:00:00Z", "end_time": "2098-12-31T23:00:00Z",
        }  # fmt: skip
        assert schedule["policy"] == {
            "overlap": "BufferOne", "catchup_window_seconds": 600, "pause_on_failure": True
        }  # fmt: skip
        assert schedule["paused"] is False
        assert schedule["next_action_times"]
        assert schedule["created_by"] == "anonymous"
        assert schedule["managed_by"] is None

        # The same key and body: the same schedule (200); another body: 422.
        again = await api.post(
            f"/workflows/{path}/schedules", json=body, headers={"Idempotency-Key": "nightly"}
        )
        assert again.status_code == 200, again.text
        assert again.json()["schedule_id"] == sid
        other = await api.post(
            f"/workflows/{path}/schedules",
            json={**body, "input": {"items": [{"fruit": "BANANA", "amount": 1}]}},
            headers={"Idempotency-Key": "nightly"},
        )
        assert other.status_code == 422, other.text
        assert other.json()["code"] == "idempotency-key-reused"

        described = await api.get(f"/schedules/{sid}")
        assert described.status_code == 200
        assert described.headers["etag"] == etag
        head = await api.head(f"/schedules/{sid}")
        assert (head.status_code, head.content) == (200, b"")

        # Update: a stale ETag is 412 and changes nothing; the current one applies.
        changed = {"input": {"items": [{"fruit": "ORANGE", "amount": 3}]},
                   "spec": {"cron_expressions": ["30 4 * * MON-FRI"]}}  # fmt: skip
        stale = await api.put(f"/schedules/{sid}", json=changed, headers={"If-Match": '"AAAA"'})
        assert stale.status_code == 412, stale.text
        assert stale.json()["code"] == "precondition-failed"
        assert stale.json()["schedule_id"] == sid
        updated = await api.put(f"/schedules/{sid}", json=changed, headers={"If-Match": etag})
        assert updated.status_code == 200, updated.text
        assert updated.headers["etag"] != etag
        assert updated.json()["input"] == changed["input"]
        assert updated.json()["spec"]["cron_expressions"] == ["30 4 * * 1-5"]
        assert updated.json()["spec"]["time_zone"] is None
        assert updated.json()["policy"]["overlap"] == "Skip"
        # The ETag it was updated with has moved on.
        late = await api.put(f"/schedules/{sid}", json=changed, headers={"If-Match": etag})
        assert late.status_code == 412, late.text

        # Pause and unpause with a note.
        paused = await api.post(f"/schedules/{sid}/pause", json={"note": "supplier closed"})
        assert paused.json() == {"schedule_id": sid, "paused": True, "note": "supplier closed"}
        now = (await api.get(f"/schedules/{sid}")).json()
        assert (now["paused"], now["note"]) == (True, "supplier closed")
        unpaused = await api.post(f"/schedules/{sid}/unpause")
        assert unpaused.status_code == 200, unpaused.text
        assert unpaused.json()["note"] == "unpaused by anonymous through the gateway"
        assert (await api.get(f"/schedules/{sid}")).json()["paused"] is False

        # Trigger: the workflow it starts is the route's, read through the gateway.
        triggered = await api.post(f"/schedules/{sid}/trigger")
        assert triggered.status_code == 202, triggered.text

        async def ran() -> list[dict]:
            runs: list[dict] = (await api.get(f"/schedules/{sid}")).json()["recent_actions"]
            return runs

        (run,) = await assert_eventually(ran)
        assert run["workflow_id"].startswith(f"{sid}-")
        result = await api.get(f"/workflows/{run['workflow_id']}/result", params={"wait": 10})
        assert result.status_code == 200, result.text
        assert result.json()["result"] == "Ordered 3 Oranges..."
        desc = (await api.get(f"/workflows/{run['workflow_id']}")).json()
        assert desc["route"] == route.name
        assert desc["memo"][memo.ROUTE] == route.name
        assert desc["memo"][memo.ROUTE_PATH] == path
        assert desc["memo"][memo.PRINCIPAL] == "anonymous"

        # Listed, with the route named.
        async def in_list() -> bool:
            return sid in await listed(api, route=path)

        await assert_eventually(in_list)

        deleted = await api.delete(f"/schedules/{sid}")
        assert deleted.json() == {"schedule_id": sid, "status": "deleted"}
        gone = await api.get(f"/schedules/{sid}")
        assert gone.status_code == 404
        assert gone.json()["code"] == "schedule-not-found"
        # The workflow it started is still there.
        assert (await api.get(f"/workflows/{run['workflow_id']}/status")).status_code == 200


async def test_a_backfill_runs_each_workflow_of_the_range(temporal_server, task_queue) -> None:
    route = shop(task_queue)
    path = route.spec.path
    async with api_client(temporal_server.address, [route]) as api:
        hourly = {"input": ITEMS, "spec": {"intervals": [{"every_seconds": 3600}]},
                  "paused": True}  # fmt: skip
        sid = (await created(api, path, hourly))["schedule_id"]
        # Temporal's range starts after start_time and ends at end_time: five whole hours.
        response = await api.post(
            f"/schedules/{sid}/backfill",
            json={"start_time": "2025-12-31T23:30:00Z", "end_time": "2026-01-01T04:30:00+00:00"},
        )
        assert response.status_code == 202, response.text
        assert response.json() == {"schedule_id": sid, "status": "backfilling"}
        query = f"WorkflowId STARTS_WITH '{sid}-2026-01-01T0'"

        async def all_completed() -> bool:
            done = await workflow_count(api, f"{query} AND ExecutionStatus = 'Completed'")
            return done == 5

        await assert_eventually(all_completed, timeout=60)
        assert await workflow_count(api, query) == 5  # and no more
        ids = {f"{sid}-2026-01-01T0{h}:00:00Z" for h in range(5)}
        listing = await api.get("/workflows", params={"query": query, "page_size": 10})
        assert {w["workflow_id"] for w in listing.json()["workflows"]} == ids
        # A paused schedule still backfills; it ran nothing else.
        assert (await api.get(f"/schedules/{sid}")).json()["paused"] is True


async def test_bodies_that_do_not_fit_never_reach_temporal(temporal_server, task_queue) -> None:
    route = shop(task_queue)
    path = route.spec.path
    async with api_client(temporal_server.address, [route]) as api:
        cases = [
            ({"input": {"items": [{"fruit": "KIWI", "amount": 1}]}, "spec": NIGHTLY},
             "input.items[0].fruit"),
            ({"input": {"items": []}, "spec": NIGHTLY}, "input.items"),
            ({"spec": NIGHTLY}, "input"),
            ({"input": ITEMS, "spec": {}}, "spec"),
            ({"input": ITEMS, "spec": {"cron_expressions": ["0 3 * *"]}},
             "spec.cron_expressions[0]"),
            ({"input": ITEMS, "spec": {"cron_expressions": ["0 0 * * 5#3"]}},
             "spec.cron_expressions[0]"),
            ({"input": ITEMS, "spec": {"cron_expressions": ["@daily", "@every 1h"]}},
             "spec.cron_expressions[1]"),
            ({"input": ITEMS, "spec": {**NIGHTLY, "time_zone": "Mars/Olympus"}},
             "spec.time_zone"),
            ({"input": ITEMS, "spec": {"cronExpressions": ["0 3 * * *"]}},
             "spec.cronExpressions"),
            ({"input": ITEMS, "spec": {"intervals": [{"every_seconds": 60,
                                                      "offset_seconds": 60}]}},
             "spec.intervals[0]"),
            ({"input": ITEMS, "spec": NIGHTLY, "policy": {"overlap": "Sometimes"}},
             "policy.overlap"),
            # Temporal's own check: a field out of range.
            ({"input": ITEMS, "spec": {"cron_expressions": ["61 * * * *"]}}, "spec"),
        ]  # fmt: skip
        for body, field in cases:
            response = await api.post(f"/workflows/{path}/schedules", json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["code"] == "validation-error"
            assert field in [e["field"] for e in response.json()["errors"]], response.json()
        assert await listed(api, route=path) == []


async def test_concurrent_updates_with_one_etag(temporal_server, task_queue) -> None:
    route = shop(task_queue)
    path = route.spec.path
    async with api_client(temporal_server.address, [route]) as api:
        first = await created(api, path, {"input": ITEMS, "spec": NIGHTLY})
        sid, etag = first["schedule_id"], first["etag"]
        a = {"input": ITEMS, "spec": {"cron_expressions": ["0 1 * * *"]}}
        b = {"input": ITEMS, "spec": {"cron_expressions": ["0 2 * * *"]}}
        ok = await api.put(f"/schedules/{sid}", json=a, headers={"If-Match": etag})
        late = await api.put(f"/schedules/{sid}", json=b, headers={"If-Match": etag})
        assert (ok.status_code, late.status_code) == (200, 412)
        now = (await api.get(f"/schedules/{sid}")).json()
        assert now["spec"]["cron_expressions"] == ["0 1 * * *"]
        # `*` matches any current ETag; without If-Match the update applies as well.
        star = await api.put(f"/schedules/{sid}", json=b, headers={"If-Match": "*"})
        assert star.status_code == 200, star.text
        unconditional = await api.put(f"/schedules/{sid}", json=a)
        assert unconditional.status_code == 200, unconditional.text
        await api.delete(f"/schedules/{sid}")


@pytest.fixture
async def guarded(temporal_server, task_queue, keys_file):
    """Two routes that serve schedules, alpha and beta, each with its grants."""
    alpha = shop(task_queue, unique("alpha"), authorization=grants("alpha"))
    beta = shop(task_queue, unique("beta"), authorization=grants("beta"))
    async with api_client(
        temporal_server.address, [alpha, beta], auth_disabled=False, keys_file=keys_file
    ) as api:
        yield api, alpha.spec.path, beta.spec.path


async def test_who_may_do_what(guarded) -> None:
    api, alpha, beta = guarded
    body = {"input": ITEMS, "spec": NIGHTLY, "paused": True}
    # Without the schedule grant: no create (403, as for a start) ...
    refused = await api.post(f"/workflows/{alpha}/schedules", json=body, headers=auth("reader"))
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "forbidden"
    mine = (await created(api, alpha, body, **auth("scheduler")))["schedule_id"]
    theirs = (await created(api, beta, body, **auth("full")))["schedule_id"]
    missing = f"{alpha}-{uuid.uuid4().hex}"

    # ... no list (nothing listed; naming the route it may read: 403) ...
    assert await listed(api, headers=auth("reader")) == []
    named = await api.get("/schedules", params={"route": alpha}, headers=auth("reader"))
    assert named.status_code == 403, named.text
    # ... and, by id, 403 to a reader of the route, the 404 of a missing one to anyone else.
    for method, suffix, payload in [
        ("POST", "/trigger", None), ("GET", "", None), ("POST", "/pause", None),
        ("PUT", "", body), ("DELETE", "", None), ("POST", "/unpause", None),
        ("POST", "/backfill", {"start_time": "2026-01-01T00:00:00Z",
                               "end_time": "2026-01-02T00:00:00Z"}),
    ]:  # fmt: skip
        denied = await api.request(method, f"/schedules/{mine}{suffix}", json=payload,
                                   headers=auth("reader"))  # fmt: skip
        assert denied.status_code == 403, (method, suffix, denied.text)
        hidden = await api.request(method, f"/schedules/{mine}{suffix}", json=payload,
                                   headers=auth("outsider"))  # fmt: skip
        absent = await api.request(method, f"/schedules/{missing}{suffix}", json=payload,
                                   headers=auth("outsider"))  # fmt: skip
        assert hidden.status_code == absent.status_code == 404, hidden.text
        assert hidden.json()["code"] == absent.json()["code"] == "schedule-not-found"

    # A caller never sees another route's schedules.
    async def each_sees_its_own() -> bool:
        return (
            await listed(api, headers=auth("scheduler")) == [mine]
            and await listed(api, headers=auth("outsider")) == [theirs]
            and {mine, theirs} <= set(await listed(api, headers=auth("admin"), page_size=100))
        )

    await assert_eventually(each_sees_its_own)
    hidden_route = await api.get("/schedules", params={"route": beta}, headers=auth("scheduler"))
    assert hidden_route.status_code == 404, hidden_route.text

    # The refused trigger started nothing: the sentinel, triggered after it, is all that ran.
    sentinel = await api.post(f"/schedules/{mine}/trigger", headers=auth("scheduler"))
    assert sentinel.status_code == 202, sentinel.text

    async def runs() -> list[dict]:
        found = await api.get(f"/schedules/{mine}", headers=auth("scheduler"))
        actions: list[dict] = found.json()["recent_actions"]
        return actions

    assert len(await assert_eventually(runs)) == 1
    query = f"WorkflowId STARTS_WITH '{mine}-'"

    async def one_ran() -> bool:
        return await workflow_count(api, query, **auth("full")) == 1

    await assert_eventually(one_ran)
    # The schedule's workflows are read with `read`: a scheduler without it sees none.
    assert await workflow_count(api, query, **auth("scheduler")) == 0
    for sid, who in ((mine, "scheduler"), (theirs, "full")):
        assert (await api.delete(f"/schedules/{sid}", headers=auth(who))).status_code == 200


async def test_on_an_owner_only_route_a_caller_reaches_its_own(
    temporal_server, task_queue, keys_file
) -> None:
    alpha = shop(task_queue, unique("alpha"), authorization=grants("alpha", ownerOnly=True))
    path = alpha.spec.path
    async with api_client(
        temporal_server.address, [alpha], auth_disabled=False, keys_file=keys_file
    ) as api:
        body = {"input": ITEMS, "spec": NIGHTLY, "paused": True}
        first = (await created(api, path, body, **auth("scheduler")))["schedule_id"]
        keyed = await created(api, path, body, **auth("scheduler"), **{"Idempotency-Key": "k1"})
        second = (await created(api, path, body, **auth("scheduler2")))["schedule_id"]
        own = f"{path}-{scope('key:scheduler')}."
        assert first.startswith(own)
        assert keyed["schedule_id"] == f"{own}k1"
        assert second.startswith(f"{path}-{scope('key:scheduler2')}.")
        # By id, another caller's is missing; in lists, absent.
        for sid, stranger in ((first, "scheduler2"), (second, "scheduler")):
            other = await api.get(f"/schedules/{sid}", headers=auth(stranger))
            assert other.status_code == 404, other.text

        async def lists() -> bool:
            return (
                set(await listed(api, headers=auth("scheduler"))) == {first, keyed["schedule_id"]}
                and await listed(api, headers=auth("scheduler2")) == [second]
                and {first, second} <= set(await listed(api, headers=auth("admin")))
            )

        await assert_eventually(lists)
        # The workflows a schedule starts carry the creator's scope too: its own to read.
        triggered = await api.post(f"/schedules/{first}/trigger", headers=auth("scheduler"))
        assert triggered.status_code == 202
        for sid in (first, keyed["schedule_id"], second):
            await api.delete(f"/schedules/{sid}", headers=auth("admin"))


async def _temporal_schedule(
    client: Client, route, schedule_id: str, *, workflow_type: str | None = None,
    managed_by: str | None = None,
) -> None:  # fmt: skip
    """A schedule made in Temporal directly, as another program (or the operator) would."""
    settings = ScheduleSettings.model_validate({"input": ITEMS, "spec": NIGHTLY, "paused": True})
    encoded = await encode_action(
        client.data_converter, route, settings, principal="k8s:shop", managed_by=managed_by
    )
    schedule = build(route, settings, encoded, schedule_id=schedule_id, paused=True, note=None)
    if workflow_type is not None:
        assert isinstance(schedule.action, temporal.ScheduleActionStartWorkflow)
        schedule.action.workflow = workflow_type
    await client.create_schedule(schedule_id, schedule, memo=dict(encoded.schedule_memo))


async def test_a_schedule_is_the_routes_by_prefix_and_type(
    temporal_server, task_queue, client
) -> None:
    route = shop(task_queue)
    path = route.spec.path
    async with api_client(temporal_server.address, [route]) as api:
        payroll = f"{path}-payroll"
        await _temporal_schedule(client, route, payroll, workflow_type="PayrollWorkflow")
        sentinel = await created(api, path, {"input": ITEMS, "spec": NIGHTLY, "paused": True})
        for method, suffix in (("GET", ""), ("POST", "/trigger"), ("DELETE", "")):
            response = await api.request(method, f"/schedules/{payroll}{suffix}")
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "schedule-not-found"

        async def only_the_routes() -> bool:
            return await listed(api, route=path) == [sentinel["schedule_id"]]

        await assert_eventually(only_the_routes)
        await client.get_schedule_handle(payroll).delete()


async def test_a_resources_schedule_is_changed_through_the_resource(
    temporal_server, task_queue, client
) -> None:
    route = shop(task_queue)
    async with api_client(temporal_server.address, [route]) as api:
        sid = f"{route.spec.path}-managed"
        await _temporal_schedule(client, route, sid, managed_by="WorkflowSchedule shop/nightly")
        described = (await api.get(f"/schedules/{sid}")).json()
        assert described["managed_by"] == "WorkflowSchedule shop/nightly"
        assert described["created_by"] == "k8s:shop"
        body = {"input": ITEMS, "spec": NIGHTLY}
        changes = [("PUT", "", body), ("POST", "/pause", None), ("POST", "/unpause", None),
                   ("DELETE", "", None)]  # fmt: skip
        for method, suffix, payload in changes:
            refused = await api.request(method, f"/schedules/{sid}{suffix}", json=payload)
            assert refused.status_code == 409, refused.text
            assert refused.json()["code"] == "schedule-managed"
            assert refused.json()["managed_by"] == "WorkflowSchedule shop/nightly"
        # What changes nothing is allowed.
        assert (await api.post(f"/schedules/{sid}/trigger")).status_code == 202
        end = datetime.now(UTC)
        backfill = {"start_time": (end - timedelta(days=1)).isoformat(),
                    "end_time": end.isoformat()}  # fmt: skip
        assert (await api.post(f"/schedules/{sid}/backfill", json=backfill)).status_code == 202
        await client.get_schedule_handle(sid).delete()


async def test_a_route_without_schedule_serves_none(temporal_server, task_queue) -> None:
    plain = shop(task_queue, operations=DEFAULT_OPERATIONS)
    path = plain.spec.path
    async with api_client(temporal_server.address, [plain]) as api:
        response = await api.post(f"/workflows/{path}/schedules",
                                  json={"input": ITEMS, "spec": NIGHTLY})  # fmt: skip
        assert response.status_code == 405, response.text
        assert response.json()["code"] == "operation-not-allowed"
        by_id = await api.get(f"/schedules/{path}-x")
        assert by_id.status_code == 405, by_id.text
        assert await listed(api) == []  # without a call to Temporal: no route serves schedules


def schedule_actions(route: str) -> Counter[tuple[str, ...]]:
    return counted("temporal_gateway_schedule_actions_total", "action", "outcome", route=route)


async def test_each_action_is_counted_by_route_action_and_outcome(
    temporal_server, task_queue, client
) -> None:
    """``temporal_gateway_schedule_actions_total{route, action, outcome}`` moves once for each
    request, with the outcome docs/observability.md gives it."""
    route = shop(task_queue)
    path = route.spec.path
    before = schedule_actions(route.name)
    async with api_client(temporal_server.address, [route]) as api:
        body = {"input": ITEMS, "spec": NIGHTLY}
        key = {"Idempotency-Key": "counted"}
        first = await api.post(f"/workflows/{path}/schedules", json=body, headers=key)
        assert first.status_code == 201, first.text
        sid, etag = first.json()["schedule_id"], first.headers["etag"]
        again = await api.post(f"/workflows/{path}/schedules", json=body, headers=key)
        assert again.status_code == 200, again.text
        bad = await api.post(f"/workflows/{path}/schedules", json={**body, "spec": {}})
        assert bad.status_code == 422, bad.text
        assert (await api.get(f"/schedules/{sid}")).status_code == 200
        stale = await api.put(f"/schedules/{sid}", json=body, headers={"If-Match": '"AAAA"'})
        assert stale.status_code == 412, stale.text
        updated = await api.put(f"/schedules/{sid}", json=body, headers={"If-Match": etag})
        assert updated.status_code == 200, updated.text
        assert (await api.post(f"/schedules/{sid}/pause")).status_code == 200
        assert (await api.post(f"/schedules/{sid}/unpause")).status_code == 200
        assert (await api.post(f"/schedules/{sid}/trigger")).status_code == 202
        # An hour with no 03:00 in it: nothing to run.
        hour = {"start_time": "2026-01-01T10:00:00Z", "end_time": "2026-01-01T11:00:00Z"}
        assert (await api.post(f"/schedules/{sid}/backfill", json=hour)).status_code == 202
        assert (await api.delete(f"/schedules/{sid}")).status_code == 200
        # A resource's schedule: refused (409 schedule-managed), not a conflict to retry.
        managed = f"{path}-managed"
        await _temporal_schedule(client, route, managed, managed_by="WorkflowSchedule shop/n")
        refused = await api.put(f"/schedules/{managed}", json=body)
        assert refused.json()["code"] == "schedule-managed", refused.text
        await client.get_schedule_handle(managed).delete()
    assert schedule_actions(route.name) - before == {
        ("create", "ok"): 1,
        ("create", "existing"): 1,
        ("create", "rejected"): 1,
        ("describe", "ok"): 1,
        ("update", "conflict"): 1,
        ("update", "ok"): 1,
        ("update", "rejected"): 1,
        ("pause", "ok"): 1,
        ("unpause", "ok"): 1,
        ("trigger", "ok"): 1,
        ("backfill", "ok"): 1,
        ("delete", "ok"): 1,
    }


async def test_pause_on_failure_pauses_after_a_run_that_failed(temporal_server, task_queue) -> None:
    """``policy.pause_on_failure``: a run that fails (FailingWorkflow raises an application
    error) pauses the schedule in Temporal, and describe says so, with Temporal's note. Its
    twin without the policy, whose run failed as well, is still running once the first has
    paused (the positive signal that a pause would have happened by then)."""
    path = unique("failing")
    failing = route(path, "FailingWorkflow", task_queue, workflow_id={"prefix": f"{path}-"},
                    operations=SCHEDULING)  # fmt: skip
    async with api_client(temporal_server.address, [failing]) as api:
        hourly = {"input": {}, "spec": {"intervals": [{"every_seconds": 3600}]}}
        careful = await created(api, path, {**hourly, "policy": {"pause_on_failure": True}})
        plain = await created(api, path, hourly)
        for sid in (careful["schedule_id"], plain["schedule_id"]):
            assert (await api.post(f"/schedules/{sid}/trigger")).status_code == 202

        async def failed(sid: str) -> int:
            query = f"WorkflowId STARTS_WITH '{sid}-' AND ExecutionStatus = 'Failed'"
            return await workflow_count(api, query)

        async def paused(sid: str) -> dict | None:
            described = (await api.get(f"/schedules/{sid}")).json()
            return described if described["paused"] else None

        for sid in (careful["schedule_id"], plain["schedule_id"]):
            await assert_eventually(lambda sid=sid: failed(sid), timeout=30)
        described = await assert_eventually(lambda: paused(careful["schedule_id"]), timeout=30)
        assert described["note"].startswith("paused due to workflow failure"), described
        assert await paused(plain["schedule_id"]) is None
