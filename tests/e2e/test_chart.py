"""The Helm chart, the kustomize base and skaffold.yaml, with the real ``helm`` (v4, built from
its Go module) against the real kube-apiserver of the session (no kubelet: objects are created,
pods never run, so the tests assert objects and fields).

- ``helm lint --strict`` and ``helm template`` for each value profile; every rendered manifest,
  the optional CRD-backed objects included (their real CRDs are installed), accepted by a
  server-side dry run in namespaces that enforce the *restricted* Pod Security Standard;
- ``helm install``, ``upgrade``, ``uninstall``, and the installed objects' fields;
- the operator and API processes, as the chart's ServiceAccounts, judging and following the
  WorkflowRoutes with only the chart's RBAC; the API process, configured as the chart
  configures it, answering its probes as they mean; the ``helm test`` smoke script run
  against it;
- ``kubectl kustomize`` of ``k8s/base`` and ``k8s/kind``; ``skaffold.yaml`` against the schema
  shipped in skaffold's own module, and the chart rendered as skaffold renders it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway_operator.config import OperatorSettings
from support.kube import ControlPlane, wait_for_condition
from support.procs import ROOT, ApiProcess, Process, eventually, free_port
from support.tools import helm_dir, kube_schemas_dir

pytestmark = pytest.mark.e2e

CHART = ROOT / "charts" / "temporal-gateway"
PROFILES = {
    "default": [],
    "dev": [CHART / "values-dev.yaml"],
    "production": [CHART / "values-production.yaml"],
    "minimal": [CHART / "values-minimal.yaml"],
}
# What `helm template` would see in a cluster running prometheus-operator, Gateway API and KEDA.
OPTIONAL_APIS = [
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "keda.sh/v1alpha1/ScaledObject",
]
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition"}
ROUTES_NAMESPACE = "temporal-gateway-routes"  # values-production.yaml's operator.watchNamespaces


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


class Helm:
    """The real helm CLI, with its own config and cache folders, on the session's cluster."""

    def __init__(self, plane: ControlPlane, home: Path) -> None:
        self.bin = helm_dir() / "helm"
        assert self.bin.is_file(), f"{self.bin} is missing: run hack/helm.sh"
        self.plane = plane
        self.env = {
            **os.environ,
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_DATA_HOME": str(home / "data"),
            "KUBECONFIG": str(plane.kubeconfig),
        }

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin), *map(str, args)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def __call__(self, *args: str | Path) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"helm {' '.join(map(str, args))}:\n{done.stderr}"
        return done.stdout

    def template(
        self,
        *options: str | Path,
        values: Sequence[Path] = (),
        release: str = "tg",
        namespace: str = "tg",
        api_versions: Sequence[str] = OPTIONAL_APIS,
    ) -> list[dict[str, Any]]:
        args: list[str | Path] = ["template", release, CHART, "-n", namespace]
        for path in values:
            args += ["-f", path]
        for api in api_versions:
            args += ["--api-versions", api]
        return [doc for doc in yaml.safe_load_all(self(*args, *options)) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c.get("env", [])}


def port_number(c: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in c["ports"] if p["name"] == port]
    return int(number)


def server_dry_run(
    plane: ControlPlane, docs: list[dict[str, Any]], namespace: str, *, move: bool = False
) -> str:
    """Every document through the API server's admission and validation; no warnings allowed
    (the namespaces enforce and warn on the restricted Pod Security Standard). ``move`` puts
    namespaced objects in ``namespace`` even when they name another."""
    items = []
    for doc in docs:
        doc = json.loads(json.dumps(doc))
        if doc["kind"] not in CLUSTER_SCOPED:
            if move:
                doc["metadata"]["namespace"] = namespace
            doc["metadata"].setdefault("namespace", namespace)
        items.append(doc)
    done = plane.kubectl_result(
        "apply",
        "--dry-run=server",
        "--server-side",
        "--force-conflicts",
        "--field-manager=chart-test",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    return done.stdout


def create_namespace(plane: ControlPlane, name: str) -> None:
    plane.kubectl("create", "namespace", name)
    plane.kubectl(
        "label",
        "namespace",
        name,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    )


@pytest.fixture(scope="module")
def cluster(plane: ControlPlane) -> ControlPlane:
    """The session's control plane with the CRDs of the chart's optional objects."""
    crds = kube_schemas_dir() / "crds"
    files = sorted(crds.glob("*.yaml"))
    assert len(files) == 5, files
    args = [a for f in files for a in ("-f", str(f))]
    plane.kubectl("apply", "--server-side", "--force-conflicts", *args)
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *args)
    for name in (ROUTES_NAMESPACE, "kustomize", *(f"profile-{p}" for p in PROFILES)):
        if plane.kubectl_result("get", "namespace", name).returncode != 0:
            create_namespace(plane, name)
    return plane


