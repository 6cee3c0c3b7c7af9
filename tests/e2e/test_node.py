"""The chart on a real single-node cluster (``support.node``): the images built by
``hack/images.sh`` loaded into the node's containerd, CoreDNS for the Services' names, then
``helm install`` with the dev values, ``helm test``, a WorkflowRoute applied and served, and pods
killed under load without losing a workflow.

The node's CNI is the reference bridge plugin: it does not enforce NetworkPolicies, so the chart's
policies are applied but not exercised here (``test_chart.py`` checks what they allow).
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.images import build_images, podman
from support.kube import ControlPlane
from support.node import DNS_IP, Node, node_assets
from support.procs import ROOT, eventually
from support.tools import helm_dir

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]

RELEASE = "tg"
NS = "temporal-gateway"


def _image_archive(ref: str, name: str, workdir: Path) -> Path:
    """``ref`` under the name a pod spec's bare ``name`` resolves to, saved for ``ctr import``."""
    target = f"docker.io/library/{name}"
    podman("tag", ref, target)
    archive = workdir / (name.replace("/", "_").replace(":", "_") + ".tar")
    podman("save", "--format=docker-archive", "-o", str(archive), target, timeout=600)
    return archive


def _scratch_image(binary: Path, name: str, workdir: Path) -> str:
    context = workdir / f"ctx-{binary.name}"
    context.mkdir()
    (context / binary.name).write_bytes(binary.read_bytes())
    (context / binary.name).chmod(0o755)
    (context / "Containerfile").write_text(
        f'FROM scratch\nCOPY {binary.name} /{binary.name}\nENTRYPOINT ["/{binary.name}"]\n'
    )
    ref = f"localhost/{name}"
    podman("build", "--quiet", "-t", ref, str(context), timeout=600)
    return ref


