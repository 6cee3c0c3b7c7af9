"""WorkflowRoutes end to end on a real control plane: kubectl apply → the operator (a real
process, as its ServiceAccount with the shipped RBAC) → the route's Accepted condition → the API
(a real process watching WorkflowRoutes as its own ServiceAccount) → a real workflow on a real
Temporal."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import httpx
import pytest
from temporalio import client as temporal
from temporalio.service import RPCError, RPCStatusCode

from gateway_core.memo import scope
from gateway_core.routes import DEFAULT_OPERATIONS
from gateway_core.schedules import spec_of
from support.kube import apply, server_clock, wait_for_condition
from support.kube_processes import LEASE, NS
from support.procs import ROOT, ApiProcess, eventually

pytestmark = pytest.mark.e2e

ITEMS = {"items": [{"fruit": "APPLE", "amount": 2}]}


def route_doc(name: str, path: str | None = None, namespace: str = "default", **spec: Any):
    return {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "path": path or name,
            "workflowType": "ShoppingWorkflow",
            "taskQueue": "shopping-task-queue",
            "workflowId": {"prefix": f"{name}-"},
            **spec,
        },
    }


def post(api: ApiProcess, path: str, body: Any = ITEMS, suffix: str = "") -> httpx.Response:
    return httpx.post(f"{api.url}/workflows/{path}{suffix}", json=body, timeout=30)


def serves(api: ApiProcess, path: str) -> bool:
    response = post(api, path)
    return response.status_code == 200 and response.json()["status"] == "completed"


def test_shipped_samples_become_ready_and_serve(plane, kube_api) -> None:
    plane.kubectl("apply", "-f", str(ROOT / "k8s" / "routes"))
    for name in ("orders", "shopping"):
        wait_for_condition(plane, "default", name, "Ready", "True")
    listing = plane.kubectl("get", "workflowroutes", "-A").splitlines()
    header, rows = listing[0].split(), [line.split()[:6] for line in listing[1:]]
    assert header[:6] == ["NAMESPACE", "NAME", "PATH", "WORKFLOW", "TYPE", "TASK"]
    assert rows == [
        ["default", "orders", "orders", "OrderWorkflow", "shopping-task-queue", "True"],
        ["default", "shopping", "shopping", "ShoppingWorkflow", "shopping-task-queue", "True"],
    ]
    eventually(lambda: serves(kube_api, "shopping"))
    seed = post(
        kube_api,
        "shopping",
        {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]},
    )
    assert seed.json()["result"] == "Ordered 5 Apples...Ordered 3 Bananas..."
    ready = httpx.get(kube_api.url + "/readyz").json()
    assert ready["routes_current"] is True


def test_applied_route_serves_within_seconds(plane, kube_api) -> None:
    """Times `kubectl apply` to the first successful request through the API."""
    timings = []
    for i in range(5):
        name = f"timed-{i}"
        started = time.monotonic()
        apply(plane, [route_doc(name)])
        eventually(lambda name=name: serves(kube_api, name), timeout=30, interval=0.05)
        timings.append(time.monotonic() - started)
    median = statistics.median(timings)
    print(f"\nkubectl apply → first 200: median {median:.2f}s of {[round(t, 2) for t in timings]}")
    assert median < 10
    for i in range(5):
        plane.kubectl("delete", "workflowroute", f"timed-{i}")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"path": "Bad_Path"}, "spec.path"),
        ({"syncWaitSeconds": 0}, "spec.syncWaitSeconds"),
        ({"syncWaitSeconds": 301}, "spec.syncWaitSeconds"),
        ({"operations": ["explode"]}, "spec.operations[0]"),
        ({"operations": []}, "spec.operations"),
        ({"workflowId": {"reusePolicy": "Sometimes"}}, "spec.workflowId.reusePolicy"),
        ({"workflowId": {"template": "fixed-id"}}, "spec.workflowId.template"),
        ({"workflowType": ""}, "spec.workflowType"),
        ({"runTimeoutSeconds": 60, "executionTimeoutSeconds": 30}, "spec.runTimeoutSeconds"),
        ({"authorization": {"start": {}}}, "spec.authorization.start"),
        ({"authorization": {"read": {"scopes": [], "groups": []}}}, "spec.authorization.read"),
        ({"authorization": {"start": {"scopes": ["has space"]}}}, "spec.authorization.start"),
        ({"authorization": {"start": {"scopes": ["a", "a"]}}}, "spec.authorization.start"),
        ({"operations": ["start", "start"]}, "spec.operations[1]"),
        ({"executionTimeoutSeconds": 31536001}, "spec.executionTimeoutSeconds"),
        ({"workflowId": {"prefix": ""}}, "spec.workflowId.prefix"),
        ({"signals": [{"name": "has space"}]}, "spec.signals[0].name"),
        ({"queries": [{"name": "1st"}]}, "spec.queries[0].name"),
        ({"signals": [{"description": "no name"}]}, "spec.signals[0].name"),
        ({"updates": [{"name": "go"}, {"name": "go"}]}, "spec.updates[1]"),
        ({"signals": [{"name": "go", "inputSchema": "object"}]}, "spec.signals[0].inputSchema"),
    ],
)
def test_invalid_route_is_refused_by_the_api_server(plane, spec, field) -> None:
    done = plane.kubectl_result("apply", "-f", "-", input=json.dumps(route_doc("invalid", **spec)))
    assert done.returncode != 0
    assert field in done.stderr, done.stderr
    assert plane.kubectl_result("get", "workflowroute", "invalid").returncode != 0


def test_path_conflict_is_shown_and_resolved(plane, kube_api) -> None:
    apply(plane, [route_doc("first", "contested")])
    wait_for_condition(plane, "default", "first", "Ready", "True")
    # Creation timestamps have one-second resolution: "second" must be younger on the server's
    # own clock (not only by the namespace/name tie-break), so wait until it would be.
    created = plane.get_json("workflowroute", "first")["metadata"]["creationTimestamp"]
    eventually(lambda: server_clock(plane) > created)
    apply(plane, [route_doc("second", "contested", namespace=NS)])
    second = plane.get_json("workflowroute", "second", "-n", NS)
    assert second["metadata"]["creationTimestamp"] > created
    refused = wait_for_condition(plane, NS, "second", "Accepted", "False")
    assert refused["reason"] == "PathConflict"
    assert "default/first" in refused["message"]
    wide = plane.kubectl("get", "wfr", "second", "-n", NS, "-o", "wide")
    assert "PathConflict" in wide
    assert "False" in wide.splitlines()[1]
    eventually(lambda: post(kube_api, "contested").json()["workflow_id"].startswith("first-"))

    plane.kubectl("delete", "workflowroute", "first")
    wait_for_condition(plane, NS, "second", "Ready", "True")
    eventually(
        lambda: post(kube_api, "contested").json().get("workflow_id", "").startswith("second-")
    )
    plane.kubectl("delete", "workflowroute", "second", "-n", NS)


def test_overlapping_id_prefix_is_shown_and_resolved(plane, kube_api) -> None:
    # Same creation second or not, the tie-break (namespace/name) keeps "prefixed" the older.
    apply(plane, [route_doc("prefixed", workflowId={"prefix": "pfx-"})])
    wait_for_condition(plane, "default", "prefixed", "Ready", "True")
    apply(plane, [route_doc("prefixed-more", workflowId={"prefix": "pfx-more-"})])
    refused = wait_for_condition(plane, "default", "prefixed-more", "Accepted", "False")
    assert refused["reason"] == "IdPrefixConflict"
    assert "default/prefixed" in refused["message"]
    assert "'pfx-more-'" in refused["message"]
    assert "'pfx-'" in refused["message"]
    assert "IdPrefixConflict" in plane.kubectl("get", "wfr", "prefixed-more", "-o", "wide")
    eventually(lambda: serves(kube_api, "prefixed"))

    apply(plane, [route_doc("prefixed-more", workflowId={"prefix": "more-"})])
    wait_for_condition(plane, "default", "prefixed-more", "Ready", "True")
    eventually(lambda: serves(kube_api, "prefixed-more"))
    plane.kubectl("delete", "workflowroute", "prefixed", "prefixed-more")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"inputSchema": {"type": "objekt"}}, "spec.inputSchema.type"),
        (
            {"signals": [{"name": "go", "inputSchema": {"type": "objekt"}}]},
            "spec.signals[0].inputSchema.type",
        ),
    ],
)
def test_schema_that_does_not_compile_is_not_accepted(plane, spec, field) -> None:
    apply(plane, [route_doc("uncompilable", **spec)])
    condition = wait_for_condition(plane, "default", "uncompilable", "Accepted", "False")
    assert condition["reason"] == "InvalidSchema"
    assert condition["message"].startswith(f"{field}: "), condition["message"]
    plane.kubectl("delete", "workflowroute", "uncompilable")


def test_edit_changes_the_live_route_and_delete_makes_it_404(plane, kube_api) -> None:
    schema = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "maxItems": 1}},
    }
    two = {"items": [{"fruit": "APPLE", "amount": 1}, {"fruit": "ORANGE", "amount": 2}]}
    apply(plane, [route_doc("editable", inputSchema=schema)])
    eventually(lambda: post(kube_api, "editable", two).status_code == 422)

    schema["properties"]["items"]["maxItems"] = 3
    apply(plane, [route_doc("editable", inputSchema=schema)])
    wait_for_condition(plane, "default", "editable", "Ready", "True")
    eventually(lambda: post(kube_api, "editable", two).status_code == 200)
    assert (
        post(kube_api, "editable", two).json()["result"] == "Ordered 1 Apple...Ordered 2 Oranges..."
    )

    plane.kubectl("delete", "workflowroute", "editable")
    eventually(lambda: post(kube_api, "editable", two).status_code == 404)
    assert post(kube_api, "editable", two).json()["code"] == "route-not-found"


def test_operator_has_only_the_permissions_it_needs(plane) -> None:
    sa = f"system:serviceaccount:{NS}:temporal-gateway-operator"

    def can(*args: str) -> bool:
        done = plane.kubectl_result("auth", "can-i", *args, "--as", sa)
        return done.stdout.strip() == "yes"

    assert can("watch", "workflowroutes.temporal-gateway.dev", "-A")
    assert can("patch", "workflowroutes.temporal-gateway.dev", "--subresource=status", "-n", "x")
    assert can("update", f"lease.coordination.k8s.io/{LEASE}", "-n", NS)
    # WorkflowSchedules: read, their status, and patch (their finalizer); never delete them.
    assert can("watch", "workflowschedules.temporal-gateway.dev", "-A")
    assert can("patch", "workflowschedules.temporal-gateway.dev", "-n", "x")
    assert can("patch", "workflowschedules.temporal-gateway.dev", "--subresource=status", "-n", "x")
    assert not can("delete", "workflowschedules.temporal-gateway.dev", "-n", "default")
    assert not can("create", "workflowschedules.temporal-gateway.dev", "-n", "default")
    assert not can("update", "workflowroutes.temporal-gateway.dev", "-n", "default")
    assert not can("delete", "workflowroutes.temporal-gateway.dev", "-n", "default")
    assert not can("update", "lease.coordination.k8s.io/other", "-n", NS)
    assert not can("update", f"lease.coordination.k8s.io/{LEASE}", "-n", "default")
    assert not can("get", "configmaps", "-n", NS)
    assert not can("get", "secrets", "-n", NS)
    assert not can("list", "pods", "-A")


def test_api_may_only_read_workflowroutes(plane) -> None:
    sa = f"system:serviceaccount:{NS}:temporal-gateway-api"

    def can(*args: str) -> bool:
        done = plane.kubectl_result("auth", "can-i", *args, "--as", sa)
        return done.stdout.strip() == "yes"

    for verb in ("get", "list", "watch"):
        assert can(verb, "workflowroutes.temporal-gateway.dev", "-A")
    assert not can("patch", "workflowroutes.temporal-gateway.dev", "--subresource=status", "-A")
    assert not can("update", "workflowroutes.temporal-gateway.dev", "-n", "default")
    assert not can("get", "configmaps", "-n", NS)
    assert not can("get", "secrets", "-n", NS)
    assert not can("list", "pods", "-A")


def operator_log(operator, event: str) -> list[dict[str, Any]]:
    """The operator's JSON log lines for ``event``, from its current process."""
    lines = (json.loads(line) for line in operator.log().splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("event") == event]


