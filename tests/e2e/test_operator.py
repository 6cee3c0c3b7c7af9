"""WorkflowRoutes end to end on a real control plane: kubectl apply → the operator (a real
process, as its ServiceAccount with the shipped RBAC) → the route's Accepted condition → the API
(a real process watching WorkflowRoutes as its own ServiceAccount) → a real workflow on a real
Temporal."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx
import pytest
from conftest import LEASE, NS

from support.kube import apply, server_clock, wait_for_condition
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
