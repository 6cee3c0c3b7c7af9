"""A real Kubernetes control plane for tests, the envtest way: etcd and kube-apiserver (no
kubelet, no scheduler, no controllers), built from Go modules by ``hack/envtest-assets.sh`` into
``$KUBEBUILDER_ASSETS``, started on free loopback ports with their own certificates, stopped by
pid. ``kubectl`` from the same folder talks to it.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import ssl
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from support.procs import Process, eventually, free_port


def assets_dir() -> Path:
    value = os.environ.get("KUBEBUILDER_ASSETS")
    assert value, (
        "KUBEBUILDER_ASSETS is not set: run the tests with `make test`, or "
        'export KUBEBUILDER_ASSETS="$(hack/envtest-assets.sh)"'
    )
    path = Path(value)
    for binary in ("etcd", "kube-apiserver", "kubectl"):
        assert (path / binary).is_file(), f"{path / binary} is missing: run hack/envtest-assets.sh"
    return path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


class ControlPlane:
    """etcd + kube-apiserver with RBAC; ``admin`` (system:masters) via a client certificate."""

    def __init__(self, workdir: Path, log_dir: Path, *, address: str = "127.0.0.1") -> None:
        """``address``: where it listens and what it advertises. Loopback (the default) for the
        tests without a node; a real node's pods need one they can reach (``support.node``),
        and then the ``kubernetes`` Service gets its endpoints and pods their tokens."""
        self.assets = assets_dir()
        self.workdir = workdir
        self.log_dir = log_dir
        self.kubectl_bin = self.assets / "kubectl"
        self.address = address
        self.port = free_port()
        self.url = f"https://{address}:{self.port}"
        self.kubeconfig = workdir / "admin.kubeconfig"
        self._procs: list[Process] = []

    def _pki(self) -> None:
        pki = self.workdir / "pki"
        pki.mkdir(parents=True)
        ca_key, client_key, sa_key = _key(), _key(), _key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envtest-client-ca")])
        ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
        admin = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
            ]
        )
        client = _cert(admin, client_key, ca_name, ca_key, ca=False)
        (pki / "client-ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (pki / "admin.crt").write_bytes(client.public_bytes(serialization.Encoding.PEM))
        _write_key(client_key, pki / "admin.key")
        _write_key(sa_key, pki / "sa.key")
        (pki / "sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def start(self) -> None:
        self._pki()
        pki = self.workdir / "pki"
        etcd_port, peer_port = free_port(), free_port()
        etcd = Process(
            f"etcd-{etcd_port}",
            [
                self.assets / "etcd",
                "--name=envtest",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=envtest=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
            log_dir=self.log_dir,
        )
        self._procs.append(etcd)
        eventually(
            lambda: (
                httpx.get(f"http://127.0.0.1:{etcd_port}/health", timeout=1).json()["health"]
                == "true"
            ),
            timeout=30,
        )
        loopback = self.address.startswith("127.")
        self._apiserver_args: list[str | os.PathLike[str]] = [
            self.assets / "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--bind-address={self.address}",
            f"--advertise-address={self.address}",
            # A loopback advertise address needs the endpoint reconciler off.
            f"--endpoint-reconciler-type={'none' if loopback else 'lease'}",
            f"--secure-port={self.port}",
            f"--cert-dir={self.workdir / 'serving'}",
            f"--client-ca-file={pki / 'client-ca.crt'}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--service-account-issuer={self.url}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            # Without a node no pod runs, and no pod needs a token.
            *(
                ["--disable-admission-plugins=ServiceAccount"]
                if loopback
                # Reach the kubelet (logs, exec) at its node's IP, without asking any DNS.
                else ["--kubelet-preferred-address-types=InternalIP"]
            ),
        ]
        self.start_apiserver()
        self._write_kubeconfig(
            self.kubeconfig,
            {"client-certificate": str(pki / "admin.crt"), "client-key": str(pki / "admin.key")},
        )

    def start_apiserver(self) -> None:
        """kube-apiserver (again, after :meth:`stop_apiserver`: the same port, certificates
        and etcd, so its clients reconnect to what they knew), once it answers ready."""
        apiserver = Process(
            f"kube-apiserver-{self.port}", self._apiserver_args, log_dir=self.log_dir
        )
        self._procs.append(apiserver)
        serving = self.workdir / "serving" / "apiserver.crt"

        def ready() -> bool:
            assert apiserver.alive(), apiserver.log()[-3000:]
            if not serving.exists():
                return False
            return (
                httpx.get(f"{self.url}/readyz", verify=self.ssl_context(), timeout=2).text == "ok"
            )

        eventually(ready, timeout=60, interval=0.2)

    def stop_apiserver(self) -> None:
        """Kill kube-apiserver (etcd keeps running), as a crash would: its open watches break
        and new connections are refused. (SIGTERM would first drain for tens of seconds.)"""
        (apiserver,) = [p for p in self._procs if p.name.startswith("kube-apiserver-")]
        self._procs.remove(apiserver)
        apiserver.signal(signal.SIGKILL)
        apiserver.popen.wait(30)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.workdir / "serving" / "apiserver.crt")
        pki = self.workdir / "pki"
        context.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        return context

    def _write_kubeconfig(self, path: Path, user: dict[str, str]) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority": str(self.workdir / "serving" / "apiserver.crt"),
                    },
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": "user"}}],
            "current-context": "envtest",
        }
        path.write_text(json.dumps(config))

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig authenticating as a ServiceAccount, with a real token from the API."""
        token = self.kubectl("create", "token", name, "-n", namespace, "--duration=2h").strip()
        path = self.workdir / f"{namespace}-{name}.kubeconfig"
        self._write_kubeconfig(path, {"token": token})
        return path

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> str:
        done = self.kubectl_result(*args, input=input, kubeconfig=kubeconfig)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def kubectl_result(
        self, *args: str, input: str | None = None, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl_bin), "--kubeconfig", str(kubeconfig or self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.stop()


def wait_for_condition(
    plane: ControlPlane, namespace: str, name: str, kind: str, status: str, timeout: float = 20
) -> dict[str, Any]:
    """The route's condition ``kind`` once it has ``status`` for its current generation."""

    def check() -> dict[str, Any] | None:
        route = plane.get_json("workflowroute", name, "-n", namespace)
        generation = route["metadata"]["generation"]
        for condition in route.get("status", {}).get("conditions", []):
            if (
                condition["type"] == kind
                and condition["status"] == status
                and condition["observedGeneration"] == generation
            ):
                result: dict[str, Any] = condition
                return result
        return None

    found: dict[str, Any] = eventually(check, timeout=timeout, interval=0.1)
    return found


def server_clock(plane: ControlPlane) -> str:
    """The creation timestamp the API server would give an object now (RFC 3339, to the second;
    a server-side dry run, so nothing is stored): the server's own clock, as objects see it."""
    return plane.kubectl(
        "create", "configmap", "clock", "-n", "default", "--dry-run=server",
        "-o", "jsonpath={.metadata.creationTimestamp}",
    )  # fmt: skip


def apply(plane: ControlPlane, documents: str | Sequence[dict[str, Any]]) -> str:
    text = (
        documents
        if isinstance(documents, str)
        else json.dumps({"apiVersion": "v1", "kind": "List", "items": list(documents)})
    )
    return plane.kubectl("apply", "-f", "-", input=text)


def elapsed(since: float) -> float:
    return time.monotonic() - since