def test_operator_restart_loses_and_rewrites_nothing(plane, operator, kube_api) -> None:
    apply(plane, [route_doc("durable")])
    wait_for_condition(plane, "default", "durable", "Ready", "True")
    eventually(lambda: serves(kube_api, "durable"))

    def versions() -> dict[str, str]:
        routes = plane.get_json("workflowroutes", "-A")["items"]
        return {
            f"{r['metadata']['namespace']}/{r['metadata']['name']}": r["metadata"][
                "resourceVersion"
            ]
            for r in routes
        }

    # Our status write is itself an event. Reconciles run one at a time over every route: once
    # one that started after it has changed nothing, the operator is at rest. An annotation is
    # an event too, one that changes nothing the operator reads; the count is taken before it,
    # so the reconcile waited for came after the status write either way.
    quiet = operator.reconciles("unchanged")
    plane.kubectl("annotate", "workflowroute", "durable", "test/settled=yes")
    eventually(lambda: operator.reconciles("unchanged") > quiet)
    before = versions()
    operator.stop()
    assert serves(kube_api, "durable"), "the API keeps serving while the operator is down"
    operator.start()
    eventually(operator.leading, timeout=60, interval=0.5)
    # The sentinel: a route created after the restart, handled after the new watch's replay
    # of the others. Once it is Ready, a reconcile has run over all of them after the restart.
    apply(plane, [route_doc("sentinel", namespace=NS)])
    wait_for_condition(plane, NS, "sentinel", "Ready", "True", timeout=30)
    after = versions()
    assert after.pop(f"{NS}/sentinel")
    assert after == before, "no route's status was rewritten"
    updated = {line["route"] for line in operator_log(operator, "route status updated")}
    assert updated == {f"{NS}/sentinel"}
    assert serves(kube_api, "durable")
    eventually(lambda: serves(kube_api, "sentinel"))
    plane.kubectl("delete", "workflowroute", "durable")
    plane.kubectl("delete", "workflowroute", "sentinel", "-n", NS)


