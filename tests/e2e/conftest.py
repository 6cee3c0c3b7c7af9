"""End-to-end fixtures: the real worker and API processes on the session's Temporal server,
and a real Kubernetes control plane with the operator running as its ServiceAccount."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.kube import ControlPlane
from support.procs import (
    ROOT,
    ApiProcess,
    Process,
    TemporalDevServer,
    WorkerProcess,
    eventually,
    free_port,
)

pytestmark = pytest.mark.e2e

NS = "temporal-gateway"
LEASE = "temporal-gateway-operator"
CRD = ROOT / "k8s" / "crds" / "workflowroutes.temporal-gateway.dev.yaml"
SCHEDULE_CRD = ROOT / "k8s" / "crds" / "workflowschedules.temporal-gateway.dev.yaml"


@dataclass
class Stack:
    temporal: TemporalDevServer
    worker: WorkerProcess
    api: ApiProcess

    @property
    def url(self) -> str:
        return self.api.url


@pytest.fixture(scope="session")
def stack(temporal_server: TemporalDevServer, logs_dir: Path) -> Iterator[Stack]:
    """``python -m gateway_worker`` and ``python -m gateway_api`` with their defaults (the
    shipped routes, the shopping task queue), as ``make run`` starts them."""
    worker = WorkerProcess(logs_dir, temporal=temporal_server.address)
    api = ApiProcess(logs_dir, temporal=temporal_server.address)
    try:
        api.wait_ready()
        yield Stack(temporal_server, worker, api)
    finally:
        api.stop()
        worker.stop()


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


@pytest.fixture(scope="session")
def plane(tmp_path_factory, logs_dir) -> Iterator[ControlPlane]:
    """A real kube-apiserver and etcd with the CRDs and the operator's RBAC applied."""
    plane = ControlPlane(tmp_path_factory.mktemp("kube"), logs_dir)
    try:
        plane.start()
        plane.kubectl("apply", "-f", str(CRD), "-f", str(SCHEDULE_CRD),
                      "-f", str(ROOT / "k8s" / "operator"))  # fmt: skip
        plane.kubectl(
            "wait", "--for=condition=Established", "crd/workflowroutes.temporal-gateway.dev",
            "crd/workflowschedules.temporal-gateway.dev",
        )  # fmt: skip
        yield plane
    finally:
        plane.stop()


SCHEDULE_RESYNC_SECONDS = 2
"""The session operator reads every WorkflowSchedule's Temporal schedule this often (a minute by
default), so a drift test waits seconds for its correction."""


@pytest.fixture(scope="session")
def operator(plane, temporal_server, logs_dir) -> Iterator[Operator]:
    operator = Operator(
        plane, logs_dir, temporal=temporal_server.address,
        env={"OPERATOR_SCHEDULE_RESYNC_SECONDS": str(SCHEDULE_RESYNC_SECONDS)},
    )  # fmt: skip
    operator.start()
    try:
        # A cold start of kopf on a busy two-core machine.
        eventually(operator.leading, timeout=60, interval=0.5)
        yield operator
    finally:
        operator.stop()


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


@pytest.fixture(scope="session")
def kube_api(plane, operator, stack, logs_dir) -> Iterator[ApiProcess]:
    """An API process on the routes the operator accepted (watched through the real API
    server); `stack` brings the shopping worker."""
    api = cluster_api(plane, logs_dir, stack.temporal.address)
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()
