"""Tools built or unpacked once into the shared cache by the scripts in ``hack/``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support.procs import ROOT


def cached_tool_dir(variable: str, script: str) -> Path:
    """The directory named by ``variable`` (the Makefile sets it), else what ``hack/<script>``
    prints after building or unpacking the tool (once; later calls only print the path)."""
    given = os.environ.get(variable)
    if given:
        return Path(given)
    done = subprocess.run(
        [ROOT / "hack" / script], capture_output=True, text=True, check=False, timeout=1800
    )
    assert done.returncode == 0, f"hack/{script} failed:\n{done.stderr}"
    return Path(done.stdout.strip())


def prometheus_dir() -> Path:
    """Debian's ``prometheus`` and ``promtool``."""
    return cached_tool_dir("PROMETHEUS_DIR", "prometheus.sh")


def helm_dir() -> Path:
    """The Helm v4 CLI, built from its Go module by ``hack/helm.sh``."""
    return cached_tool_dir("HELM_DIR", "helm.sh")


def skaffold_dir() -> Path:
    """skaffold, built from its Go module by ``hack/skaffold.sh``, and the Helm 3 it drives."""
    return cached_tool_dir("SKAFFOLD_DIR", "skaffold.sh")


def kube_schemas_dir() -> Path:
    """Schemas no API server has built in, from their projects' Go modules: the CRDs of the
    optional objects the chart renders (``crds/``) and skaffold's config schema."""
    return cached_tool_dir("KUBE_SCHEMAS_DIR", "kube-schemas.sh")


def redis_dir() -> Path:
    """Debian's ``redis-server`` and ``redis-cli``, unpacked by ``hack/redis.sh``."""
    return cached_tool_dir("REDIS_DIR", "redis.sh")


def test_server_dir() -> Path:
    """Temporal's Java time-skipping test server (``temporal-test-server``, a launcher of its
    jars), resolved from Maven Central by ``hack/test-server.sh``."""
    return cached_tool_dir("TEST_SERVER_DIR", "test-server.sh")


test_server_dir.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def workers_dir() -> Path:
    """The example workers of ``examples/workers`` built by ``hack/workers.sh``: ``go/worker``,
    ``go/codec-server``, ``typescript/lib/worker.js`` and ``java/worker.jar``."""
    return cached_tool_dir("WORKERS_DIR", "workers.sh")