# -- WorkflowSchedules ---------------------------------------------------------------------------

SCHEDULING = [*(o.value for o in DEFAULT_OPERATIONS), "schedule"]


def schedule_doc(name: str, route: str, namespace: str = "default", **spec: Any):
    return {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowSchedule",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "route": route,
            "input": ITEMS,
            "schedule": {"cronExpressions": ["0 3 * * *"], "timeZone": "Europe/Paris"},
            **spec,
        },
    }


def wait_for_schedule(
    plane, name: str, kind: str, status: str, *, reason: str | None = None, timeout: float = 30
) -> dict[str, Any]:
    """The WorkflowSchedule's condition ``kind`` once it has ``status`` (and ``reason``) for the
    resource's current generation."""

    def check() -> dict[str, Any] | None:
        found = plane.get_json("workflowschedule", name)
        generation = found["metadata"]["generation"]
        for condition in found.get("status", {}).get("conditions", []):
            if (condition["type"], condition["status"]) == (kind, status) and (
                condition["observedGeneration"] == generation
                and reason in (None, condition["reason"])
            ):
                result: dict[str, Any] = condition
                return result
        return None

    found: dict[str, Any] = eventually(check, timeout=timeout, interval=0.2)
    return found


def in_temporal(address: str, schedule_id: str) -> temporal.ScheduleDescription | None:
    """The schedule as Temporal describes it (None: there is none)."""

    async def describe() -> temporal.ScheduleDescription | None:
        client = await temporal.Client.connect(address)
        try:
            return await client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise

    return asyncio.run(describe())


