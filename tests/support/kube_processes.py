"""The operator (and an API following the cluster's routes) as processes against a real
kube-apiserver, as their ServiceAccounts: shared by the e2e modules that need them. A module
here rather than in conftest, which test modules cannot import by name reliably (pytest loads
one conftest per folder, and the suites' share a name)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.kube import ControlPlane
from support.procs import ApiProcess, Process, free_port

NS = "temporal-gateway"
"""The namespace the operator, its Lease and the test routes live in."""
LEASE = "temporal-gateway-operator"
"""The one Lease the operator's RBAC lets it hold."""


class Operator:
    def __init__(
        self,
        plane: ControlPlane,
        log_dir: Path,
        *,
        temporal: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self._plane = plane
        self._log_dir = log_dir
        self._kubeconfig = plane.service_account_kubeconfig(NS, "temporal-gateway-operator")
        self._temporal = temporal
        self._env = env or {}
        self.proc: Process | None = None
        self.metrics_port = 0

    def start(self) -> None:
        self.metrics_port = free_port()
        self.proc = Process(
            f"operator-{free_port()}",
            [sys.executable, "-m", "gateway_operator"],
            log_dir=self._log_dir,
            env={
                "KUBECONFIG": str(self._kubeconfig),
                "OPERATOR_LEASE_NAMESPACE": NS,
                "OPERATOR_METRICS_PORT": str(self.metrics_port),
                "OPERATOR_HEALTH_PORT": str(free_port()),
                "TEMPORAL_ADDRESS": self._temporal,
                "LOG_FORMAT": "json",
                **self._env,
            },
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def log(self) -> str:
        return self.proc.log() if self.proc else ""

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                wanted = all(sample.labels.get(k) == v for k, v in labels.items())
                if sample.name == name and wanted:
                    return sample.value
        return 0.0

    def reconciles(self, result: str) -> float:
        return self.metric("temporal_gateway_operator_reconciles_total", result=result)

    def leading(self) -> bool:
        return self.metric("temporal_gateway_operator_leader") == 1


def cluster_api(
    plane: ControlPlane, logs_dir: Path, temporal: str, env: dict[str, str] | None = None
) -> ApiProcess:
    """An API process following the cluster's WorkflowRoutes, as the API's ServiceAccount."""
    kubeconfig = plane.service_account_kubeconfig(NS, "temporal-gateway-api")
    return ApiProcess(
        logs_dir,
        temporal=temporal,
        env={"API_ROUTES_SOURCE": "kubernetes", "KUBECONFIG": str(kubeconfig), **(env or {})},
    )
