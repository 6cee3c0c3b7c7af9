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

from support.kube import ConfigMapVolumeStandIn, ControlPlane
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
TABLE = "temporal-gateway-routes"
CRD = ROOT / "k8s" / "crds" / "workflowroutes.temporal-gateway.dev.yaml"


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
    def __init__(self, plane: ControlPlane, log_dir: Path) -> None:
        self._plane = plane
        self._log_dir = log_dir
        self._kubeconfig = plane.service_account_kubeconfig(NS, "temporal-gateway-operator")
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
                "OPERATOR_TABLE_NAMESPACE": NS,
                "OPERATOR_METRICS_PORT": str(self.metrics_port),
                "OPERATOR_HEALTH_PORT": str(free_port()),
                "LOG_FORMAT": "json",
            },
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def log(self) -> str:
        return self.proc.log() if self.proc else ""

    def reconciles(self, result: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "temporal_gateway_operator_reconciles_total"
                    and sample.labels.get("result") == result
                ):
                    return sample.value
        return 0.0


@pytest.fixture(scope="session")
def plane(tmp_path_factory, logs_dir) -> Iterator[ControlPlane]:
    """A real kube-apiserver and etcd with the CRD and the operator's RBAC applied."""
    plane = ControlPlane(tmp_path_factory.mktemp("kube"), logs_dir)
    try:
        plane.start()
        plane.kubectl("apply", "-f", str(CRD), "-f", str(ROOT / "k8s" / "operator"))
        plane.kubectl(
            "wait", "--for=condition=Established", "crd/workflowroutes.temporal-gateway.dev"
        )
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def operator(plane, logs_dir) -> Iterator[Operator]:
    operator = Operator(plane, logs_dir)
    operator.start()
    try:
        eventually(
            lambda: plane.kubectl_result("get", "configmap", TABLE, "-n", NS).returncode == 0,
            timeout=60,  # a cold start of kopf on a busy two-core machine
        )
        yield operator
    finally:
        operator.stop()


@pytest.fixture(scope="session")
def kube_api(plane, operator, stack, tmp_path_factory, logs_dir) -> Iterator[ApiProcess]:
    """An API process on the operator's table (the projected ConfigMap); `stack` brings the
    shopping worker."""
    mount = tmp_path_factory.mktemp("routes-volume")
    volume = ConfigMapVolumeStandIn(plane, NS, TABLE, mount)
    api = ApiProcess(
        logs_dir,
        temporal=stack.temporal.address,
        env={"API_ROUTES_PATH": str(mount), "API_ROUTES_RELOAD_SECONDS": "0.2"},
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()
        volume.stop()