def crons(address: str, schedule_id: str) -> list[str]:
    found = in_temporal(address, schedule_id)
    assert found is not None
    return list(spec_of(found.schedule.spec)["cron_expressions"])


def events_of(plane, name: str) -> list[str]:
    listed = plane.get_json("events", "--field-selector", f"involvedObject.name={name}")
    return [event["reason"] for event in listed["items"]]


def test_a_workflow_schedule_is_kept_in_temporal(plane, operator, kube_api, stack) -> None:
    """Applied, changed, drifted in Temporal and set back, run, deleted; the operator's
    /metrics count what it did (its other schedules are other tests': counts grow)."""
    address = stack.temporal.address

    def counted(action: str) -> float:
        return operator.metric("temporal_gateway_operator_schedule_actions_total", action=action)

    writes, deletes = counted("write"), counted("delete")
    apply(plane, [route_doc("sched-shop", operations=SCHEDULING)])
    wait_for_condition(plane, "default", "sched-shop", "Ready", "True")
    apply(plane, [schedule_doc("nightly", "sched-shop")])
    wait_for_schedule(plane, "nightly", "Ready", "True")
    assert counted("write") >= writes + 1
    eventually(lambda: operator.metric("temporal_gateway_operator_schedules",
                                       reason="Scheduled") >= 1)  # fmt: skip
    found = plane.get_json("workflowschedule", "nightly")
    sid = found["status"]["scheduleId"]
    assert sid == f"sched-shop-{scope('k8s:default')}.nightly"
    assert found["metadata"]["finalizers"] == ["temporal-gateway.dev/schedule"]
    assert found["status"]["nextRunTimes"]
    assert found["status"]["paused"] is False
    assert {c["type"]: c["status"] for c in found["status"]["conditions"]} == {
        "RouteFound": "True", "Accepted": "True", "Ready": "True"
    }  # fmt: skip
    listing = plane.kubectl("get", "wfs").splitlines()
    assert listing[0].split() == ["NAME", "ROUTE", "SCHEDULE", "PAUSED", "NEXT", "RUN", "LAST",
                                  "RESULT", "READY", "AGE"]  # fmt: skip
    assert listing[1].split()[:2] == ["nightly", "sched-shop"]
    assert crons(address, sid) == ["0 3 * * *"]
    # The API sees the route's schedule, and leaves changing it to the resource.
    described = httpx.get(f"{kube_api.url}/schedules/{sid}", timeout=10)
    assert described.json()["managed_by"] == "WorkflowSchedule default/nightly"
    assert described.json()["created_by"] == "k8s:default"
    change = {"input": ITEMS, "spec": {"cron_expressions": ["0 1 * * *"]}}
    refused = httpx.put(f"{kube_api.url}/schedules/{sid}", json=change, timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (409, "schedule-managed")

    # Changed: the schedule follows the resource.
    apply(plane, [schedule_doc("nightly", "sched-shop",
                               schedule={"cronExpressions": ["30 4 * * MON-FRI"]})])  # fmt: skip
    wait_for_schedule(plane, "nightly", "Ready", "True")
    eventually(lambda: crons(address, sid) == ["30 4 * * 1-5"])

    # Drifted: changed in Temporal behind the operator's back, set back, and said so.
    async def by_hand() -> None:
        client = await temporal.Client.connect(address)

        def change(update: temporal.ScheduleUpdateInput) -> temporal.ScheduleUpdate:
            schedule = update.description.schedule
            schedule.spec = temporal.ScheduleSpec(cron_expressions=["0 0 * * *"])
            return temporal.ScheduleUpdate(schedule)

        await client.get_schedule_handle(sid).update(change)

    drifts = operator.metric("temporal_gateway_operator_schedule_drift_total")
    asyncio.run(by_hand())
    eventually(lambda: crons(address, sid) == ["30 4 * * 1-5"], timeout=30)
    eventually(lambda: "DriftCorrected" in events_of(plane, "nightly"))
    assert operator.metric("temporal_gateway_operator_schedule_drift_total") >= drifts + 1

    # Run now through the API: its workflow is the route's, and the status says how it ended.
    assert httpx.post(f"{kube_api.url}/schedules/{sid}/trigger", timeout=10).status_code == 202

    def last_run() -> dict[str, Any] | None:
        run = plane.get_json("workflowschedule", "nightly")["status"].get("lastRun") or {}
        return run if run.get("result") == "COMPLETED" else None

    run = eventually(last_run, timeout=60)
    assert run["workflowId"].startswith(f"{sid}-")
    result = httpx.get(f"{kube_api.url}/workflows/{run['workflowId']}/result", timeout=30)
    assert result.json()["result"] == "Ordered 2 Apples..."
    assert "COMPLETED" in plane.kubectl("get", "wfs", "nightly")

    # Deleted: the finalizer holds the resource until the schedule is gone from Temporal.
    plane.kubectl("delete", "workflowschedule", "nightly", "--timeout=60s")
    assert in_temporal(address, sid) is None
    assert plane.kubectl_result("get", "workflowschedule", "nightly").returncode != 0
    assert counted("delete") >= deletes + 1
    plane.kubectl("delete", "workflowroute", "sched-shop")


def test_a_schedule_whose_input_stops_fitting_is_paused_naming_the_field(
    plane, kube_api, stack
) -> None:
    """Its route's schema narrowed, then widened again; then its route deleted."""
    address = stack.temporal.address
    schema: dict[str, Any] = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "maxItems": 3}},
    }
    route = route_doc("narrowing", operations=SCHEDULING, inputSchema=schema)
    apply(plane, [route])
    wait_for_condition(plane, "default", "narrowing", "Ready", "True")
    two = {"items": [{"fruit": "APPLE", "amount": 1}, {"fruit": "ORANGE", "amount": 2}]}
    apply(plane, [schedule_doc("weekly", "narrowing", input=two)])
    wait_for_schedule(plane, "weekly", "Ready", "True")
    sid = plane.get_json("workflowschedule", "weekly")["status"]["scheduleId"]

    schema["properties"]["items"]["maxItems"] = 1
    apply(plane, [route])
    refused = wait_for_schedule(plane, "weekly", "Accepted", "False", reason="InvalidInput")
    assert refused["message"].startswith("spec.input.items: "), refused["message"]

    def paused() -> temporal.ScheduleDescription | None:
        found = in_temporal(address, sid)
        return found if found is not None and found.schedule.state.paused else None

    note = eventually(paused).schedule.state.note
    assert note is not None
    assert "spec.input.items" in note
    wait_for_schedule(plane, "weekly", "Ready", "False", reason="Paused")
    assert plane.get_json("workflowschedule", "weekly")["status"]["paused"] is True
    eventually(lambda: "SchedulePaused" in events_of(plane, "weekly"))

    schema["properties"]["items"]["maxItems"] = 3
    apply(plane, [route])
    wait_for_schedule(plane, "weekly", "Ready", "True")
    eventually(lambda: paused() is None)

    plane.kubectl("delete", "workflowroute", "narrowing")
    gone = wait_for_schedule(plane, "weekly", "RouteFound", "False", reason="RouteNotFound")
    assert "narrowing" in gone["message"]
    eventually(paused)
    # Deleted with its route gone: the schedule is found where it was written, and deleted.
    plane.kubectl("delete", "workflowschedule", "weekly", "--timeout=60s")
    assert in_temporal(address, sid) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"schedule": {}}, "spec.schedule"),
        ({"schedule": {"cronExpressions": ["every day"]}}, "spec.schedule.cronExpressions[0]"),
        ({"schedule": {"intervals": [{"everySeconds": 60, "offsetSeconds": 60}]}},
         "spec.schedule.intervals[0].offsetSeconds"),
        ({"policy": {"overlap": "Sometimes"}}, "spec.policy.overlap"),
        ({"route": "Not_A_Name"}, "spec.route"),
    ],
)  # fmt: skip
def test_invalid_schedule_is_refused_by_the_api_server(plane, spec, field) -> None:
    doc = schedule_doc("invalid", "sched-shop")
    doc["spec"].update(spec)
    done = plane.kubectl_result("apply", "-f", "-", input=json.dumps(doc))
    assert done.returncode != 0
    assert field in done.stderr, done.stderr
