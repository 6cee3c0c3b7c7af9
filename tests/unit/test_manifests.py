"""The shipped manifests agree with each other and with the code."""

from __future__ import annotations

import yaml

from support.procs import ROOT

CRD = "workflowroutes.temporal-gateway.dev.yaml"


def test_chart_ships_the_same_crd_as_k8s() -> None:
    chart = (ROOT / "charts" / "temporal-gateway" / "crds" / CRD).read_text()
    assert chart == (ROOT / "k8s" / "crds" / CRD).read_text()


def test_crd_enums_match_the_route_model() -> None:
    from gateway_core.routes import IdConflictPolicy, IdReusePolicy, Operation

    crd = yaml.safe_load((ROOT / "k8s" / "crds" / CRD).read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    workflow_id = spec["properties"]["workflowId"]["properties"]
    assert workflow_id["reusePolicy"]["enum"] == [p.value for p in IdReusePolicy]
    assert workflow_id["conflictPolicy"]["enum"] == [p.value for p in IdConflictPolicy]
    assert spec["properties"]["operations"]["items"]["enum"] == [o.value for o in Operation]


def test_crd_authorization_names_every_kind_of_access() -> None:
    from gateway_core.routes import Access, Requirement

    crd = yaml.safe_load((ROOT / "k8s" / "crds" / CRD).read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    authorization = spec["properties"]["authorization"]["properties"]
    assert list(authorization) == [a.value for a in Access]
    for requirement in authorization.values():
        assert set(requirement["properties"]) == set(Requirement.model_fields)
