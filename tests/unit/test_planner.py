"""The operator's planner, table-driven: pure data in, the writes it asks for out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway_operator.planner import ObservedRoute, WorkerObservation, plan

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"
NOW = "2026-06-01T12:00:00Z"


def route(
    name: str,
    path: str | None = None,
    *,
    created: str = T0,
    namespace: str = "apps",
    generation: int = 1,
    status: dict[str, Any] | None = None,
    **spec: Any,
) -> ObservedRoute:
    body = {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowRoute",
        "metadata": {"name": name, "namespace": namespace, "generation": generation},
        "spec": {"path": path or name, "workflowType": "W", "taskQueue": "q", **spec},
    }
    return ObservedRoute(namespace, name, generation, created, body, status or {})


def conditions(result, key: str) -> dict[str, dict[str, Any]]:
    [update] = [u for u in result.status_updates if f"{u.namespace}/{u.name}" == key]
    return {c["type"]: c for c in update.status["conditions"]}


def settled(routes: list[ObservedRoute], now: str = NOW) -> list[ObservedRoute]:
    """The routes as they are after the first plan's status updates were applied."""
    first = plan(routes, now)
    by_key = {f"{u.namespace}/{u.name}": u.status for u in first.status_updates}
    return [
        ObservedRoute(r.namespace, r.name, r.generation, r.created, r.body, by_key[r.key])
        for r in routes
    ]


@pytest.mark.parametrize(
    ("routes", "verdicts"),
    [
        ([route("a")], {"apps/a": (True, "Accepted")}),
        (
            [route("new", "p", created=T1), route("old", "p", created=T0)],
            {"apps/old": (True, "Accepted"), "apps/new": (False, "PathConflict")},
        ),
        (
            # Same creation second: the older by namespace/name order wins, deterministically.
            [route("b", "p"), route("a", "p")],
            {"apps/a": (True, "Accepted"), "apps/b": (False, "PathConflict")},
        ),
        (
            # An invalid route claims nothing: the newer valid one gets the path.
            [route("bad", "p", created=T0, syncWaitSeconds=0), route("good", "p", created=T1)],
            {"apps/bad": (False, "InvalidSpec"), "apps/good": (True, "Accepted")},
        ),
        (
            [route("s", inputSchema={"type": "objekt"})],
            {"apps/s": (False, "InvalidSchema")},
        ),
        (
            [route("t", workflowId={"template": "{body.order_id}"})],
            {"apps/t": (False, "InvalidSpec")},
        ),
        (
            # Paths are one space across namespaces.
            [route("a", "p", namespace="x", created=T1), route("a", "p", namespace="y")],
            {"y/a": (True, "Accepted"), "x/a": (False, "PathConflict")},
        ),
        (
            [route("s", signals=[{"name": "go", "inputSchema": {"type": "objekt"}}])],
            {"apps/s": (False, "InvalidSchema")},
        ),
        (
            [route("s", updates=[{"name": "go"}, {"name": "go"}])],
            {"apps/s": (False, "InvalidSpec")},
        ),
        # Overlapping workflow id prefixes: the older route keeps its prefix.
        (
            # The default prefixes "orders-" and "orders-eu-" overlap.
            [route("eu", "orders-eu", created=T1), route("orders")],
            {"apps/orders": (True, "Accepted"), "apps/eu": (False, "IdPrefixConflict")},
        ),
        (
            # Whichever is the longer: the newer shorter prefix is refused too.
            [route("short", workflowId={"prefix": "o"}, created=T1),
             route("long", workflowId={"prefix": "order-"})],
            {"apps/long": (True, "Accepted"), "apps/short": (False, "IdPrefixConflict")},
        ),
        (
            [route("a", workflowId={"prefix": "same-"}, namespace="x", created=T1),
             route("b", workflowId={"prefix": "same-"}, namespace="y")],
            {"y/b": (True, "Accepted"), "x/a": (False, "IdPrefixConflict")},
        ),
        (
            # Neither starts with the other: both served.
            [route("a", workflowId={"prefix": "ab-"}), route("b", workflowId={"prefix": "ac-"})],
            {"apps/a": (True, "Accepted"), "apps/b": (True, "Accepted")},
        ),
        (
            # A route refused for its path holds no prefix.
            [route("old", "p"), route("new", "p", workflowId={"prefix": "q"}, created=T1),
             route("q", workflowId={"prefix": "q-"}, created=T2)],
            {"apps/old": (True, "Accepted"), "apps/new": (False, "PathConflict"),
             "apps/q": (True, "Accepted")},
        ),
        (
            # An explicit prefix clears a default one's overlap.
            [route("orders"), route("eu", "orders-eu", workflowId={"prefix": "eu-"}, created=T1)],
            {"apps/orders": (True, "Accepted"), "apps/eu": (True, "Accepted")},
        ),
    ],
)  # fmt: skip
def test_verdicts(routes, verdicts) -> None:
    result = plan(routes, NOW)
    assert {k: (v.accepted, v.reason) for k, v in result.verdicts.items()} == verdicts
    for key, (accepted, reason) in verdicts.items():
        conds = conditions(result, key)
        assert conds["Accepted"]["reason"] == reason
        assert conds["Accepted"]["status"] == ("True" if accepted else "False")
        assert conds["Ready"]["status"] == conds["Accepted"]["status"]
        assert conds["Ready"]["observedGeneration"] == 1