@pytest.fixture(scope="module")
def helm(cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(cluster, tmp_path_factory.mktemp("helm"))


@pytest.fixture(scope="module")
def release(helm: Helm, cluster: ControlPlane) -> Iterator[tuple[str, str]]:
    """The chart installed with its dev values in a fresh namespace: (release, namespace)."""
    namespace, name = unique("chart"), "tg"
    create_namespace(cluster, namespace)
    helm("install", name, CHART, "-n", namespace, "-f", CHART / "values-dev.yaml")
    try:
        yield name, namespace
    finally:
        helm("uninstall", name, "-n", namespace)


# --- lint and render --------------------------------------------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_lint_is_clean_for_every_profile(helm, profile) -> None:
    args: list[str | Path] = ["lint", "--strict", CHART]
    for path in PROFILES[profile]:
        args += ["-f", path]
    out = helm(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in out, out


def test_lint_is_clean_for_the_temporal_dev_subchart(helm) -> None:
    # Alone: `--with-subcharts` would apply the parent's values files to it.
    out = helm("lint", "--strict", CHART / "charts" / "temporal-dev")
    assert "1 chart(s) linted, 0 chart(s) failed" in out, out


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_renders_and_the_api_server_accepts_it(helm, cluster, profile) -> None:
    namespace = f"profile-{profile}"
    docs = helm.template(values=PROFILES[profile], release=profile, namespace=namespace)
    server_dry_run(cluster, docs, namespace)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    full = f"{profile}-temporal-gateway"
    for component in ("api", "worker", "operator"):
        assert ("Deployment", f"{full}-{component}") in names
        assert ("ServiceAccount", f"{full}-{component}") in names
    present = set(kinds(docs))
    if profile == "minimal":
        assert present == {
            "ClusterRole", "ClusterRoleBinding", "Deployment", "Pod", "Role", "RoleBinding",
            "Secret", "Service", "ServiceAccount",
        }  # fmt: skip
    if profile != "production":  # nothing open: a generated key where none is configured
        assert ("Secret", f"{full}-api-key") in names
    if profile in ("default", "dev"):
        assert ("Deployment", f"{profile}-temporal-dev") in names
        assert {"NetworkPolicy", "ServiceMonitor", "PrometheusRule"} <= present
    if profile in ("default", "production"):
        assert "PodDisruptionBudget" in present
        budgets = {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"}
        assert f"{full}-operator" in budgets, "one operator replica stays through a drain"
        assert find(docs, "Deployment", f"{full}-operator")["spec"]["replicas"] == 2
    # The API follows the WorkflowRoutes through the Kubernetes API: no route volume, a token,
    # and a role that reads exactly the routes (where the operator serves them).
    api = find(docs, "Deployment", f"{full}-api")
    assert env_of(container(api))["API_ROUTES_SOURCE"] == "kubernetes"
    assert not [v for v in api["spec"]["template"]["spec"]["volumes"] if v["name"] == "routes"]
    assert api["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    reads_routes = [{
        "apiGroups": ["temporal-gateway.dev"], "resources": ["workflowroutes"],
        "verbs": ["get", "list", "watch"],
    }]  # fmt: skip
    if profile == "production":
        role = find(docs, "Role", f"{full}-api-routes")
        assert role["metadata"]["namespace"] == ROUTES_NAMESPACE
        assert env_of(container(api))["API_ROUTES_NAMESPACES"] == ROUTES_NAMESPACE
        assert ("ClusterRole", f"{full}-api") not in names
    else:
        role = find(docs, "ClusterRole", f"{full}-api")
        assert env_of(container(api))["API_ROUTES_NAMESPACES"] == ""
    assert role["rules"] == reads_routes
    if profile == "dev":
        assert find(docs, "Ingress")["spec"]["ingressClassName"] == "traefik"
    if profile == "production":
        assert not any(name.endswith("temporal-dev") for _, name in names)
        assert {"ScaledObject", "TriggerAuthentication", "HorizontalPodAutoscaler"} <= present
        secrets = [name for kind, name in names if kind == "Secret"]
        assert not [n for n in secrets if n.endswith("-api-key")], "production brings its keys"
        api_env = env_of(container(find(docs, "Deployment", f"{full}-api")))
        assert api_env["API_KEYS_FILE"] == "/etc/temporal-gateway/keys/keys.yaml"
        assert api_env["API_JWT_ISSUER"].startswith("https://")
        assert find(docs, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["name"] == (
            f"{full}-api"
        ), "KEDA scales the worker; the HPA only the API"


KUSTOMIZE_RBAC = ROOT / "k8s" / "operator" / "rbac.yaml"
OPERATOR_CLUSTER_ROLE = ("ClusterRole", "temporal-gateway-operator")  # kustomize's
OPERATOR = "tg-temporal-gateway-operator"  # the chart's, as helm.template's release tg names it
SCHEDULES = {"workflowschedules", "workflowschedules/status"}


def rule_set(rules: list[dict[str, Any]]) -> list[str]:
    """Rules compared whatever their order (and the order of their lists)."""
    return sorted(json.dumps({k: sorted(v) for k, v in r.items()}, sort_keys=True) for r in rules)


def on_schedules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rules if SCHEDULES & set(r["resources"])]


def test_the_operator_may_do_with_workflowschedules_what_the_kustomize_rbac_allows(helm) -> None:
    """The chart installs the WorkflowSchedule CRD, and its operator RBAC is
    k8s/operator/rbac.yaml's (which test_operator_has_only_the_permissions_it_needs holds to
    what the operator needs): cluster-wide, or in each of operator.watchNamespaces only."""
    rbac = list(yaml.safe_load_all(KUSTOMIZE_RBAC.read_text()))
    (wanted,) = [
        d["rules"] for d in rbac if (d["kind"], d["metadata"]["name"]) == OPERATOR_CLUSTER_ROLE
    ]
    assert {r for rule in on_schedules(wanted) for r in rule["resources"]} == SCHEDULES

    docs = helm.template("--include-crds")
    crd = find(docs, "CustomResourceDefinition", "workflowschedules.temporal-gateway.dev")
    assert crd == yaml.safe_load(
        (ROOT / "k8s" / "crds" / "workflowschedules.temporal-gateway.dev.yaml").read_text()
    )
    cluster_wide = find(docs, "ClusterRole", OPERATOR)["rules"]
    assert rule_set(on_schedules(cluster_wide)) == rule_set(on_schedules(wanted))
    assert rule_set(cluster_wide) == rule_set(wanted), "the whole ClusterRole, as kustomize's"
    assert not [d for d in docs if d["kind"] == "Role" and on_schedules(d["rules"])]

    # With operator.watchNamespaces: nothing cluster-wide, the same rules in each namespace.
    namespaces = [ROUTES_NAMESPACE, "apps"]
    docs = helm.template("--set", f"operator.watchNamespaces={{{','.join(namespaces)}}}")
    cluster_wide = find(docs, "ClusterRole", OPERATOR)["rules"]
    assert on_schedules(cluster_wide) == []
    roles = [
        d for d in docs if (d["kind"], d["metadata"]["name"]) == ("Role", f"{OPERATOR}-routes")
    ]
    assert sorted(d["metadata"]["namespace"] for d in roles) == sorted(namespaces)
    for role in roles:
        assert rule_set(on_schedules(role["rules"])) == rule_set(on_schedules(wanted))
        assert rule_set([*cluster_wide, *role["rules"]]) == rule_set(wanted)


def test_gateway_api_route_and_worker_cpu_autoscaling_are_accepted(helm, cluster) -> None:
    namespace = "profile-production"
    docs = helm.template(
        "--set", "httpRoute.enabled=true",
        "--set", "httpRoute.parentRefs[0].name=public",
        "--set", "httpRoute.parentRefs[0].namespace=gateway-system",
        "--set", "httpRoute.hostnames[0]=gateway.example.com",
        "--set", "worker.keda.enabled=false",
        "--set", "worker.autoscaling.enabled=true",
        values=PROFILES["production"], release="gwapi", namespace=namespace,
    )  # fmt: skip
    server_dry_run(cluster, docs, namespace)
    route = find(docs, "HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    (backend,) = route["spec"]["rules"][0]["backendRefs"]
    assert backend == {"name": "gwapi-temporal-gateway-api", "port": 8000}
    hpas = {
        h["spec"]["scaleTargetRef"]["name"] for h in docs if h["kind"] == "HorizontalPodAutoscaler"
    }
    assert hpas == {"gwapi-temporal-gateway-api", "gwapi-temporal-gateway-worker"}
    assert "ScaledObject" not in kinds(docs)


def test_keda_scales_the_worker_on_its_task_queue(helm, cluster) -> None:
    docs = helm.template(values=PROFILES["production"], release="k", namespace="profile-production")
    scaled = find(docs, "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "temporal"
    assert trigger["metadata"] | {"queueTypes": None} == {
        "endpoint": "gateway.a1b2c.tmprl.cloud:7233",
        "namespace": "gateway.a1b2c",
        "taskQueue": "shopping-task-queue",
        "targetQueueSize": "10",
        "activationTargetQueueSize": "0",
        "enableTLS": "true",
        "queueTypes": None,
    }
    assert scaled["spec"]["scaleTargetRef"]["name"] == "k-temporal-gateway-worker"
    assert (
        trigger["authenticationRef"]["name"]
        == find(docs, "TriggerAuthentication")["metadata"]["name"]
    )
    refs = {
        r["parameter"]: r for r in find(docs, "TriggerAuthentication")["spec"]["secretTargetRef"]
    }
    assert refs["cert"] == {"parameter": "cert", "name": "temporal-client", "key": "tls.crt"}
    assert refs["key"] == {"parameter": "key", "name": "temporal-client", "key": "tls.key"}
    worker = find(docs, "Deployment", "k-temporal-gateway-worker")
    assert "replicas" not in worker["spec"], "KEDA owns the replica count"

    # With the dev Temporal, KEDA (in its own namespace) dials the Service's full name.
    docs = helm.template("--set", "worker.keda.enabled=true", release="k", namespace="ns1")
    (trigger,) = find(docs, "ScaledObject")["spec"]["triggers"]
    assert trigger["metadata"]["endpoint"] == "k-temporal-dev.ns1.svc:7233"
    assert trigger["metadata"]["enableTLS"] == "false"
    assert "TriggerAuthentication" not in kinds(docs)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["api.port=0"], "/api/port"),
        (["api.replicas=3"], "replicas"),  # a typo of replicaCount
        (
            [
                "ingress.enabled=true",
                "ingress.hosts[0].paths[0].path=/",
                "ingress.hosts[0].paths[0].pathType=Bogus",
            ],
            "pathType",
        ),
        (["temporal.address=no-port"], "/temporal/address"),
        (["worker.keda.queueTypes={nexus}"], "queueTypes"),
        (["api.image.digest=latest"], "digest"),
        (["logLevel=LOUD"], "logLevel"),
        (["operator.watchNamespaces={Not_A_Namespace}"], "watchNamespaces"),
        (["api.rateLimit.perCaller=lots"], "perCaller"),
        (["api.auth.oidc.issuer=not-a-url"], "issuer"),
        (["api.corsOrigins={example.com/path}"], "corsOrigins"),
        (["api.workers=0"], "/api/workers"),
        (["api.routes.source=configmap"], "source"),
    ],
)
def test_the_values_schema_refuses_bad_values(helm, sets, message) -> None:
    args = ["template", "tg", str(CHART)]
    for item in sets:
        args += ["--set", item]
    done = helm.run(*args)
    assert done.returncode != 0, f"accepted: {sets}"
    assert "schema" in done.stderr, done.stderr
    assert message in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["temporal-dev.enabled=false"], "temporal.address is required"),
        (["worker.autoscaling.enabled=true", "worker.keda.enabled=true"], "enable one"),
        (["temporal.namespace=orders"], "add it to temporal-dev.namespaces"),
        (["httpRoute.enabled=true"], "httpRoute.parentRefs is empty"),
        (["api.auth.apiKeys.generate=false"], "refuses to run without authentication"),
        (["api.auth.oidc.issuer=https://idp.example.com"], "oidc.audience is required"),
        (["operator.enabled=false"], "enable the operator, or set api.routes.source files"),
        (["api.routes.source=files"], "set api.routes.configMap"),
    ],
)
def test_contradictory_values_fail_with_a_message_that_says_what_to_do(helm, sets, message):
    args = ["template", "tg", str(CHART)]
    for item in sets:
        args += ["--set", item]
    done = helm.run(*args)
    assert done.returncode != 0, f"accepted: {sets}"
    assert message in done.stderr, done.stderr


