"""The alerting rules, checked and unit-tested by Prometheus's own ``promtool``."""

from __future__ import annotations

import subprocess

from support.procs import ROOT
from support.tools import prometheus_dir

ALERTS = ROOT / "charts" / "temporal-gateway" / "files" / "alerts.yaml"


def promtool(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [prometheus_dir() / "promtool", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", ALERTS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout


def test_each_alert_fires_when_it_should_and_only_then() -> None:
    done = promtool("test", "rules", ROOT / "tests" / "promtool" / "alerts_test.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_wrong_expectation_fails(tmp_path) -> None:
    """The rule tests can fail: the same file expecting another error ratio than the one the
    series give."""
    tests = (ROOT / "tests" / "promtool" / "alerts_test.yaml").read_text()
    wrong = tests.replace("../../charts/temporal-gateway/files/alerts.yaml", str(ALERTS))
    assert "10% of requests answered 5xx" in wrong
    broken = tmp_path / "alerts_test.yaml"
    broken.write_text(wrong.replace("10% of requests answered 5xx", "20% of requests answered 5xx"))
    done = promtool("test", "rules", broken)
    assert done.returncode != 0
    assert "TemporalGatewayHighErrorRatio" in done.stdout + done.stderr
