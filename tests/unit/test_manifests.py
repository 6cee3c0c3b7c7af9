"""The shipped manifests agree with each other and with the code."""

from __future__ import annotations

import pytest
import yaml

from gateway_operator.crd import FILES
from support.procs import ROOT

CRD = "workflowroutes.temporal-gateway.dev.yaml"
SCHEDULE_CRD = "workflowschedules.temporal-gateway.dev.yaml"


@pytest.mark.parametrize("path", [str(p) for p in FILES])
def test_committed_crd_is_the_generated_one(path: str) -> None:
    from gateway_operator.crd import render

    assert (ROOT / path).read_text() == render(path), f"{path} is stale: run `make crds`"


def test_crd_generator_refuses_a_list_without_a_list_type(monkeypatch) -> None:
    from gateway_operator import crd

    without = {k: v for k, v in crd.LIST_TYPES.items() if k[1] != "signals"}
    monkeypatch.setattr(crd, "LIST_TYPES", without)
    with pytest.raises(crd.CrdError, match="signals"):
        crd.render()


@pytest.mark.parametrize("name", [CRD, SCHEDULE_CRD])
def test_chart_ships_the_same_crd_as_k8s(name: str) -> None:
    chart = (ROOT / "charts" / "temporal-gateway" / "crds" / name).read_text()
    assert chart == (ROOT / "k8s" / "crds" / name).read_text()


def test_the_schedule_crd_takes_what_the_schedule_model_takes() -> None:
    from gateway_core.schedules import CRON_PATTERN, OverlapPolicy

    crd = yaml.safe_load((ROOT / "k8s" / "crds" / SCHEDULE_CRD).read_text())
    version = crd["spec"]["versions"][0]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["required"] == ["route", "input", "schedule"]
    # Any JSON value: the route's schema, not the CRD's, says what the input is.
    assert spec["properties"]["input"] == {
        "description": spec["properties"]["input"]["description"],
        "x-kubernetes-preserve-unknown-fields": True,
    }
    timing = spec["properties"]["schedule"]["properties"]
    assert timing["cronExpressions"]["items"]["pattern"] == CRON_PATTERN
    overlap = spec["properties"]["policy"]["properties"]["overlap"]
    assert overlap["enum"] == [p.value for p in OverlapPolicy]
    assert crd["spec"]["names"]["shortNames"] == ["wfs"]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if "priority" not in c]
    assert columns == ["Route", "Schedule", "Paused", "Next Run", "Last Result", "Ready", "Age"]


def test_crd_enums_match_the_route_model() -> None:
    from gateway_core.routes import SWITCHES, IdConflictPolicy, IdReusePolicy

    crd = yaml.safe_load((ROOT / "k8s" / "crds" / CRD).read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    workflow_id = spec["properties"]["workflowId"]["properties"]
    assert workflow_id["reusePolicy"]["enum"] == [p.value for p in IdReusePolicy]
    assert workflow_id["conflictPolicy"]["enum"] == [p.value for p in IdConflictPolicy]
    # What a route may list: each operation that is its own switch (`schedule` for its family).
    assert spec["properties"]["operations"]["items"]["enum"] == [o.value for o in SWITCHES]


def test_crd_authorization_names_every_kind_of_access() -> None:
    from gateway_core.routes import Access, Requirement

    crd = yaml.safe_load((ROOT / "k8s" / "crds" / CRD).read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    authorization = spec["properties"]["authorization"]["properties"]
    assert list(authorization) == [*(a.value for a in Access), "ownerOnly"]
    assert authorization.pop("ownerOnly")["type"] == "boolean"
    for requirement in authorization.values():
        assert set(requirement["properties"]) == set(Requirement.model_fields)


def test_every_worker_polls_the_queue_the_shipped_routes_name() -> None:
    """The worker has no default queue: each way of starting it (the chart, the kustomize
    base, make run's scripts) names the one the shipped routes send to."""
    import re

    from gateway_core.routes import load_routes

    (queue,) = {r.spec.task_queue for r in load_routes(ROOT / "k8s" / "routes").routes.values()}
    values = yaml.safe_load((ROOT / "charts" / "temporal-gateway" / "values.yaml").read_text())
    assert values["worker"]["taskQueue"] == queue
    (deployment,) = yaml.safe_load_all((ROOT / "k8s" / "base" / "worker.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "WORKER_TASK_QUEUE", "value": queue} in container["env"]
    lib = (ROOT / "scripts" / "lib.sh").read_text()
    assert re.search(r'export WORKER_TASK_QUEUE="\$\{WORKER_TASK_QUEUE:-(.+?)\}"', lib)[1] == queue