def test_conflict_message_names_the_owner() -> None:
    result = plan([route("new", "p", created=T1), route("old", "p")], NOW)
    assert "apps/old" in result.verdicts["apps/new"].message
    assert "/workflows/p" in conditions(result, "apps/old")["Ready"]["message"]


def test_prefix_conflict_message_names_the_route_and_both_prefixes() -> None:
    older = route("orders", created=T0)
    newer = route("eu", "orders-eu", namespace="shop", created=T1)
    result = plan([newer, older], NOW)
    message = result.verdicts["shop/eu"].message
    assert "'orders-eu-'" in message
    assert "'orders-'" in message
    assert "apps/orders" in message
    assert conditions(result, "shop/eu")["Ready"]["reason"] == "NotAccepted"
    assert result.paths == {"apps/orders": "orders"}


def test_message_schema_error_names_the_message() -> None:
    bad = route("s", signals=[{"name": "go"}, {"name": "stop", "inputSchema": {"type": "objekt"}}])
    message = plan([bad], NOW).verdicts["apps/s"].message
    assert message.startswith("spec.signals[1].inputSchema")


def test_invalid_spec_message_names_the_field() -> None:
    result = plan([route("bad", syncWaitSeconds=0)], NOW)
    assert result.verdicts["apps/bad"].message.startswith("spec.syncWaitSeconds")


def test_accepted_routes_are_the_table() -> None:
    routes = [route("z", "zeta"), route("a", "alpha"), route("x", "alpha", created=T1)]
    result = plan(routes, NOW)
    assert result.paths == {"apps/z": "zeta", "apps/a": "alpha"}


def test_nothing_changes_nothing_is_written() -> None:
    routes = settled([route("a"), route("b", "a", created=T1)])
    again = plan(routes, "2027-01-01T00:00:00Z")
    assert again.status_updates == ()


def test_verdicts_do_not_depend_on_the_order() -> None:
    routes = [route("a"), route("b", "a"), route("c", workflowId={"prefix": "a-x"})]
    assert plan(routes, NOW).verdicts == plan(routes[::-1], NOW).verdicts


def test_each_route_is_judged_once_per_plan_by_the_given_judge() -> None:
    from gateway_operator.planner import judge

    calls: list[str] = []

    def counting(r):
        calls.append(r.key)
        return judge(r)

    plan([route("a"), route("b")], NOW, judge=counting)
    assert sorted(calls) == ["apps/a", "apps/b"]