def test_route_files_for_a_cluster_without_the_operator(helm, cluster) -> None:
    namespace = "profile-minimal"
    docs = helm.template(
        "--set", "operator.enabled=false",
        "--set", "api.routes.source=files",
        "--set", "api.routes.configMap=gateway-routes",
        values=PROFILES["minimal"], release="files", namespace=namespace,
    )  # fmt: skip
    server_dry_run(cluster, docs, namespace)
    full = "files-temporal-gateway"
    api = find(docs, "Deployment", f"{full}-api")
    pod = api["spec"]["template"]["spec"]
    env = env_of(container(api))
    assert env["API_ROUTES_SOURCE"] == "files"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "routes"]
    assert volume["configMap"] == {"name": "gateway-routes", "optional": True}
    (mount,) = [m for m in container(api)["volumeMounts"] if m["name"] == "routes"]
    assert mount["mountPath"] == env["API_ROUTES_PATH"]
    assert "subPath" not in mount, "edits reach the pods"
    assert pod["automountServiceAccountToken"] is False, "no watch: no token"
    assert not [d for d in docs if d["kind"] in ("Role", "ClusterRole", "RoleBinding")]
    assert not [d for d in docs if d["metadata"]["name"].endswith("-operator")]


def test_descriptor_sets_from_a_configmap_reach_the_api(helm, cluster) -> None:
    """``api.descriptorSets.configMap``: every key a file in the directory the API reads its
    protobuf descriptor sets from (``API_DESCRIPTOR_SETS_DIR``), edits reaching the pods."""
    namespace = "profile-minimal"
    docs = helm.template(
        "--set", "api.descriptorSets.configMap=gateway-descriptors",
        values=PROFILES["minimal"], release="protos", namespace=namespace,
    )  # fmt: skip
    server_dry_run(cluster, docs, namespace)
    api = find(docs, "Deployment", "protos-temporal-gateway-api")
    pod = api["spec"]["template"]["spec"]
    env = env_of(container(api))
    (volume,) = [v for v in pod["volumes"] if v["name"] == "descriptor-sets"]
    assert volume["configMap"] == {"name": "gateway-descriptors", "optional": True}
    (mount,) = [m for m in container(api)["volumeMounts"] if m["name"] == "descriptor-sets"]
    assert mount["mountPath"] == env["API_DESCRIPTOR_SETS_DIR"]
    assert mount["readOnly"] is True
    assert "subPath" not in mount, "edits reach the pods"
    plain = env_of(container(find(helm.template(values=PROFILES["minimal"], release="protos",
                                                namespace=namespace), "Deployment",
                                  "protos-temporal-gateway-api")))  # fmt: skip
    assert "API_DESCRIPTOR_SETS_DIR" not in plain, "none unless asked for"


def test_temporal_cloud_values_wire_tls_and_the_api_key_from_secrets(helm) -> None:
    docs = helm.template(
        "--set", "temporal-dev.enabled=false",
        "--set", "temporal.address=ns.acct.tmprl.cloud:7233",
        "--set", "temporal.namespace=ns.acct",
        "--set", "temporal.apiKey.secretName=temporal-api-key",
        api_versions=(),
    )  # fmt: skip
    # The operator too: it asks Temporal which task queues have workers (WorkerAvailable).
    for component in ("api", "worker", "operator"):
        c = container(find(docs, "Deployment", f"tg-temporal-gateway-{component}"))
        env = env_of(c)
        assert env["TEMPORAL_ADDRESS"] == "ns.acct.tmprl.cloud:7233"
        assert env["TEMPORAL_NAMESPACE"] == "ns.acct"
        assert env["TEMPORAL_TLS"] == "true", "an API key goes over TLS"
        assert env["TEMPORAL_API_KEY"] == {
            "secretKeyRef": {"name": "temporal-api-key", "key": "api-key"}
        }
        assert "TEMPORAL_TLS_CLIENT_CERT_PATH" not in env

    docs = helm.template(
        "--set", "temporal-dev.enabled=false",
        "--set", "temporal.address=temporal-frontend.temporal:7233",
        "--set", "temporal.tls.secretName=temporal-mtls",
        "--set", "temporal.tls.caKey=ca.crt",
        api_versions=(),
    )  # fmt: skip
    for component in ("worker", "operator"):
        deployment = find(docs, "Deployment", f"tg-temporal-gateway-{component}")
        env = env_of(container(deployment))
        mounts = container(deployment)["volumeMounts"]
        mount = next(m for m in mounts if m["name"] == "temporal-tls")
        assert env["TEMPORAL_TLS_CLIENT_CERT_PATH"] == f"{mount['mountPath']}/tls.crt"
        assert env["TEMPORAL_TLS_CLIENT_KEY_PATH"] == f"{mount['mountPath']}/tls.key"
        assert env["TEMPORAL_TLS_SERVER_CA_CERT_PATH"] == f"{mount['mountPath']}/ca.crt"
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        volume = next(v for v in volumes if v["name"] == "temporal-tls")
        assert volume["secret"]["secretName"] == "temporal-mtls"
        assert "TEMPORAL_API_KEY" not in env


