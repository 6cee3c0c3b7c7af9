"""The project's images, built by ``hack/images.sh`` and run by podman (``hack/podman.sh``) the
way the chart runs them: its uid, a read-only root filesystem, no capabilities, an emptyDir-like
tmpfs at /tmp and the environment ``helm template`` renders for the Deployment.

Containers use the host's network, so everything is on loopback: the chart's fixed ports
(8000, 8081, 7233, ...) are replaced by free ones, the only change made to its environment.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.procs import ROOT, Process, free_port
from support.tools import helm_dir

PODMAN = ROOT / "hack" / "podman.sh"


@dataclass(frozen=True)
class Image:
    name: str
    ref: str
    size: int


def build_images(log: Path) -> tuple[dict[str, Image], float]:
    """Every image, built or found in the layer cache; the wall time it took."""
    started = time.monotonic()
    done = subprocess.run(
        [ROOT / "hack" / "images.sh"], capture_output=True, text=True, check=False, timeout=3000
    )
    log.write_text(done.stderr)
    assert done.returncode == 0, f"hack/images.sh failed:\n{done.stderr[-4000:]}"
    images = {}
    for line in done.stdout.splitlines():
        name, ref, size = line.split()
        images[name] = Image(name, ref, int(size))
    return images, time.monotonic() - started


def podman(*args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(
        [PODMAN, *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def chart_containers(release: str, values: Sequence[Path] = ()) -> dict[str, dict[str, Any]]:
    """The first container of each Deployment ``helm template`` renders, by component
    (``api``, ``worker``, ``operator``, ``temporal-dev``)."""
    chart = ROOT / "charts" / "temporal-gateway"
    args = [str(helm_dir() / "helm"), "template", release, str(chart)]
    for path in values or (chart / "values-dev.yaml",):
        args += ["-f", str(path)]
    rendered = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    containers = {}
    for doc in yaml.safe_load_all(rendered):
        if doc and doc["kind"] == "Deployment":
            component = doc["metadata"]["name"].removeprefix(f"{release}-")
            component = component.removeprefix("temporal-gateway-")
            pod = doc["spec"]["template"]["spec"]
            containers[component] = {**pod["containers"][0], "pod": pod}
    return containers


def chart_env(container: Mapping[str, Any], **overrides: str) -> dict[str, str]:
    """The container's literal environment with ``overrides``; ``valueFrom`` entries are left
    to the caller (it sets them in ``overrides``)."""
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    env.update(overrides)
    return env


class Container(Process):
    """``podman run`` in the foreground (its output is the log), as the chart runs the pod:
    uid from its securityContext, read-only root, no capabilities, no privilege escalation."""

    def __init__(
        self,
        name: str,
        image: Image,
        log_dir: Path,
        *,
        user: str,
        env: Mapping[str, str],
        args: Sequence[str] = (),
        mounts: Sequence[tuple[Path, str]] = (),
        tmpfs: Sequence[str] = ("/tmp",),
        entrypoint: str | None = None,
    ) -> None:
        self.container_name = f"tg-test-{name}-{free_port()}"
        run = [
            str(PODMAN),
            "run",
            "--rm",
            f"--name={self.container_name}",
            "--pull=never",
            "--network=host",
            "--read-only",
            "--read-only-tmpfs=false",
            f"--user={user}",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
        ]
        for path in tmpfs:
            run.append(f"--tmpfs={path}:rw,size=64m,mode=1777")
        for source, target in mounts:
            run.append(f"--volume={source}:{target}:ro")
        for key, value in env.items():
            run.append(f"--env={key}={value}")
        if entrypoint:
            run.append(f"--entrypoint={entrypoint}")
        super().__init__(self.container_name, [*run, image.ref, *args], log_dir=log_dir)

    def stop(self, timeout: float = 30.0) -> int:
        code = super().stop(timeout)
        podman("rm", "--force", "--time=5", self.container_name, check=False)
        return code