COREDNS = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: tg-coredns}
rules:
  - apiGroups: [""]
    resources: [services, endpoints, namespaces, pods]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: tg-coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: tg-coredns}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
        }
        cache 5
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      securityContext:
        {runAsNonRoot: true, runAsUser: 10053, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: coredns
          image: tg-coredns:1.15.0
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
          securityContext:
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          volumeMounts: [{name: config, mountPath: /etc/coredns}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: DNS_IP
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
    - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
""".replace("DNS_IP", DNS_IP)


@pytest.fixture(scope="module")
def node(tmp_path_factory, logs_dir) -> Iterator[tuple[Node, ControlPlane]]:
    images, _ = build_images(logs_dir / "images-build.log")
    workdir = tmp_path_factory.mktemp("node")
    assets = node_assets()
    archives = [
        _image_archive(i.ref, i.ref.removeprefix("localhost/"), workdir) for i in images.values()
    ]
    pause = _scratch_image(assets / "pause", "temporal-gateway-pause:1", workdir)
    coredns = _scratch_image(assets / "coredns", "tg-coredns:1.15.0", workdir)
    archives.append(_image_archive(coredns, "tg-coredns:1.15.0", workdir))
    node = Node(workdir, logs_dir)
    pause_archive = workdir / "pause.tar"
    podman("save", "--format=docker-archive", "-o", str(pause_archive), pause)
    try:
        plane = node.start()
        started = time.monotonic()
        node.import_image(pause_archive)
        for archive in archives:
            node.import_image(archive)
        print(f"images imported in {time.monotonic() - started:.0f}s")
        node.wait_ready()
        plane.kubectl("apply", "-f", "-", input=COREDNS)
        eventually(lambda: _available(plane, "kube-system", "coredns"), timeout=180, interval=1)
        yield node, plane
    finally:
        node.stop()


def _available(plane: ControlPlane, namespace: str, name: str) -> bool:
    status = plane.get_json("deployment", name, "-n", namespace).get("status", {})
    return any(
        c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions", [])
    )


def helm(plane: ControlPlane, *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(helm_dir() / "helm"), "--kubeconfig", str(plane.kubeconfig), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert done.returncode == 0, f"helm {args}:\n{done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def release(node) -> ControlPlane:
    _, plane = node
    started = time.monotonic()
    helm(
        plane,
        "install",
        RELEASE,
        str(ROOT / "charts" / "temporal-gateway"),
        "--namespace",
        NS,
        "--create-namespace",
        "-f",
        str(ROOT / "charts" / "temporal-gateway" / "values-dev.yaml"),
        "--wait",
        "--timeout=10m",
    )
    print(f"helm install --wait: {time.monotonic() - started:.0f}s")
    return plane


@pytest.fixture(scope="module")
def api(release: ControlPlane) -> tuple[str, str]:
    """The API's ClusterIP Service URL (kube-proxy's rules take the host there too) and the
    administrator key the chart generated."""
    service = release.get_json("service", f"{RELEASE}-temporal-gateway-api", "-n", NS)
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "http")
    secret = release.get_json("secret", f"{RELEASE}-temporal-gateway-api-key", "-n", NS)
    key = base64.b64decode(secret["data"]["api-key"]).decode()
    return f"http://{service['spec']['clusterIP']}:{port}", key


def test_an_applied_route_is_served_within_seconds(release: ControlPlane, api) -> None:
    url, key = api
    start = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}
    headers = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{url}/", timeout=10).json()["temporal_connected"] is True
    applied = time.monotonic()
    release.kubectl("apply", "-n", NS, "-f", str(ROOT / "k8s" / "routes" / "shopping.yaml"))

    def served() -> dict:
        response = httpx.post(f"{url}/workflows/shopping", json=start, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    # The kubelet brings the changed ConfigMap into the running API pod on its own sync.
    done = eventually(served, timeout=120, interval=1)
    print(f"route served {time.monotonic() - applied:.0f}s after kubectl apply")
    assert done["status"] == "completed"
    assert "Ordered 5 Apples" in done["result"]
    assert httpx.post(f"{url}/workflows/shopping", json=start, timeout=10).status_code == 401


def _pods(plane: ControlPlane, component: str) -> set[str]:
    pods = plane.get_json("pods", "-n", NS, "-l", f"app.kubernetes.io/component={component}")[
        "items"
    ]
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def test_killed_worker_and_api_pods_are_replaced_and_no_workflow_is_lost(
    release: ControlPlane, api
) -> None:
    url, key = api
    headers = {"Authorization": f"Bearer {key}"}
    body = {"items": [{"fruit": "ORANGE", "amount": 1}]}
    # The route is there (the test above applied it, or this applies it now).
    release.kubectl("apply", "-n", NS, "-f", str(ROOT / "k8s" / "routes" / "shopping.yaml"))
    eventually(
        lambda: httpx.post(f"{url}/workflows/shopping/async", json=body, headers=headers,
                           timeout=10).status_code in (200, 202),
        timeout=120, interval=1,
    )  # fmt: skip
    before = {c: _pods(release, c) for c in ("worker", "api")}
    accepted: list[str] = []
    refused = 0
    for i in range(60):  # bounded: about 30 s of starts, two a second
        if i == 10:
            for component in ("worker", "api"):
                for name in before[component]:
                    release.kubectl("delete", "pod", "-n", NS, name, "--wait=false")
        try:
            response = httpx.post(
                f"{url}/workflows/shopping/async", json=body, headers=headers, timeout=10
            )
        except httpx.TransportError:
            refused += 1
        else:
            if response.status_code in (200, 202):
                accepted.append(response.json()["workflow_id"])
            else:
                refused += 1
        time.sleep(0.5)
    for component in ("worker", "api"):
        eventually(lambda c=component: _pods(release, c) and not _pods(release, c) & before[c],
                   timeout=120, interval=1)  # fmt: skip
    for d in ("worker", "api"):
        eventually(lambda d=d: _available(release, NS, f"{RELEASE}-temporal-gateway-{d}"),
                   timeout=180, interval=1)  # fmt: skip

    def completed(workflow_id: str) -> bool:
        response = httpx.get(f"{url}/workflows/{workflow_id}/result", headers=headers, timeout=60)
        return response.status_code == 200 and response.json()["status"] == "completed"

    for workflow_id in accepted:
        eventually(lambda w=workflow_id: completed(w), timeout=120, interval=1)
    print(f"under load: {len(accepted)} starts accepted and completed, {refused} refused")
    assert len(accepted) >= 20


def test_every_deployment_becomes_available(release: ControlPlane) -> None:
    deployments = release.get_json("deployments", "-n", NS)["items"]
    assert len(deployments) == 4
    for d in deployments:
        assert _available(release, NS, d["metadata"]["name"]), d["metadata"]["name"]


def test_helm_test_passes_with_real_pods(release: ControlPlane, api) -> None:
    # The shopping route is applied: the smoke test starts a workflow through it.
    started = time.monotonic()
    out = helm(release, "test", RELEASE, "--namespace", NS, "--logs", "--timeout=5m")
    print(f"helm test: {time.monotonic() - started:.0f}s")
    assert "Succeeded" in out, out