def test_transition_time_moves_only_when_status_flips() -> None:
    routes = settled([route("old", "p"), route("new", "p", created=T1)])
    # The old route goes away: the new one now gets the path.
    result = plan([routes[1]], "2026-07-01T00:00:00Z")
    conds = conditions(result, "apps/new")
    assert conds["Accepted"]["status"] == "True"
    assert conds["Accepted"]["lastTransitionTime"] == "2026-07-01T00:00:00Z"

    # A new generation with the same verdict: observedGeneration moves, the time does not.
    accepted = settled([route("a")])[0]
    bumped_body = copy.deepcopy(dict(accepted.body))
    bumped = ObservedRoute("apps", "a", 2, T0, bumped_body, accepted.status)
    conds = conditions(plan([bumped], "2026-08-01T00:00:00Z"), "apps/a")
    assert conds["Accepted"]["observedGeneration"] == 2
    assert conds["Accepted"]["lastTransitionTime"] == NOW


Q = ("default", "q")


@pytest.mark.parametrize(
    ("seen", "status", "reason", "words"),
    [
        (WorkerObservation(True, 2, "2026-06-01T11:59:30Z"), "True", "PollersSeen",
         ["2 worker poller(s)", "'q'", "2026-06-01T11:59:30Z"]),
        (WorkerObservation(True, 0), "False", "NoPollers", ["no worker has polled", "'q'"]),
        (WorkerObservation(False, error="connection refused"), "Unknown", "TemporalUnreachable",
         ["connection refused"]),
    ],
)  # fmt: skip
def test_worker_available_from_what_temporal_said(seen, status, reason, words) -> None:
    conds = conditions(plan([route("a")], NOW, workers={Q: seen}), "apps/a")
    worker = conds["WorkerAvailable"]
    assert (worker["status"], worker["reason"], worker["observedGeneration"]) == (status, reason, 1)
    for word in words:
        assert word in worker["message"]


def test_worker_available_uses_the_routes_own_namespace() -> None:
    seen = {("shop", "q"): WorkerObservation(True, 1, T0), Q: WorkerObservation(True, 0)}
    shop = route("a")
    body = {**shop.body, "spec": {**shop.body["spec"], "namespace": "shop"}}
    shop = ObservedRoute("apps", "a", 1, T0, body)
    conds = conditions(plan([shop], NOW, workers=seen), "apps/a")
    assert conds["WorkerAvailable"]["status"] == "True"


def test_a_queue_not_checked_yet_has_no_condition() -> None:
    conds = conditions(plan([route("a")], NOW, workers={}), "apps/a")
    assert "WorkerAvailable" not in conds


def test_newer_poll_times_alone_write_nothing() -> None:
    first = settled([route("a")])
    workers = {Q: WorkerObservation(True, 1, T0)}
    written = conditions(plan(first, NOW, workers=workers), "apps/a")
    [base] = first
    status = {"observedGeneration": 1, "conditions": list(written.values())}
    current = ObservedRoute(base.namespace, base.name, 1, base.created, base.body, status)
    later = {Q: WorkerObservation(True, 1, T2)}
    assert plan([current], "2026-06-01T12:00:30Z", workers=later).status_updates == ()
    more = {Q: WorkerObservation(True, 3, T2)}
    [update] = plan([current], "2026-06-01T12:00:30Z", workers=more).status_updates
    worker = {c["type"]: c for c in update.status["conditions"]}["WorkerAvailable"]
    assert worker["message"].startswith("3 worker")
    assert worker["lastTransitionTime"] == NOW, "still True: the time does not move"
    gone = {Q: WorkerObservation(True, 0)}
    [update] = plan([current], "2026-06-01T12:01:00Z", workers=gone).status_updates
    worker = {c["type"]: c for c in update.status["conditions"]}["WorkerAvailable"]
    assert (worker["status"], worker["lastTransitionTime"]) == ("False", "2026-06-01T12:01:00Z")
