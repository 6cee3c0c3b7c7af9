"""The shipped manifests agree with each other and with the code."""

from __future__ import annotations

import pytest
import yaml

from gateway_operator.crd import FILES
from support.procs import ROOT

CRD = "workflowroutes.temporal-gateway.dev.yaml"


@pytest.mark.parametrize("path", [str(p) for p in FILES])
def test_committed_crd_is_the_generated_one(path: str) -> None:
    from gateway_operator.crd import render

    assert (ROOT / path).read_text() == render(), f"{path} is stale: run `make crds`"


def test_crd_generator_refuses_a_list_without_a_list_type(monkeypatch) -> None:
    from gateway_operator import crd

    without = {k: v for k, v in crd.LIST_TYPES.items() if k[1] != "signals"}
    monkeypatch.setattr(crd, "LIST_TYPES", without)
    with pytest.raises(crd.CrdError, match="signals"):
        crd.render()


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
