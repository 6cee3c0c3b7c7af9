"""End-to-end fixtures: the real worker and API processes on the session's Temporal server,
and a real Kubernetes control plane with the operator running as its ServiceAccount."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.kube import ControlPlane
from support.kube_processes import Operator, cluster_api
from support.procs import (
    ROOT,
    ApiProcess,
    TemporalDevServer,
    WorkerProcess,
    eventually,
)

pytestmark = pytest.mark.e2e

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
