"""The operator's WorkflowSchedule planner, table-driven: a resource, its route and what Temporal
holds in; the actions, conditions and events out."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_core import memo
from gateway_core.routes import CompiledRoute, Operation
from gateway_operator.schedules.planner import (
    FINALIZER,
    OPERATOR_NOTE,
    Act,
    InTemporal,
    ObservedSchedule,
    Refusal,
    desired,
    judge,
    plan,
    schedule_id,
    status,
)
from support.gateway import route

SCHEMA = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "maxItems": 2}},
    "additionalProperties": False,
}
SHOP = route("shop", "ShoppingWorkflow", "q", operations=["start", Operation.SCHEDULE.value],
             input_schema=SCHEMA)  # fmt: skip
PLAIN = route("plain", "ShoppingWorkflow", "q", workflow_id={"prefix": "plain-"})
NOW = "2026-06-01T12:00:00Z"


def schedule(
    *,
    generation: int = 1,
    status: dict[str, Any] | None = None,
    finalizers: tuple[str, ...] = (FINALIZER,),
    deleting: bool = False,
    **spec: Any,
) -> ObservedSchedule:
    body = {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowSchedule",
        "spec": {"route": "shop", "input": {"items": [1]},
                 "schedule": {"cronExpressions": ["0 3 * * *"]}, **spec},
    }  # fmt: skip
    return ObservedSchedule("apps", "nightly", generation, body, status or {}, finalizers,
                            deleting)  # fmt: skip


def routes(found: CompiledRoute | str | None = SHOP):
    return lambda namespace, name: found if (namespace, name) == ("apps", "shop") else None


def no_codec_problem(_route: CompiledRoute) -> str | None:
    return None


def held(digest: str = "t1", *, paused: bool = False, note: str = "", **extra: Any) -> InTemporal:
    return InTemporal(digest=digest, paused=paused, note=note, workflow_type="ShoppingWorkflow",
                      managed_by="WorkflowSchedule apps/nightly", **extra)  # fmt: skip


def written(obs: ObservedSchedule, temporal_digest: str = "t1") -> dict[str, Any]:
    """The status right after the operator wrote ``obs``'s schedule."""
    judged = judge(obs, routes(), no_codec_problem)
    assert not isinstance(judged, Refusal)
    want = desired(obs, *judged, "default")
    return {"scheduleId": want.schedule_id, "temporalNamespace": "default",
            "appliedDigest": want.digest, "temporalDigest": temporal_digest}  # fmt: skip


def conditions(todo) -> dict[str, tuple[Any, str]]:
    return {kind: (ok, reason) for kind, ok, reason, _ in todo.conditions}


def test_the_schedule_id_is_the_routes_prefix_the_namespaces_scope_and_the_name() -> None:
    assert schedule_id(SHOP, schedule()) == f"shop-{memo.scope('k8s:apps')}.nightly"


def test_a_new_schedule_gets_its_finalizer_and_is_written() -> None:
    todo = plan(schedule(finalizers=()), judge(schedule(), routes(), no_codec_problem), None)
    assert todo.actions == (Act.ADD_FINALIZER, Act.WRITE)
    assert conditions(todo) == {
        "RouteFound": (True, "RouteFound"),
        "Accepted": (True, "Accepted"),
        "Ready": (True, "Scheduled"),
    }
    assert todo.events == ()


@pytest.mark.parametrize(
    ("spec", "lookup", "reason", "route_found"),
    [
        ({"route": "gone"}, SHOP, "RouteNotFound", False),
        ({}, "PathConflict", "RouteNotAccepted", False),
        ({}, PLAIN, "OperationNotAllowed", True),
        ({"input": {"items": [1, 2, 3]}}, SHOP, "InvalidInput", True),
        ({"schedule": {"cronExpressions": ["0 3 * * *"], "timeZone": "Mars/Olympus"}}, SHOP,
         "InvalidSpec", True),
    ],
)  # fmt: skip
def test_what_is_not_accepted(spec, lookup, reason, route_found) -> None:
    obs = schedule(**spec)
    judged = judge(obs, routes(lookup), no_codec_problem)
    assert isinstance(judged, Refusal)
    todo = plan(obs, judged, None)
    assert todo.actions == ()  # nothing is created for it
    got = conditions(todo)
    assert got["Accepted"] == (False, reason)
    assert got["RouteFound"][0] is route_found
    assert got["Ready"] == (False, "NotAccepted")


def test_a_codec_the_operator_lacks_is_never_plaintext() -> None:
    judged = judge(schedule(), routes(), lambda _route: "no codec 'vault'")
    assert isinstance(judged, Refusal)
    assert judged.reason == "CodecUnavailable"


def test_an_input_that_no_longer_fits_pauses_the_schedule_naming_the_field() -> None:
    obs = schedule(input={"items": [1, 2, 3]}, status=written(schedule()))
    todo = plan(obs, judge(obs, routes(), no_codec_problem), held())
    assert todo.actions == (Act.PAUSE,)
    assert todo.note is not None
    assert todo.note.startswith(OPERATOR_NOTE + "InvalidInput: spec.input.items: ")
    assert [e.reason for e in todo.events] == ["SchedulePaused"]
    # Paused with that note already: nothing more to do, nothing said again.
    again = plan(obs, judge(obs, routes(), no_codec_problem), held(paused=True, note=todo.note))
    assert (again.actions, again.events) == ((), ())
    assert conditions(again)["Ready"] == (False, "Paused")