def test_webhook_signing_secrets_are_mounted_into_the_worker_only(helm) -> None:
    docs = helm.template(
        "--set", "callbacks.signingSecretsName=webhook-secrets",
        "--set", "callbacks.taskQueue=hooks",
        api_versions=(),
    )  # fmt: skip
    worker = find(docs, "Deployment", "tg-temporal-gateway-worker")
    api = find(docs, "Deployment", "tg-temporal-gateway-api")
    env = env_of(container(worker))
    mount = next(m for m in container(worker)["volumeMounts"] if m["name"] == "webhook-secrets")
    assert mount["readOnly"] is True
    assert "subPath" not in mount, "a subPath mount never sees a rotated Secret"
    assert env["WORKER_CALLBACK_SECRETS_DIR"] == mount["mountPath"]
    assert env["WORKER_CALLBACK_TASK_QUEUE"] == "hooks"
    volume = next(
        v for v in worker["spec"]["template"]["spec"]["volumes"] if v["name"] == "webhook-secrets"
    )
    assert volume["secret"]["secretName"] == "webhook-secrets"
    assert env_of(container(api))["API_CALLBACK_TASK_QUEUE"] == "hooks"
    api_volumes = api["spec"]["template"]["spec"]["volumes"]
    assert all(v.get("secret", {}).get("secretName") != "webhook-secrets" for v in api_volumes)
    # The worker reads the route table the API serves, to check each attempt against the
    # route's current callbacks block: watched as the API watches it (a token, and the same
    # role: get, list and watch WorkflowRoutes)...
    assert env["WORKER_ROUTES_SOURCE"] == env_of(container(api))["API_ROUTES_SOURCE"]
    assert env["WORKER_ROUTES_NAMESPACES"] == env_of(container(api))["API_ROUTES_NAMESPACES"]
    assert worker["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert not [v for v in worker["spec"]["template"]["spec"]["volumes"] if v["name"] == "routes"]
    binding = find(docs, "ClusterRoleBinding", "tg-temporal-gateway-api")
    readers = {s["name"] for s in binding["subjects"]}
    assert readers == {"tg-temporal-gateway-api", "tg-temporal-gateway-worker"}
    # ... or, with route files, mounted as the API mounts them.
    docs = helm.template(
        "--set", "callbacks.taskQueue=hooks",
        "--set", "operator.enabled=false",
        "--set", "api.routes.source=files",
        "--set", "api.routes.configMap=gateway-routes",
        api_versions=(),
    )  # fmt: skip
    worker = find(docs, "Deployment", "tg-temporal-gateway-worker")
    api = find(docs, "Deployment", "tg-temporal-gateway-api")
    env = env_of(container(worker))
    routes = next(m for m in container(worker)["volumeMounts"] if m["name"] == "routes")
    assert routes["readOnly"] is True
    assert "subPath" not in routes, "a subPath mount never sees a changed route"
    assert (
        env["WORKER_ROUTES_PATH"]
        == routes["mountPath"]
        == env_of(container(api))["API_ROUTES_PATH"]
    )
    (table,) = [v for v in worker["spec"]["template"]["spec"]["volumes"] if v["name"] == "routes"]
    assert table in api["spec"]["template"]["spec"]["volumes"]
    assert worker["spec"]["template"]["spec"]["automountServiceAccountToken"] is False

    docs = helm.template(api_versions=())
    env = env_of(container(find(docs, "Deployment", "tg-temporal-gateway-worker")))
    assert "WORKER_CALLBACK_SECRETS_DIR" not in env
    assert env["WORKER_CALLBACK_TASK_QUEUE"] == "temporal-gateway-callbacks"


def test_key_secret_oidc_redis_and_cors_settings_reach_the_api(helm, cluster) -> None:
    docs = helm.template(
        "--set", "api.auth.apiKeys.existingSecret=team-keys",
        "--set", "api.auth.apiKeys.key=hashed.yaml",
        "--set", "api.auth.oidc.issuer=https://idp.example.com/realms/shop",
        "--set", "api.auth.oidc.audience=temporal-gateway",
        "--set", "api.rateLimit.redisSecret=gateway-redis",
        "--set", "api.corsOrigins={https://shop.example.com}",
        "--set", "api.extraEnvFrom[0].secretRef.name=more",
        "--set", "networkPolicy.apiExtraEgress[0].ports[0].port=443",
        release="secrets", namespace="profile-default",
    )  # fmt: skip
    server_dry_run(cluster, docs, "profile-default")
    generated = [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]
    assert generated == ["secrets-temporal-gateway-server-keys"], "no API key is generated"
    api = find(docs, "Deployment", "secrets-temporal-gateway-api")
    c = container(api)
    env = env_of(c)
    assert env["API_KEYS_FILE"] == "/etc/temporal-gateway/keys/hashed.yaml"
    assert env["API_JWT_ISSUER"] == "https://idp.example.com/realms/shop"
    assert env["API_JWT_AUDIENCE"] == "temporal-gateway"
    assert env["API_CORS_ORIGINS"] == "https://shop.example.com"
    redis = [e for e in c["env"] if e["name"] == "API_RATE_LIMIT_REDIS_URL"]
    assert redis == [
        {
            "name": "API_RATE_LIMIT_REDIS_URL",
            "valueFrom": {"secretKeyRef": {"name": "gateway-redis", "key": "url"}},
        }
    ]
    assert c["envFrom"] == [{"secretRef": {"name": "more"}}]
    mount = {"name": "api-keys", "mountPath": "/etc/temporal-gateway/keys", "readOnly": True}
    assert mount in c["volumeMounts"]
    volumes = api["spec"]["template"]["spec"]["volumes"]
    (keys,) = [v for v in volumes if v["name"] == "api-keys"]
    assert keys["secret"]["secretName"] == "team-keys"
    egress = find(docs, "NetworkPolicy", "secrets-temporal-gateway-api")["spec"]["egress"]
    assert egress[-1] == {"ports": [{"port": 443}]}

    # OIDC alone: no key file at all.
    docs = helm.template(
        "--set", "api.auth.oidc.issuer=https://idp.example.com",
        "--set", "api.auth.oidc.audience=gw",
    )  # fmt: skip
    c = container(find(docs, "Deployment", "tg-temporal-gateway-api"))
    assert "API_KEYS_FILE" not in env_of(c)
    assert not [d for d in docs if d["kind"] == "Secret" and "api-key" in d["metadata"]["name"]]
    # The page tokens' keys: one generated Secret every replica reads (issue 24 #7).
    keys = env_of(c)["API_PAGE_TOKEN_KEYS"]["secretKeyRef"]
    assert keys == {"name": "tg-temporal-gateway-server-keys", "key": "page-token-keys"}
    assert find(docs, "Secret", "tg-temporal-gateway-server-keys")["stringData"]["page-token-keys"]


def test_api_workers_get_a_writable_directory_for_their_metrics(helm, cluster) -> None:
    docs = helm.template("--set", "api.workers=2", release="workers", namespace="profile-default")
    server_dry_run(cluster, docs, "profile-default")  # the restricted Pod Security Standard
    api = find(docs, "Deployment", "workers-temporal-gateway-api")
    c = container(api)
    env = env_of(c)
    assert env["API_WORKERS"] == "2"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True, "hence the volume"
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == env["PROMETHEUS_MULTIPROC_DIR"]]
    assert not mount.get("readOnly")
    volumes = api["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    assert volume["emptyDir"]["medium"] == "Memory"
    assert volume["emptyDir"]["sizeLimit"]

    # One worker, the default: no directory and no volume for it.
    c = container(find(helm.template(), "Deployment", "tg-temporal-gateway-api"))
    assert env_of(c)["API_WORKERS"] == "1"
    assert "PROMETHEUS_MULTIPROC_DIR" not in env_of(c)
    assert mount["name"] not in {m["name"] for m in c["volumeMounts"]}


def test_notes_give_the_curl_line(helm) -> None:
    out = helm("install", "notes", CHART, "--dry-run=client", "-f", CHART / "values-dev.yaml")
    assert "curl http://localhost/" in out
    assert "curl -X POST http://localhost/workflows/shopping" in out
    assert "port-forward service/notes-temporal-dev 8080:8233" in out
    out = helm("install", "notes", CHART, "--dry-run=client", "-f", CHART / "values-minimal.yaml")
    assert "port-forward service/notes-temporal-gateway-api 8000:8000" in out
    assert "curl -X POST http://localhost:8000/workflows/shopping" in out
    out = helm(
        "install", "notes", CHART, "--dry-run=client", "-f", CHART / "values-production.yaml"
    )
    assert "curl https://gateway.example.com/" in out


# --- install, upgrade, uninstall ---------------------------------------------------------------


def test_installed_objects_are_locked_down(cluster, release) -> None:
    name, namespace = release
    full = f"{name}-temporal-gateway"
    deployments = {
        d["metadata"]["name"]: d
        for d in cluster.get_json(
            "deployments", "-n", namespace, "-l", f"app.kubernetes.io/instance={name}"
        )["items"]
    }
    assert set(deployments) == {
        f"{full}-api",
        f"{full}-worker",
        f"{full}-operator",
        f"{name}-temporal-dev",
    }
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"]:
            security = c["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert c["resources"]["requests"]
            assert c["resources"]["limits"]["memory"]
            assert not c["image"].endswith(":latest")
        # The operator, and the API and the webhook-hosting worker (their route watch) talk to
        # the API server; nothing else.
        expected_token = deployment["metadata"]["name"] != f"{name}-temporal-dev"
        assert pod["automountServiceAccountToken"] is expected_token
    images = {n: container(d)["image"] for n, d in deployments.items()}
    assert images[f"{full}-api"] == "temporal-gateway-api:0.1.0"
    assert images[f"{full}-worker"] == "temporal-gateway-worker:0.1.0"
    assert images[f"{full}-operator"] == "temporal-gateway-operator:0.1.0"
    assert images[f"{name}-temporal-dev"] == "temporal-gateway-temporal-dev:1.9.1"


def test_probes_and_the_route_watch_fit_the_services(cluster, release) -> None:
    name, namespace = release
    full = f"{name}-temporal-gateway"

    def get(component: str) -> dict[str, Any]:
        return cluster.get_json("deployment", f"{full}-{component}", "-n", namespace)

    api, worker, operator = get("api"), get("worker"), get("operator")
    c = container(api)
    env = env_of(c)
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["startupProbe"]["httpGet"]["path"] == "/livez"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert port_number(c, c[probe]["httpGet"]["port"]) == int(env["API_PORT"]) == 8000
    assert env["TEMPORAL_ADDRESS"] == f"{name}-temporal-dev.{namespace}.svc:7233"
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == 5
    pod = api["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > 5 + 35, "preStop + API_GRACEFUL_SHUTDOWN_SECONDS"

    # The API watches the WorkflowRoutes (no route volume, nothing for the kubelet to sync).
    assert env["API_ROUTES_SOURCE"] == "kubernetes"
    assert "API_ROUTES_PATH" not in env
    assert not [v for v in pod["volumes"] if v["name"] == "routes"]
    assert not [m for m in c["volumeMounts"] if m["name"] == "routes"]
    operator_env = env_of(container(operator))
    assert operator_env["OPERATOR_LEASE_NAME"] == f"{full}-operator"
    assert operator_env["POD_NAMESPACE"] == {
        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}
    }, "the Lease lives in the operator's namespace"
    # The operator asks Temporal (WorkerAvailable) where the other services do.
    assert operator_env["TEMPORAL_ADDRESS"] == env["TEMPORAL_ADDRESS"]
    assert operator_env["TEMPORAL_NAMESPACE"] == env["TEMPORAL_NAMESPACE"]
    assert operator["spec"]["replicas"] == 1, "values-dev.yaml: one of each"
    assert operator["spec"]["strategy"]["rollingUpdate"] == {
        "maxUnavailable": 1, "maxSurge": 0,
    }  # fmt: skip

    c = container(operator)
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert port_number(c, c["livenessProbe"]["httpGet"]["port"]) == int(
        operator_env["OPERATOR_HEALTH_PORT"]
    )
    c = container(worker)
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for kind in ("livenessProbe", "readinessProbe"):
        assert port_number(c, c[kind]["httpGet"]["port"]) == int(env_of(c)["WORKER_HEALTH_PORT"])
    temporal = container(cluster.get_json("deployment", f"{name}-temporal-dev", "-n", namespace))
    assert temporal["readinessProbe"]["grpc"] == {
        "port": 7233,
        "service": "temporal.api.workflowservice.v1.WorkflowService",
    }


def test_services_ingress_disruption_budgets_and_monitoring(cluster, release) -> None:
    name, namespace = release
    full = f"{name}-temporal-gateway"
    service = cluster.get_json("service", f"{full}-api", "-n", namespace)
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {
        "http": 8000,
        "metrics": 9464,
    }
    ingress = cluster.get_json("ingress", f"{full}-api", "-n", namespace)
    assert ingress["spec"]["ingressClassName"] == "traefik"
    (rule,) = ingress["spec"]["rules"]
    assert rule["http"]["paths"][0]["backend"]["service"] == {
        "name": f"{full}-api",
        "port": {"name": "http"},
    }
    assert "host" not in rule, "dev: any host, so http://localhost/ works"
    dev = cluster.get_json("service", f"{name}-temporal-dev", "-n", namespace)
    assert {p["name"]: p["port"] for p in dev["spec"]["ports"]} == {
        "grpc": 7233,
        "ui": 8233,
        "metrics": 9233,
    }
    policies = {
        p["metadata"]["name"] for p in cluster.get_json("networkpolicies", "-n", namespace)["items"]
    }
    assert policies == {f"{full}-api", f"{full}-worker", f"{full}-operator", f"{name}-temporal-dev"}
    api_policy = cluster.get_json("networkpolicy", f"{full}-api", "-n", namespace)["spec"]
    to_temporal = [r for r in api_policy["egress"] if r["ports"][0]["port"] == 7233]
    assert (
        to_temporal[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        == "temporal-dev"
    )
    # The API's route watch and the operator reach the API server; the operator Temporal too.
    api_server = [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]
    assert {"ports": api_server} in api_policy["egress"]
    worker_policy = cluster.get_json("networkpolicy", f"{full}-worker", "-n", namespace)
    assert {"ports": api_server} in worker_policy["spec"]["egress"]
    operator_policy = cluster.get_json("networkpolicy", f"{full}-operator", "-n", namespace)
    assert {"ports": api_server} in operator_policy["spec"]["egress"]
    assert to_temporal[0] in operator_policy["spec"]["egress"]
    monitor = cluster.get_json("servicemonitor", full, "-n", namespace)
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    scraped = cluster.get_json(
        "services", "-n", namespace, "-l", "temporal-gateway.dev/metrics=true"
    )
    assert {s["metadata"]["name"] for s in scraped["items"]} == {
        f"{full}-api", f"{full}-worker-metrics", f"{full}-operator-metrics",
    }  # fmt: skip
    assert cluster.get_json("prometheusrule", full, "-n", namespace)["spec"]["groups"]
    dashboards = cluster.get_json("configmaps", "-n", namespace, "-l", "grafana_dashboard=1")
    assert len(dashboards["items"]) == 3


def test_install_upgrade_and_uninstall(helm, cluster) -> None:
    namespace, name = unique("lifecycle"), "life"
    full = f"{name}-temporal-gateway"
    create_namespace(cluster, namespace)
    out = helm("install", name, CHART, "-n", namespace, "-f", CHART / "values-dev.yaml")
    assert "STATUS: deployed" in out
    assert "curl -X POST http://localhost/workflows/shopping" in out, "NOTES"
    assert cluster.get_json("deployment", f"{full}-api", "-n", namespace)["spec"]["replicas"] == 1
    assert "tls" not in cluster.get_json("ingress", f"{full}-api", "-n", namespace)["spec"]
    key = api_key(cluster, namespace, f"{full}-api-key")
    assert key.startswith("tgw_")
    assert f"get secret {full}-api-key" in out, "NOTES tell how to read the key"

    helm(
        "upgrade", name, CHART, "-n", namespace, "-f", CHART / "values-dev.yaml",
        "--set", "api.replicaCount=3",
        "--set", "ingress.hosts[0].host=gateway.example.com",
        "--set", "ingress.hosts[0].paths[0].path=/",
        "--set", "ingress.hosts[0].paths[0].pathType=Prefix",
        "--set", "ingress.tls[0].secretName=gateway-tls",
        "--set", "ingress.tls[0].hosts[0]=gateway.example.com",
        "--set", "worker.keda.enabled=true",
    )  # fmt: skip
    assert api_key(cluster, namespace, f"{full}-api-key") == key, "a new key on upgrade"
    history = json.loads(helm("history", name, "-n", namespace, "-o", "json"))
    assert [h["revision"] for h in history] == [1, 2]
    assert history[-1]["status"] == "deployed"
    assert cluster.get_json("deployment", f"{full}-api", "-n", namespace)["spec"]["replicas"] == 3
    ingress = cluster.get_json("ingress", f"{full}-api", "-n", namespace)["spec"]
    assert ingress["tls"] == [{"hosts": ["gateway.example.com"], "secretName": "gateway-tls"}]
    assert ingress["rules"][0]["host"] == "gateway.example.com"
    scaled = cluster.get_json("scaledobject", f"{full}-worker", "-n", namespace)
    assert scaled["spec"]["triggers"][0]["metadata"]["taskQueue"] == "shopping-task-queue"

    helm("rollback", name, "1", "-n", namespace)
    assert cluster.get_json("deployment", f"{full}-api", "-n", namespace)["spec"]["replicas"] == 1
    assert (
        cluster.kubectl_result("get", "scaledobject", f"{full}-worker", "-n", namespace).returncode
        != 0
    )

    helm("uninstall", name, "-n", namespace)
    left = cluster.kubectl(
        "get", "all,ingress,networkpolicy,pdb,sa,role,rolebinding,configmap,servicemonitor",
        "-n", namespace, "-l", f"app.kubernetes.io/instance={name}", "-o", "name",
    )  # fmt: skip
    assert left.strip() == ""
    # Clients may still hold the generated key: its Secret is kept (helm.sh/resource-policy).
    assert api_key(cluster, namespace, f"{full}-api-key") == key
    assert cluster.kubectl_result("get", "clusterrole", f"{full}-operator").returncode != 0
    assert cluster.kubectl_result("get", "clusterrole", f"{full}-api").returncode != 0
    # Helm never deletes what it installed from crds/: the routes outlive a release.
    assert (
        cluster.kubectl_result("get", "crd", "workflowroutes.temporal-gateway.dev").returncode == 0
    )


# --- the real processes, configured as the chart configures them ----------------------------


def container_env(plane: ControlPlane, namespace: str, deployment: str) -> dict[str, str]:
    """The container's literal environment, field references resolved as the kubelet would."""
    env: dict[str, str] = {}
    for item in container(plane.get_json("deployment", deployment, "-n", namespace))["env"]:
        source = item.get("valueFrom")
        if source is None:
            env[item["name"]] = item.get("value", "")  # the API server drops empty values
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[item["name"]] = namespace
    return env


def run_operator(
    plane: ControlPlane, namespace: str, release: str, log_dir: Path, metrics_port: int = 0
) -> Process:
    full = f"{release}-temporal-gateway"
    kubeconfig = plane.service_account_kubeconfig(namespace, f"{full}-operator")
    env = container_env(plane, namespace, f"{full}-operator")
    env |= {
        "KUBECONFIG": str(kubeconfig),
        "OPERATOR_METRICS_PORT": str(metrics_port or free_port()),
        "OPERATOR_HEALTH_PORT": str(free_port()),
    }
    return Process(
        f"chart-operator-{release}",
        [sys.executable, "-m", "gateway_operator"],
        log_dir=log_dir,
        env=env,
    )


def route(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "path": name,
            "workflowType": "ShoppingWorkflow",
            "taskQueue": "shopping-task-queue",
            "workflowId": {"prefix": f"{name}-"},
        },
    }


def documented(api: ApiProcess, path: str, key: str) -> bool:
    """The API serves the route at ``path``: its OpenAPI document, read with ``key`` (the
    chart's administrator key: outside development a caller is shown its routes only)."""
    answer = httpx.get(
        f"{api.url}/workflows/{path}/openapi.json", headers={"X-API-Key": key}, timeout=5
    )
    return answer.status_code == 200


def test_the_operator_and_the_api_follow_routes_with_the_chart_rbac_alone(
    cluster, release, stack, logs_dir
) -> None:
    name, namespace = release
    full = f"{name}-temporal-gateway"
    path = unique("chart")
    cluster.kubectl("apply", "-f", "-", input=json.dumps(route(path, namespace)))
    operator = run_operator(cluster, namespace, name, logs_dir)
    api = api_process(cluster, namespace, name, logs_dir, stack.temporal.address)
    try:
        wait_for_condition(cluster, namespace, path, "Ready", "True", timeout=120)
        key = api_key(cluster, namespace, f"{full}-api-key")
        eventually(lambda: documented(api, path, key), timeout=30)
        lease = cluster.get_json("lease", f"{full}-operator", "-n", namespace)
        assert lease["spec"]["holderIdentity"], "the operator leads on the chart's Lease"
        cluster.kubectl("delete", "workflowroute", path, "-n", namespace)
        eventually(lambda: not documented(api, path, key), timeout=30)
        for process in (operator, api):
            assert process.alive(), process.log()[-3000:]
            # kopf's APIForbiddenError, or the API server's "... is forbidden: User ..."
            assert "forbidden" not in process.log().lower()
    finally:
        operator.stop()
        api.stop()
        cluster.kubectl("delete", "workflowroute", path, "-n", namespace, "--ignore-not-found")


def test_a_namespaced_operator_sees_only_its_namespaces(helm, cluster, logs_dir) -> None:
    namespace, name = unique("scoped"), "scoped"
    full = f"{name}-temporal-gateway"
    watched, other = unique("routes"), unique("elsewhere")
    for ns in (namespace, watched, other):
        create_namespace(cluster, ns)
    helm(
        "install", name, CHART, "-n", namespace, "-f", CHART / "values-minimal.yaml",
        "--set", f"operator.watchNamespaces={{{watched}}}",
    )  # fmt: skip

    def can(component: str, *args: str) -> bool:
        sa = f"system:serviceaccount:{namespace}:{full}-{component}"
        return cluster.kubectl_result("auth", "can-i", *args, "--as", sa).stdout.strip() == "yes"

    routes = "workflowroutes.temporal-gateway.dev"
    assert can("operator", "watch", routes, "-n", watched)
    assert can("operator", "patch", routes, "--subresource=status", "-n", watched)
    assert not can("operator", "list", routes, "-n", other)
    assert not can("operator", "list", routes, "-A")
    assert not can("operator", "update", routes, "-n", watched)
    assert can("operator", "update", f"lease/{full}-operator", "-n", namespace)
    assert not can("operator", "update", "lease/other", "-n", namespace)
    assert not can("operator", "list", "configmaps", "-n", namespace)
    assert not can("operator", "get", "secrets", "-n", namespace)
    # The API reads the routes where the operator serves them, and nothing else.
    for verb in ("get", "list", "watch"):
        assert can("api", verb, routes, "-n", watched)
    assert not can("api", "list", routes, "-n", other)
    assert not can("api", "list", routes, "-A")
    assert not can("api", "patch", routes, "--subresource=status", "-n", watched)
    assert not can("api", "update", routes, "-n", watched)
    # The worker, hosting webhook deliveries, reads them as the API does.
    assert can("worker", "watch", routes, "-n", watched)
    assert not can("worker", "list", routes, "-n", other)
    for component in ("api", "worker"):
        assert not can(component, "list", "configmaps", "-n", namespace)
        assert not can(component, "get", "leases", "-n", namespace)

    served, ignored = unique("served"), unique("ignored")
    cluster.kubectl("apply", "-f", "-", input=json.dumps(route(served, watched)))
    cluster.kubectl("apply", "-f", "-", input=json.dumps(route(ignored, other)))
    metrics_port = free_port()
    operator = run_operator(cluster, namespace, name, logs_dir, metrics_port)

    def routes_seen() -> dict[str, float]:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        return {
            sample.labels["reason"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "temporal_gateway_operator_routes"
        }

    try:
        # Within seconds: a namespaced operator does not first try to list namespaces.
        wait_for_condition(cluster, watched, served, "Ready", "True", timeout=30)
        # Not "the ignored route has no status": the session's cluster-wide operator
        # (conftest.py), if an earlier test started it, gives it one. What this operator saw:
        # its gauge is set once a reconcile is done, statuses included.
        eventually(lambda: routes_seen().get("Accepted") == 1)
        assert sum(routes_seen().values()) == 1
        assert ignored not in operator.log()
        assert "forbidden" not in operator.log().lower()
    finally:
        operator.stop()
        cluster.kubectl("delete", "workflowroute", served, "-n", watched)
        cluster.kubectl("delete", "workflowroute", ignored, "-n", other)
        helm("uninstall", name, "-n", namespace)


def secret_data(plane: ControlPlane, namespace: str, name: str) -> dict[str, str]:
    data = plane.get_json("secret", name, "-n", namespace)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def api_key(plane: ControlPlane, namespace: str, name: str) -> str:
    return secret_data(plane, namespace, name)["api-key"]


def api_process(
    plane: ControlPlane,
    namespace: str,
    release: str,
    logs_dir: Path,
    temporal: str,
    *,
    kube_server: str | None = None,
) -> ApiProcess:
    """``python -m gateway_api`` with the installed Deployment's environment, as its
    ServiceAccount (the route watch's credentials); only what a pod has that this machine has
    elsewhere changes: the port, the Temporal address, the API server's address
    (``kube_server``: another one, e.g. one that does not answer) and the key file (as the
    kubelet projects it from the Secret)."""
    deployment = f"{release}-temporal-gateway-api"
    env = container_env(plane, namespace, deployment)
    assert env["API_ROUTES_SOURCE"] == "kubernetes"
    assert env["API_KEYS_FILE"] == "/etc/temporal-gateway/keys/keys.yaml"
    spec = plane.get_json("deployment", deployment, "-n", namespace)["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "api-keys"]
    assert volume["secret"]["items"] == [{"key": "keys.yaml", "path": "keys.yaml"}], "hash only"
    keys = logs_dir / f"keys-{free_port()}.yaml"
    keys.write_text(secret_data(plane, namespace, volume["secret"]["secretName"])["keys.yaml"])
    kubeconfig = plane.service_account_kubeconfig(namespace, spec["serviceAccountName"])
    if kube_server is not None:
        moved = kubeconfig.with_name(f"{kubeconfig.stem}-{free_port()}.kubeconfig")
        config = yaml.safe_load(kubeconfig.read_text())
        config["clusters"][0]["cluster"]["server"] = kube_server
        moved.write_text(yaml.safe_dump(config))
        kubeconfig = moved
    env |= {
        "KUBECONFIG": str(kubeconfig),
        "API_KEYS_FILE": str(keys),
        "TEMPORAL_ADDRESS": temporal,
        "API_AUTH_DISABLED": "false",  # not the harness's default: as in the pod, unset
    }
    assert env["API_ENVIRONMENT"] == "production"
    env.pop("API_PORT")
    env.pop("API_METRICS_PORT")
    return ApiProcess(logs_dir, temporal=temporal, env=env)


def probe(plane: ControlPlane, namespace: str, release: str, api: ApiProcess, kind: str) -> int:
    c = container(plane.get_json("deployment", f"{release}-temporal-gateway-api", "-n", namespace))
    return httpx.get(api.url + c[kind]["httpGet"]["path"], timeout=5).status_code


def smoke(helm: Helm, api_url: str, timeout: int, api_key: str) -> subprocess.CompletedProcess[str]:
    """The `helm test` pod's own command and environment, run here against ``api_url``, with
    ``api_key`` for what the pod reads from the key Secret."""
    docs = helm.template("--show-only", "templates/tests/smoke.yaml", values=PROFILES["dev"])
    pod = find(docs, "Pod")
    c = pod["spec"]["containers"][0]
    (from_secret,) = [e for e in c["env"] if "valueFrom" in e]
    assert from_secret["name"] == "API_KEY"
    assert from_secret["valueFrom"]["secretKeyRef"]["key"] == "api-key"
    env = {e["name"]: e["value"] for e in c["env"] if "value" in e} | {
        "API_URL": api_url,
        "TIMEOUT_SECONDS": str(timeout),
        "API_KEY": api_key,
    }
    assert c["command"][0] == "python"
    return subprocess.run(
        [sys.executable, *c["command"][1:], *c["args"]],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_api_probes_and_the_smoke_test_mean_what_they_say(
    helm, cluster, release, stack, logs_dir
) -> None:
    name, namespace = release
    blind = api_process(
        cluster, namespace, name, logs_dir, stack.temporal.address,
        kube_server=f"https://127.0.0.1:{free_port()}",
    )  # fmt: skip
    unreachable = api_process(cluster, namespace, name, logs_dir, f"127.0.0.1:{free_port()}")
    api = api_process(cluster, namespace, name, logs_dir, stack.temporal.address)
    operator = run_operator(cluster, namespace, name, logs_dir)
    try:
        for process in (blind, unreachable, api):
            process.wait_ready(timeout=90, path="/livez")
        # No route table yet (the API server never answered): alive, not ready; `helm test`
        # fails.
        assert probe(cluster, namespace, name, blind, "livenessProbe") == 200
        assert probe(cluster, namespace, name, blind, "readinessProbe") == 503
        key = api_key(cluster, namespace, f"{name}-temporal-gateway-api-key")
        done = smoke(helm, blind.url, timeout=2, api_key=key)
        assert done.returncode != 0, done.stdout
        assert "did not become ready" in done.stderr, done.stdout
        # A route table but no Temporal: not ready either.
        eventually(lambda: httpx.get(unreachable.url + "/", timeout=5).json()["routes_version"])
        assert probe(cluster, namespace, name, unreachable, "readinessProbe") == 503
        assert probe(cluster, namespace, name, unreachable, "livenessProbe") == 200
        # The shopping route applied, judged by the operator, followed by the API: ready, and
        # the smoke test starts the sample workflow and gets its result.
        cluster.kubectl("apply", "-n", namespace, "-f", str(ROOT / "k8s/routes/shopping.yaml"))
        wait_for_condition(cluster, namespace, "shopping", "Ready", "True", timeout=120)
        eventually(lambda: documented(api, "shopping", key), timeout=30)
        assert probe(cluster, namespace, name, api, "readinessProbe") == 200
        # Without the key, the workflow call is refused; with it, it completes.
        refused = smoke(helm, api.url, timeout=30, api_key="")
        assert refused.returncode != 0
        assert "POST /workflows/shopping 401" in refused.stdout, refused.stdout
        done = smoke(helm, api.url, timeout=30, api_key=key)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "POST /workflows/shopping 200" in done.stdout
        assert done.stdout.endswith("ok\n")
    finally:
        for process in (api, unreachable, blind, operator):
            process.stop()
        cluster.kubectl("delete", "-n", namespace, "-f", str(ROOT / "k8s/routes/shopping.yaml"),
                        "--ignore-not-found")  # fmt: skip


def test_the_smoke_test_pod_is_accepted_and_locked_down(helm, cluster) -> None:
    docs = helm.template(
        "--show-only", "templates/tests/smoke.yaml", values=PROFILES["dev"], namespace="profile-dev"
    )
    server_dry_run(cluster, docs, "profile-dev")
    pod = find(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


# --- without Helm: kustomize; and skaffold --------------------------------------------------


def kustomize(plane: ControlPlane, path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(plane.kubectl("kustomize", str(path))) if d]


@pytest.mark.parametrize("overlay", ["base", "kind"])
def test_kustomize_base_and_kind_overlay_are_accepted(cluster, overlay) -> None:
    docs = kustomize(cluster, ROOT / "k8s" / overlay)
    assert {d["metadata"].get("namespace") for d in docs} == {"temporal-gateway"}
    server_dry_run(cluster, docs, "kustomize", move=True)
    rbac = list(yaml.safe_load_all((ROOT / "k8s" / "operator" / "rbac.yaml").read_text()))
    accounts = {d["metadata"]["name"] for d in rbac if d["kind"] == "ServiceAccount"}
    assert accounts == {"temporal-gateway-operator", "temporal-gateway-api"}
    (lease,) = {
        n
        for d in rbac
        if d["kind"] == "Role"
        for r in d["rules"]
        if r["resources"] == ["leases"]
        for n in r.get("resourceNames", [])
    }
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    operator = deployments["temporal-gateway-operator"]
    assert operator["spec"]["template"]["spec"]["serviceAccountName"] == "temporal-gateway-operator"
    operator_env = env_of(container(operator))
    assert operator_env.get("OPERATOR_LEASE_NAME", OperatorSettings().lease_name) == lease
    assert operator["spec"]["replicas"] == (2 if overlay == "base" else 1)
    api = deployments["temporal-gateway-api"]
    pod = api["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "temporal-gateway-api"
    assert pod["automountServiceAccountToken"] is True
    assert env_of(container(api))["API_ROUTES_SOURCE"] == "kubernetes"
    assert not [v for v in pod["volumes"] if v["name"] == "routes"]
    (api_role,) = [
        d
        for d in rbac
        if d["kind"] == "ClusterRole" and d["metadata"]["name"] == ("temporal-gateway-api")
    ]
    assert api_role["rules"] == [{
        "apiGroups": ["temporal-gateway.dev"], "resources": ["workflowroutes"],
        "verbs": ["get", "list", "watch"],
    }]  # fmt: skip
    (binding,) = [
        d
        for d in rbac
        if d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == ("temporal-gateway-api")
    ]
    worker = deployments["temporal-gateway-worker"]
    readers = {s["name"] for s in binding["subjects"]}
    assert readers == {
        "temporal-gateway-api",
        worker["spec"]["template"]["spec"]["serviceAccountName"],
    }
    assert worker["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert env_of(container(worker))["WORKER_ROUTES_SOURCE"] == "kubernetes"
    for deployment in deployments.values():
        c = container(deployment)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    (config,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("temporal-")
    ]
    ref = container(api)["envFrom"][0]["configMapRef"]["name"]
    assert ref == config["metadata"]["name"], "the generated name (with its hash) is referenced"
    if overlay == "kind":
        host, _, port = config["data"]["TEMPORAL_ADDRESS"].partition(":")
        service = find(docs, "Service", host)
        assert int(port) in [p["port"] for p in service["spec"]["ports"]]
        assert find(docs, "Ingress")["spec"]["ingressClassName"] == "traefik"
        assert container(api)["image"] == "temporal-gateway-api:dev"


def test_kind_cluster_config_maps_the_ingress_ports() -> None:
    config = yaml.safe_load((ROOT / "k8s" / "kind" / "cluster.yaml").read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert config["kind"] == "Cluster"
    (node,) = config["nodes"]
    assert {(m["containerPort"], m["hostPort"]) for m in node["extraPortMappings"]} == {
        (80, 80),
        (443, 443),
    }
    assert 'node-labels: "ingress-ready=true"' in node["kubeadmConfigPatches"][0]


def skaffold_schema() -> tuple[str, dict[str, Any]]:
    (path,) = kube_schemas_dir().glob("skaffold-*.json")
    return path.stem.removeprefix("skaffold-"), json.loads(path.read_text())


def test_skaffold_config_is_valid_for_the_newest_schema() -> None:
    version, schema = skaffold_schema()
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"] == f"skaffold/{version}"
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(config)]
    assert not errors, errors
    broken = json.loads(json.dumps(config))
    broken["deploy"]["helm"]["releases"][0]["valueFiles"] = ["typo.yaml"]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken)), "the schema has teeth"


def test_skaffold_podman_profile_builds_the_same_images_from_the_same_files() -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    (profile,) = [p for p in config["profiles"] if p["name"] == "podman"]
    default = {a["image"]: a for a in config["build"]["artifacts"]}
    custom = {a["image"]: a for a in profile["build"]["artifacts"]}
    assert set(custom) == set(default)
    assert profile["build"]["tagPolicy"] == config["build"]["tagPolicy"]
    assert profile["build"]["local"]["push"] is False
    for image, artifact in custom.items():
        assert artifact["context"] == default[image]["context"]
        script, dockerfile = artifact["custom"]["buildCommand"].split()
        context = ROOT / artifact["context"]
        assert (context / script).resolve() == ROOT / "hack" / "skaffold-build.sh"
        assert dockerfile == default[image]["docker"]["dockerfile"]
        deps = artifact["custom"]["dependencies"]["command"]
        assert deps == f"{script} --dependencies {dockerfile}"
        listed = subprocess.run(
            [context / script, "--dependencies", dockerfile],
            capture_output=True, text=True, check=True, cwd=context, timeout=60,
        )  # fmt: skip
        files = json.loads(listed.stdout)
        assert files[0] == dockerfile
        assert all((context / f).is_file() for f in files)
        if artifact["context"] == ".":
            # What the Dockerfile copies is watched: the lock file and this service's sources.
            assert "uv.lock" in files
            assert any(f.startswith("libs/gateway-core/src/") for f in files)


def test_skaffold_builds_four_images_and_deploys_the_chart_it_renders(helm, cluster) -> None:
    config = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    artifacts = config["build"]["artifacts"]
    assert {a["image"] for a in artifacts} == {
        "temporal-gateway-api", "temporal-gateway-worker", "temporal-gateway-operator",
        "temporal-gateway-temporal-dev",
    }  # fmt: skip
    for artifact in artifacts:
        # The services from the repository root; the dev Temporal needs no sources.
        dev = artifact["image"] == "temporal-gateway-temporal-dev"
        assert artifact["context"] == ("images/temporal-dev" if dev else ".")
        assert (ROOT / artifact["context"] / artifact["docker"]["dockerfile"]).is_file()
    (rel,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / rel["chartPath"]).resolve() == CHART

    # Render as skaffold does: its templates filled in for a local build, then `helm` with the
    # release's namespace, values files and --set values.
    def fill(template: str, digest: str) -> str:
        def one(match: re.Match[str]) -> str:
            field, image = match[1], match[2].replace("_", "-")
            return {"REPO": image, "TAG": "abc123", "DIGEST": digest}[field]

        return re.sub(r"\{\{\.IMAGE_(REPO|TAG|DIGEST)_([A-Za-z0-9_]+)\}\}", one, template)

    for digest in ("", "sha256:" + "0" * 64):
        sets = [
            a
            for k, v in rel["setValueTemplates"].items()
            for a in ("--set", f"{k}={fill(v, digest)}")
        ]
        namespace = rel["namespace"]
        docs = helm.template(
            *sets,
            values=[ROOT / v for v in rel["valuesFiles"]],
            release=rel["name"],
            namespace=namespace,
        )
        server_dry_run(cluster, docs, "profile-dev")
        for artifact in artifacts:
            component = artifact["image"].removeprefix("temporal-gateway-")
            image = container(find(docs, "Deployment", f"temporal-gateway-{component}"))["image"]
            assert image == f"{artifact['image']}:abc123" + (f"@{digest}" if digest else "")
        for forward in config["portForward"]:
            assert forward["namespace"] == namespace
            service = find(docs, "Service", forward["resourceName"])
            assert forward["port"] in [p["port"] for p in service["spec"]["ports"]]
    assert sorted(f["localPort"] for f in config["portForward"]) == [8000, 8080]
