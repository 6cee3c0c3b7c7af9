"""The chart on a real single-node cluster (``support.node``, its kubelet on its default sync
periods): the images built by ``hack/images.sh`` loaded into the node's containerd, CoreDNS for
the Services' names, Traefik as the ingress controller (``k8s/ingress/traefik.yaml``, applied as
it is), then ``helm install`` with the dev values and two API and two operator replicas,
``helm test``, WorkflowRoutes applied and timed until every API pod serves them, the seed's curl
commands and an event stream through the chart's Ingress, and pods killed under load without
losing a workflow. Before that, ``skaffold run`` (its ``podman`` profile) builds the images,
imports them into the node's containerd and deploys the chart as skaffold.yaml says, in a
namespace of its own; ``skaffold delete`` removes it again.

The node's CNI is the reference bridge plugin: it does not enforce NetworkPolicies, so the chart's
policies are applied but not exercised here (``test_chart.py`` checks what they allow).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from support.images import PODMAN, build_images, podman
from support.kube import ControlPlane
from support.node import DNS_IP, Node, node_assets
from support.procs import ROOT, Process, eventually
from support.tools import helm_dir, skaffold_dir
from temporal_gateway_client import TemporalAPIClient

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]

RELEASE = "tg"
NS = "temporal-gateway"
API_REPLICAS = 2
TRAEFIK = ROOT / "k8s" / "ingress" / "traefik.yaml"
INGRESS_URL = "http://localhost"
"""Where kind's walkthrough curls: the Traefik pod's hostPort 80 (the CNI portmap plugin's
rules take this machine's port 80 to it)."""


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
    traefik_image = _traefik_image(assets / "traefik")
    traefik = _scratch_image(assets / "traefik", f"tg-traefik:{traefik_image.split(':')[1]}",
                             workdir)  # fmt: skip
    node = Node(workdir, logs_dir)
    pause_archive, traefik_archive = workdir / "pause.tar", workdir / "traefik.tar"
    podman("save", "--format=docker-archive", "-o", str(pause_archive), pause)
    podman("save", "--format=docker-archive", "-o", str(traefik_archive), traefik, timeout=600)
    try:
        plane = node.start()
        started = time.monotonic()
        node.import_image(pause_archive)
        for archive in archives:
            node.import_image(archive)
        node.import_image(traefik_archive)
        # The manifest names Traefik's own image; the node cannot pull, so the same release,
        # built from its module, answers to that name in this node's containerd only.
        node.ctr("images", "tag", traefik, f"docker.io/library/{traefik_image}")
        print(f"images imported in {time.monotonic() - started:.0f}s")
        node.wait_ready()
        plane.kubectl("apply", "-f", "-", input=COREDNS)
        eventually(lambda: _available(plane, "kube-system", "coredns"), timeout=180, interval=1)
        yield node, plane
    finally:
        node.stop()


def _traefik_image(binary: Path) -> str:
    """The image ``k8s/ingress/traefik.yaml`` runs, checked to be the release that was built."""
    docs = [d for d in yaml.safe_load_all(TRAEFIK.read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    version = subprocess.run(
        [binary, "version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    built = next(line.split()[1] for line in version.splitlines() if line.startswith("Version:"))
    assert image == f"traefik:{built}", f"{TRAEFIK} runs {image}, hack/node-assets.sh built {built}"
    return str(image)


def _available(plane: ControlPlane, namespace: str, name: str) -> bool:
    status = plane.get_json("deployment", name, "-n", namespace).get("status", {})
    return any(
        c["type"] == "Available" and c["status"] == "True" for c in status.get("conditions", [])
    )


# --- skaffold -------------------------------------------------------------------------------
# These tests come first in the file, so skaffold's release is gone before `tg` is installed:
# both operators watch every namespace, and two of them would both serve a route. The names of
# their cluster-wide objects differ by release (temporal-gateway-operator and
# tg-temporal-gateway-operator); the CRD is in the chart's crds/, which helm installs when it is
# missing and never deletes, so neither release owns it.

SKAFFOLD_NS = "tg-skaffold"
SKAFFOLD_RELEASE = "temporal-gateway"  # skaffold.yaml's
SKAFFOLD_GLOBAL = "global:\n  collect-metrics: false\n  survey: {disable-prompt: true}\n"


@pytest.fixture(scope="module")
def docker_api(tmp_path_factory, logs_dir) -> Iterator[str]:
    """podman's Docker-compatible API on hack/podman.sh's storage: skaffold reads the ID of each
    image its custom builder made there (and refuses to build for an unpushed image without
    one: "Cannot connect to the Docker daemon")."""
    socket = tmp_path_factory.mktemp("podman-api") / "docker.sock"
    service = Process(
        "podman-api", [PODMAN, "system", "service", "--time=0", f"unix://{socket}"],
        log_dir=logs_dir,
    )  # fmt: skip
    try:
        eventually(lambda: service.alive() and socket.exists(), timeout=30)
        yield f"unix://{socket}"
    finally:
        service.stop()


class Skaffold:
    """``skaffold`` (``hack/skaffold.sh``) against the node: its kubeconfig, podman's Docker API,
    the node's containerd for the custom builder, a global config and an artifact cache of the
    test's own (so the first run builds, and so imports, whatever an earlier run left cached)."""

    def __init__(self, node: Node, plane: ControlPlane, docker_host: str, workdir: Path,
                 logs: Path) -> None:  # fmt: skip
        self.plane, self.workdir, self.logs, self.runs = plane, workdir, logs, 0
        (workdir / "config").write_text(SKAFFOLD_GLOBAL)
        tools = skaffold_dir()
        self.binary = tools / "skaffold"
        self.env = {
            # skaffold's helm (Helm 3) and kubectl first.
            "PATH": f"{tools}:{plane.kubectl_bin.parent}:{os.environ['PATH']}",
            "DOCKER_HOST": docker_host,
            "TG_CONTAINERD_ADDRESS": str(node.socket),
            "CONTAINERD_SNAPSHOTTER": "native",
            "KUBECONFIG": str(plane.kubeconfig),
        }

    def __call__(self, *args: str, timeout: float = 1500) -> tuple[int, str, float]:
        self.runs += 1
        command = [
            str(self.binary), *args, "--kubeconfig", str(self.plane.kubeconfig),
            "--config", str(self.workdir / "config"), "--update-check=false",
            "--interactive=false",
        ]  # fmt: skip
        started = time.monotonic()
        proc = Process(f"skaffold-{self.runs}-{args[0]}", command, log_dir=self.logs, env=self.env)
        try:
            code = proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.stop()
            raise AssertionError(f"skaffold {args} still running after {timeout}s") from None
        return code, proc.log(), time.monotonic() - started

    def run(self) -> tuple[str, float]:
        code, out, took = self(
            "run", "-p", "podman", "--namespace", SKAFFOLD_NS,
            "--cache-file", str(self.workdir / "cache"),
        )  # fmt: skip
        assert code == 0, f"skaffold run exited {code}:\n{out[-8000:]}"
        return out, took


@pytest.fixture(scope="module")
def skaffold(node, docker_api, tmp_path_factory, logs_dir) -> Iterator[Skaffold]:
    n, plane = node
    runner = Skaffold(n, plane, docker_api, tmp_path_factory.mktemp("skaffold"), logs_dir)
    try:
        yield runner
    finally:
        # Whatever happened, nothing of skaffold's release stays for the tests after these.
        runner("delete", "-p", "podman", "--namespace", SKAFFOLD_NS, timeout=600)
        plane.kubectl_result("delete", "namespace", SKAFFOLD_NS, "--ignore-not-found",
                             "--timeout=180s")  # fmt: skip


def _images_in_node(n: Node) -> set[str]:
    return set(n.ctr("images", "list", "--quiet").split())


@pytest.mark.skaffold
def test_skaffold_config_parses_and_is_the_latest_version() -> None:
    skaffold_bin = skaffold_dir() / "skaffold"
    env = {**os.environ, "PATH": f"{skaffold_dir()}:{os.environ['PATH']}"}
    fix = subprocess.run(
        [skaffold_bin, "fix", "--update-check=false"], capture_output=True, text=True, cwd=ROOT,
        env=env, check=False, timeout=120,
    )  # fmt: skip
    assert fix.returncode == 0, fix.stderr
    version = yaml.safe_load((ROOT / "skaffold.yaml").read_text())["apiVersion"]
    assert f"config is already version {version}" in fix.stdout + fix.stderr
    for profile in ([], ["-p", "podman"]):
        diagnose = subprocess.run(
            [skaffold_bin, "diagnose", "--yaml-only", "--update-check=false", *profile],
            capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert diagnose.returncode == 0, diagnose.stderr
        effective = yaml.safe_load(diagnose.stdout)
        builders = {next(k for k in ("docker", "custom") if k in a)
                    for a in effective["build"]["artifacts"]}  # fmt: skip
        assert builders == ({"custom"} if profile else {"docker"}), effective["build"]


@pytest.mark.skaffold
def test_skaffold_run_builds_with_podman_and_deploys_the_chart(node, skaffold) -> None:
    n, plane = node
    out, cold = skaffold.run()
    print(f"skaffold run (podman profile): {cold:.0f}s")
    # skaffold waited for every Deployment (its status check) before exiting 0; check anyway.
    deployments = {
        d["metadata"]["name"]: d for d in plane.get_json("deployments", "-n", SKAFFOLD_NS)["items"]
    }
    assert set(deployments) == {
        f"{SKAFFOLD_RELEASE}-{c}" for c in ("api", "worker", "operator", "temporal-dev")
    }
    in_node = _images_in_node(n)
    for name, deployment in deployments.items():
        assert _available(plane, SKAFFOLD_NS, name), name
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        # skaffold's tag for an image it built and did not push: name:<image ID>, no digest.
        assert re.fullmatch(r"temporal-gateway-[a-z-]+:[0-9a-f]{64}", container["image"])
        assert f"docker.io/library/{container['image']}" in in_node
        assert container["imagePullPolicy"] == "IfNotPresent"
    assert "Not found. Building" in out

    plane.kubectl("apply", "-n", SKAFFOLD_NS, "-f", str(ROOT / "k8s" / "routes" / "shopping.yaml"))
    service = plane.get_json("service", f"{SKAFFOLD_RELEASE}-api", "-n", SKAFFOLD_NS)
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "http")
    url = f"http://{service['spec']['clusterIP']}:{port}"
    secret = plane.get_json("secret", f"{SKAFFOLD_RELEASE}-api-key", "-n", SKAFFOLD_NS)
    key = base64.b64decode(secret["data"]["api-key"]).decode()
    start = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}

    def served() -> dict:
        response = httpx.post(f"{url}/workflows/shopping", json=start, timeout=60,
                              headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    done = eventually(served, timeout=120, interval=1)
    assert done["status"] == "completed"
    assert done["result"] == "Ordered 5 Apples...Ordered 3 Bananas..."

    # The same sources again: skaffold's inputDigest tags are in its cache, nothing is built.
    out, warm = skaffold.run()
    print(f"skaffold run again, nothing changed: {warm:.0f}s")
    assert out.count("Found Locally") == 4, out
    assert "Building [" not in out, out
    assert "[images]" not in out, "hack/skaffold-build.sh ran"
    for name in deployments:
        assert _available(plane, SKAFFOLD_NS, name), name


@pytest.mark.skaffold
def test_skaffold_delete_removes_its_release(node, skaffold) -> None:
    _, plane = node
    code, out, took = skaffold("delete", "-p", "podman", "--namespace", SKAFFOLD_NS)
    assert code == 0, out
    print(f"skaffold delete: {took:.0f}s")
    assert not plane.get_json("deployments", "-n", SKAFFOLD_NS)["items"]
    releases = subprocess.run(
        [str(skaffold_dir() / "helm"), "--kubeconfig", str(plane.kubeconfig), "list", "-q",
         "-n", SKAFFOLD_NS],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert releases == []
    clusterroles = plane.get_json("clusterroles")["items"]
    assert f"{SKAFFOLD_RELEASE}-operator" not in {c["metadata"]["name"] for c in clusterroles}
    # The CRD stays (crds/ is not deleted on uninstall), for the release installed next.
    plane.kubectl("get", "crd", "workflowroutes.temporal-gateway.dev")


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


def _image_tags() -> list[str]:
    """With ``IMAGE_TAG`` (``hack/images.sh`` tagged this run's images so, apart from other
    checkouts' builds on the same podman storage), the chart runs those tags."""
    tag = os.environ.get("IMAGE_TAG")
    if not tag:
        return []
    return [a for c in ("api", "worker", "operator") for a in ("--set", f"{c}.image.tag={tag}")]


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
        # Two of each: a change must reach every API pod, and one operator leads.
        "--set",
        f"api.replicaCount={API_REPLICAS}",
        "--set",
        "operator.replicaCount=2",
        *_image_tags(),
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


@pytest.fixture(scope="module")
def ingress(node) -> str:
    """Traefik, from ``k8s/ingress/traefik.yaml`` as a user applies it; its URL on this machine."""
    _, plane = node
    plane.kubectl("apply", "-f", str(TRAEFIK))
    eventually(lambda: _available(plane, "traefik", "traefik"), timeout=180, interval=1)
    return INGRESS_URL


def _pod_urls(plane: ControlPlane) -> dict[str, str]:
    """Each running API pod's own URL (its pod IP: the node's bridge routes the host there)."""
    pods = plane.get_json("pods", "-n", NS, "-l", "app.kubernetes.io/component=api")["items"]
    return {
        p["metadata"]["name"]: f"http://{p['status']['podIP']}:8000"
        for p in pods
        if p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp")
    }


def _route(name: str) -> dict:
    shopping = yaml.safe_load((ROOT / "k8s" / "routes" / "shopping.yaml").read_text())
    shopping["metadata"] = {"name": name, "namespace": NS}
    shopping["spec"]["path"] = name
    shopping["spec"]["workflowId"] = {"prefix": f"{name}-"}
    return shopping


def _serves(url: str, path: str, key: str) -> bool:
    # A route's own OpenAPI document: 200 once that pod serves it, 404 before (read with the
    # administrator key: outside development a caller is shown its routes only).
    answer = httpx.get(
        f"{url}/workflows/{path}/openapi.json", headers={"X-API-Key": key}, timeout=5
    )
    return answer.status_code == 200


def test_a_change_reaches_every_api_pod_within_seconds(node, release: ControlPlane, api) -> None:
    n, _ = node
    _, key = api
    assert not {"syncFrequency", "fileCheckFrequency"} & set(n.kubelet_config), "defaults"
    urls = eventually(lambda: (u := _pod_urls(release)) and len(u) == API_REPLICAS and u,
                      timeout=120, interval=1)  # fmt: skip
    timings: dict[str, list[float]] = {pod: [] for pod in urls}
    names = [f"propagation-{i}" for i in range(7)]
    try:
        for name in names:
            applied = time.monotonic()
            release.kubectl("apply", "-f", "-", input=json.dumps(_route(name)))
            pending = dict(urls)
            while pending:
                assert time.monotonic() - applied < 60, f"{name} not served by {list(pending)}"
                for pod, url in list(pending.items()):
                    if _serves(url, name, key):
                        timings[pod].append(time.monotonic() - applied)
                        del pending[pod]
                time.sleep(0.05)
        # Every pod on its own: one slow replica must not hide behind a fast one.
        p50s = {pod: statistics.median(seen) for pod, seen in timings.items()}
        each = [
            f"{pod} p50 {p50s[pod]:.2f}s, max {max(seen):.2f}s of {[round(t, 2) for t in seen]}"
            for pod, seen in timings.items()
        ]
        print(
            f"kubectl apply → served (kubelet sync periods at their defaults), on each of "
            f"{len(urls)} API pods: " + "; ".join(each)
        )
        assert all(len(seen) == len(names) for seen in timings.values())
        assert max(p50s.values()) <= 2, p50s
        # One operator leads (the Lease's holder, a pod of the Deployment), the other stands by.
        lease = release.get_json("lease", f"{RELEASE}-temporal-gateway-operator", "-n", NS)
        assert lease["spec"]["holderIdentity"].rsplit("-", 1)[0] in _pods(release, "operator")
        assert len(_pods(release, "operator")) == 2
    finally:
        release.kubectl("delete", "workflowroute", "-n", NS, *names, "--ignore-not-found")
    for name in names:
        eventually(lambda name=name: not any(_serves(u, name, key) for u in urls.values()),
                   timeout=30, interval=0.2)  # fmt: skip


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

    # Each API pod follows the WorkflowRoutes through the API server: no kubelet sync waited.
    done = eventually(served, timeout=30, interval=0.2)
    print(f"route served (a workflow started and completed) {time.monotonic() - applied:.1f}s "
          "after kubectl apply")  # fmt: skip
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


def _curl(*args: str, key: str) -> tuple[int, str]:
    """Run the real curl, print the command (``key`` shown as $TOKEN) and its answer; the
    status and the body."""
    shown = shlex.join(args).replace(key, "$TOKEN")
    print(f"$ curl {shown}")
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-w", "\n%{http_code}", *args],
        capture_output=True, text=True, check=False, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, f"curl {shown}: {done.stderr}"
    body, _, status = done.stdout.rpartition("\n")
    print(f"{body}\n[HTTP {status}]")
    return int(status), body


def test_the_seed_curl_commands_answer_through_the_ingress(
    release: ControlPlane, api, ingress: str
) -> None:
    """The seed guide's commands, with the chart's key, and the ingress' URL for the seed's
    http://localhost:8000; the dev values' Ingress matches any host, so no Host header."""
    _, key = api
    auth = ("-H", f"Authorization: Bearer {key}")
    as_json = ("-H", "Content-Type: application/json")

    def curl(*args: str) -> tuple[int, str]:
        return _curl(*args, key=key)

    release.kubectl("apply", "-n", NS, "-f", str(ROOT / "k8s" / "routes" / "shopping.yaml"))

    def healthy() -> bool:
        status, body = curl(f"{ingress}/")
        return status == 200 and json.loads(body)["temporal_connected"] is True

    eventually(healthy, timeout=120, interval=1)  # Traefik has loaded the Ingress

    def synchronous() -> dict:
        items = '{"items":[{"fruit":"APPLE","amount":5},{"fruit":"BANANA","amount":3}]}'
        status, body = curl("-X", "POST", f"{ingress}/workflows/shopping", *auth, *as_json,
                            "-d", items)  # fmt: skip
        assert status == 200, body
        return json.loads(body)

    done = eventually(synchronous, timeout=120, interval=1)  # the route may still be syncing
    assert done["status"] == "completed"
    assert done["result"] == "Ordered 5 Apples...Ordered 3 Bananas..."

    status, body = curl("-X", "POST", f"{ingress}/workflows/shopping/async", *auth, *as_json,
                        "-d", '{"items":[{"fruit":"ORANGE","amount":10}]}')  # fmt: skip
    assert status in (200, 202), body
    started = json.loads(body)
    assert started["status"] == "started"
    workflow_id = started["workflow_id"]

    def completed() -> dict:
        status, body = curl(f"{ingress}/workflows/{workflow_id}/status", *auth)
        assert status == 200, body
        answer = json.loads(body)
        return answer if answer["status"] == "COMPLETED" else {}

    assert eventually(completed, timeout=60, interval=1)["workflow_id"] == workflow_id
    status, body = curl(f"{ingress}/workflows/{workflow_id}/result", *auth)
    assert status == 200, body
    assert json.loads(body) == {
        "workflow_id": workflow_id, "status": "completed", "result": "Ordered 10 Oranges..."
    }  # fmt: skip

    # A closed workflow's stream: its events, then `end`, and the response is over.
    status, body = curl("-N", "-H", "Accept: text/event-stream", *auth,
                        f"{ingress}/workflows/{workflow_id}/events")  # fmt: skip
    assert status == 200, body
    assert body.rstrip().endswith('event: end\ndata: {"status":"COMPLETED"}'), body[-300:]

    status, body = curl(f"{ingress}/workflows/shopping-workflow-no-such-id/status", *auth)
    assert status == 404, body
    assert json.loads(body)["code"] == "workflow-not-found"
    status, body = curl("-X", "POST", f"{ingress}/workflows/shopping", *as_json,
                        "-d", '{"items":[{"fruit":"APPLE","amount":5}]}')  # fmt: skip
    assert status == 401, body

    # They went through Traefik's router for the chart's Ingress, to an API pod.
    def logged() -> list[str]:
        logs = release.kubectl("logs", "-n", "traefik", "deployment/traefik")
        wanted = f'"GET /workflows/{workflow_id}/result HTTP/1.1" 200'
        return [line for line in logs.splitlines() if wanted in line]

    (line,) = eventually(logged, timeout=30, interval=1)
    print(f"traefik's access log: {line}")
    assert f'"{NS}-{RELEASE}-temporal-gateway-api' in line, line
    assert '@kubernetes" "http://' in line, line
    assert ':8000" ' in line, line


def test_an_event_stream_through_the_ingress_is_not_buffered(
    release: ControlPlane, api, ingress: str
) -> None:
    """Events of a running order reach the client through Traefik while the workflow waits
    for its approval: the stream is passed on as it comes, not once the response is done."""
    _, key = api
    headers = {"Authorization": f"Bearer {key}"}
    release.kubectl("apply", "-n", NS, "-f", str(ROOT / "k8s" / "routes" / "orders.yaml"))
    order = {"customer": "alice", "items": [{"fruit": "APPLE", "amount": 2}]}

    def start() -> dict:
        response = httpx.post(f"{ingress}/workflows/orders/async", json=order, headers=headers,
                              timeout=30)  # fmt: skip
        assert response.status_code in (200, 202), response.text
        return response.json()

    workflow_id = eventually(start, timeout=120, interval=1)["workflow_id"]
    seen: list[tuple[str, object]] = []
    approved_after = -1
    with (
        TemporalAPIClient(ingress, headers=headers, timeout=60) as streaming,
        TemporalAPIClient(ingress, headers=headers, timeout=60) as other,
    ):
        for event in streaming.events(workflow_id):
            seen.append((event.event, event.data))
            if (
                approved_after < 0
                and event.event == "status"
                and event.data == {"status": "RUNNING"}
            ):
                # Only this approval lets the order close: everything so far came through
                # while the response was still open.
                approved_after = len(seen)
                other.signal(workflow_id, "approve", {"approver": "bob"})
        result = other.get_result(workflow_id)
    print(f"events through the ingress: {seen}")
    assert approved_after > 0, seen
    assert seen[-1] == ("end", {"status": "COMPLETED"}), seen
    later = [data.get("signal_name") for kind, data in seen[approved_after:]
             if kind == "history" and isinstance(data, dict)]  # fmt: skip
    assert "approve" in later, seen
    assert result["status"] == "completed", result