def test_a_deleted_route_pauses_the_schedule_where_it_was_written() -> None:
    obs = schedule(status=written(schedule()))
    todo = plan(obs, judge(obs, routes(None), no_codec_problem), held())
    assert todo.actions == (Act.PAUSE,)
    assert conditions(todo)["RouteFound"] == (False, "RouteNotFound")


def test_fixed_it_is_unpaused_without_a_drift_event() -> None:
    obs = schedule(status=written(schedule()))
    note = OPERATOR_NOTE + "RouteNotFound: no WorkflowRoute"
    todo = plan(obs, judge(obs, routes(), no_codec_problem), held(paused=True, note=note))
    assert todo.actions == (Act.UNPAUSE,)
    assert todo.events == ()


def test_a_changed_spec_is_written() -> None:
    before = written(schedule())
    obs = schedule(generation=2, status=before, schedule={"cronExpressions": ["30 4 * * *"]})
    todo = plan(obs, judge(obs, routes(), no_codec_problem), held())
    assert todo.actions == (Act.WRITE,)
    assert todo.events == ()


def test_a_schedule_changed_in_temporal_is_set_back_with_a_warning() -> None:
    obs = schedule(status=written(schedule(), temporal_digest="t1"))
    todo = plan(obs, judge(obs, routes(), no_codec_problem), held("changed-by-hand"))
    assert todo.actions == (Act.WRITE,)
    assert [(e.type, e.reason) for e in todo.events] == [("Warning", "DriftCorrected")]


def test_a_schedule_deleted_in_temporal_is_created_again_with_a_warning() -> None:
    obs = schedule(status=written(schedule()))
    todo = plan(obs, judge(obs, routes(), no_codec_problem), None)
    assert todo.actions == (Act.WRITE,)
    assert [e.reason for e in todo.events] == ["ScheduleRecreated"]


def test_a_schedule_paused_by_hand_is_unpaused_with_a_warning() -> None:
    obs = schedule(status=written(schedule()))
    todo = plan(obs, judge(obs, routes(), no_codec_problem), held(paused=True, note="by bob"))
    assert todo.actions == (Act.UNPAUSE,)
    assert [e.reason for e in todo.events] == ["DriftCorrected"]


def test_paused_on_failure_is_not_drift() -> None:
    policy = {"pauseOnFailure": True}
    obs = schedule(status=written(schedule(policy=policy)), policy=policy)
    failed = held(paused=True, note="failed", last_run={"result": "FAILED"})
    todo = plan(obs, judge(obs, routes(), no_codec_problem), failed)
    assert todo.actions == ()
    assert conditions(todo)["Ready"] == (False, "PausedOnFailure")


def test_an_id_held_by_someone_elses_schedule_is_never_taken_over() -> None:
    obs = schedule(finalizers=(FINALIZER,))
    theirs = InTemporal(digest="x", paused=False, note="", workflow_type="Payroll", managed_by=None)
    todo = plan(obs, judge(obs, routes(), no_codec_problem), theirs)
    assert Act.WRITE not in todo.actions
    assert conditions(todo)["Accepted"] == (False, "ScheduleIdTaken")


def test_nothing_to_do_when_temporal_holds_what_was_written() -> None:
    obs = schedule(status=written(schedule()))
    todo = plan(obs, judge(obs, routes(), no_codec_problem), held())
    assert (todo.actions, todo.events) == ((), ())


@pytest.mark.parametrize(
    ("status_before", "actions"),
    [({"scheduleId": "shop-x", "temporalNamespace": "default"},
      (Act.DELETE, Act.REMOVE_FINALIZER)), ({}, (Act.REMOVE_FINALIZER,))],
)  # fmt: skip
def test_deleting_the_resource_deletes_the_schedule_first(status_before, actions) -> None:
    obs = schedule(deleting=True, status=status_before)
    assert plan(obs, judge(obs, routes(), no_codec_problem), None).actions == actions


def test_the_status_records_what_was_written_and_what_temporal_holds() -> None:
    obs = schedule(finalizers=())
    todo = plan(obs, judge(obs, routes(), no_codec_problem), None)
    after = held("t9", next_runs=("2026-06-02T03:00:00Z",), runs=2,
                 last_run={"workflowId": "w", "result": "COMPLETED"})  # fmt: skip
    out = status(obs, todo, after, NOW, written=True)
    assert out["appliedDigest"] == todo.desired.digest
    assert out["temporalDigest"] == "t9"
    assert out["nextRunTimes"] == ["2026-06-02T03:00:00Z"]
    assert out["lastRun"]["result"] == "COMPLETED"
    assert [c["type"] for c in out["conditions"]] == ["RouteFound", "Accepted", "Ready"]
    failed = status(obs, todo, None, NOW, written=False, failure="unreachable")
    assert "appliedDigest" not in failed  # tried again next round
    assert failed["conditions"][-1]["status"] == "Unknown"


def test_the_shipped_sample_schedule_fits_the_shipped_orders_route() -> None:
    import yaml

    from gateway_core.routes import load_routes
    from support.procs import ROOT

    orders = load_routes(ROOT / "k8s" / "routes").routes["orders"]
    doc = yaml.safe_load((ROOT / "k8s" / "schedules" / "weekly-order.yaml").read_text())
    obs = ObservedSchedule("default", doc["metadata"]["name"], 1, doc, finalizers=(FINALIZER,))
    judged = judge(
        obs,
        lambda namespace, name: orders if name == "orders" else None,
        no_codec_problem,
    )
    assert not isinstance(judged, Refusal), judged
    assert plan(obs, judged, None).actions == (Act.WRITE,)
