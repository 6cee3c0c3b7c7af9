"""The Grafana dashboards shipped in the chart: well-formed, portable between Grafanas (data
source as a variable), and every panel has a query. Whether each query returns data is proven
against a real Prometheus in tests/e2e/test_monitoring.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DASHBOARDS = sorted(
    (Path(__file__).parents[2] / "charts/temporal-gateway/dashboards").glob("*.json")
)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_the_three_dashboards_are_shipped() -> None:
    assert {path.stem for path in DASHBOARDS} == {"gateway-overview", "worker", "operator"}
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_queries_the_chosen_prometheus(path: Path) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
