"""A real single-node cluster beside the tests' control plane: containerd (Debian's, native
snapshotter, runc through ``hack/lib/runc-wrapper``), the CNI bridge, kubelet, kube-proxy
(iptables), kube-controller-manager and kube-scheduler (``hack/node-assets.sh``), and CoreDNS
as a pod.

Everything it creates is its own and named so: a bridge ``tg<id>0`` on a /24 of 10.244.0.0/16
that no route of the machine uses, state folders under its work folder, containerd on its own
socket. ``stop`` deletes the pods first (the kubelet then tears their sandboxes and network
namespaces down), stops the processes by pid, ends the shims of its containerd, unmounts what
is mounted under its folders, has kube-proxy remove its rules and deletes the bridge.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from support.kube import ControlPlane
from support.procs import ROOT, Process, eventually, free_port
from support.tools import cached_tool_dir

WRAPPER = ROOT / "hack" / "lib" / "runc-wrapper"
NODE_NAME = "tg-node"
SERVICE_CIDR = "10.0.0.0/24"
DNS_IP = "10.0.0.10"


def node_assets() -> Path:
    return cached_tool_dir("NODE_ASSETS", "node-assets.sh")


def _run(*args: str | os.PathLike[str], check: bool = True, timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def _free_subnet() -> int:
    routes = _run("ip", "-4", "route", "show")
    for _ in range(50):
        third = secrets.randbelow(200) + 20
        if f"10.244.{third}." not in routes:
            return third
    raise AssertionError("no free 10.244.x.0/24 for the node's pods")


IPTABLES = ("iptables", "ip6tables")


def _chains(tool: str) -> set[tuple[str, str]]:
    """(table, chain) of every chain, from ``<tool>-save``."""
    chains, table = set(), ""
    for line in _run(f"{tool}-save", check=False).splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            chains.add((table, line[1:].split()[0]))
    return chains


def _remove_chains(tool: str, chains: set[tuple[str, str]]) -> None:
    """The chains the node's kubelet and kube-proxy made, and the jumps into them."""
    table = ""
    for line in _run(f"{tool}-save", check=False).splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith("-A "):
            words = shlex.split(line)
            target = words[words.index("-j") + 1] if "-j" in words else ""
            if (table, target) in chains and (table, words[1]) not in chains:
                _run(tool, "-t", table, "-D", *words[1:], check=False)
    for table, chain in chains:
        _run(tool, "-t", table, "-F", chain, check=False)
    for table, chain in chains:
        _run(tool, "-t", table, "-X", chain, check=False)


class Node:
    def __init__(self, workdir: Path, log_dir: Path) -> None:
        self.id = secrets.token_hex(3)
        self.workdir = workdir
        self.log_dir = log_dir
        self.assets = node_assets()
        third = _free_subnet()
        self.pod_cidr = f"10.244.{third}.0/24"
        self.address = f"10.244.{third}.1"
        self.bridge = f"tg{self.id}0"
        self.socket = workdir / "containerd.sock"
        self.plane: ControlPlane | None = None
        self.kubelet_config: dict[str, Any] = {}
        self._procs: list[Process] = []
        self._netns_before: set[str] = set()
        self._chains_before: dict[str, set[tuple[str, str]]] = {}
        self._bridge_made = False

    # --- bring-up ---------------------------------------------------------------------------
    def start(self) -> ControlPlane:
        self._netns_before = (
            set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
        )
        self._chains_before = {tool: _chains(tool) for tool in IPTABLES}
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        self._bridge_made = True
        _run("ip", "addr", "add", f"{self.address}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        self.plane = ControlPlane(self.workdir / "plane", self.log_dir, address=self.address)
        self.plane.workdir.mkdir()
        self.plane.start()
        self._containerd()
        self._kubelet()
        self._controllers()
        return self.plane

    def _containerd(self) -> None:
        root = self.workdir / "containerd"
        cni = self.workdir / "cni"
        (cni / "net.d").mkdir(parents=True)
        (cni / "net.d" / "10-tg.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": f"tg{self.id}",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": self.bridge,
                            "isGateway": True,
                            "ipMasq": False,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": self.pod_cidr, "gateway": self.address}]],
                                # Services' IPs are reached through the bridge (kube-proxy).
                                "routes": [{"dst": "0.0.0.0/0"}],
                                "dataDir": str(cni / "ipam"),
                            },
                        },
                        {"type": "portmap", "capabilities": {"portMappings": True}},
                    ],
                }
            )
        )
        config = f"""
version = 2
root = "{root / "root"}"
state = "{root / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.overlayfs"]
[grpc]
  address = "{self.socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{self.pause_image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{WRAPPER}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni / "net.d"}"
"""
        (self.workdir / "containerd.toml").write_text(config)
        proc = Process(
            f"containerd-{self.id}",
            ["containerd", "--config", self.workdir / "containerd.toml"],
            log_dir=self.log_dir,
        )
        self._procs.append(proc)
        eventually(
            lambda: self.ctr("version", check=False) is not None and self.socket.exists(),
            timeout=60,
        )

    @property
    def pause_image(self) -> str:
        return "localhost/temporal-gateway-pause:1"

    def ctr(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        return _run(
            "ctr", "--address", self.socket, "-n", "k8s.io", *args, check=check, timeout=timeout
        )

    def import_image(self, archive: Path) -> None:
        self.ctr("images", "import", "--no-unpack=false", "--snapshotter=native", str(archive))

    def _kubelet(self) -> None:
        assert self.plane is not None
        kubelet = self.workdir / "kubelet"
        kubelet.mkdir()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs",
            "failCgroupV1": False,
            "cgroupsPerQOS": False,
            "enforceNodeAllocatable": [],
            "failSwapOn": False,
            "address": self.address,
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzPort": free_port(),
            "healthzBindAddress": "127.0.0.1",
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "clusterDNS": [DNS_IP],
            "clusterDomain": "cluster.local",
            "podCIDR": self.pod_cidr,
            "resolvConf": str(self._resolv_conf()),
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
            },
            # The sync periods are the kubelet's defaults (syncFrequency 1m), as on users'
            # clusters: nothing the gateway needs waits for them (the API watches its routes).
            "serializeImagePulls": False,
            "localStorageCapacityIsolation": False,
        }
        self.kubelet_config = config
        (kubelet / "config.json").write_text(json.dumps(config))
        self._procs.append(
            Process(
                f"kubelet-{self.id}",
                [
                    self.assets / "kubelet",
                    f"--config={kubelet / 'config.json'}",
                    f"--kubeconfig={self.plane.kubeconfig}",
                    f"--root-dir={kubelet / 'root'}",
                    f"--cert-dir={kubelet / 'pki'}",
                    f"--hostname-override={NODE_NAME}",
                    f"--node-ip={self.address}",
                    "--v=1",
                ],
                log_dir=self.log_dir,
            )
        )

    def _resolv_conf(self) -> Path:
        # Pods resolve only the cluster's names; nothing leaves the machine.
        path = self.workdir / "resolv.conf"
        path.write_text("nameserver 127.0.0.1\n")
        return path

    def _controllers(self) -> None:
        assert self.plane is not None
        kubeconfig = str(self.plane.kubeconfig)
        pki = self.plane.workdir / "pki"
        self._procs.append(
            Process(
                f"kube-controller-manager-{self.id}",
                [
                    self.assets / "kube-controller-manager",
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={free_port()}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=false",
                    f"--root-ca-file={self.plane.workdir / 'serving' / 'apiserver.crt'}",
                    f"--service-account-private-key-file={pki / 'sa.key'}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--controllers=*,-nodeipam",
                ],
                log_dir=self.log_dir,
            )
        )
        self._procs.append(
            Process(
                f"kube-scheduler-{self.id}",
                [
                    self.assets / "kube-scheduler",
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={free_port()}",
                    "--leader-elect=false",
                ],
                log_dir=self.log_dir,
            )
        )
        self._procs.append(
            Process(
                f"kube-proxy-{self.id}",
                [
                    self.assets / "kube-proxy",
                    f"--kubeconfig={kubeconfig}",
                    "--proxy-mode=iptables",
                    f"--hostname-override={NODE_NAME}",
                    f"--cluster-cidr={self.pod_cidr}",
                    # Pods on one bridge reach each other's Services: without SNAT the reply
                    # would bypass the host's conntrack (no br_netfilter guarantee here).
                    "--masquerade-all",
                    f"--metrics-bind-address=127.0.0.1:{free_port()}",
                    f"--healthz-bind-address=127.0.0.1:{free_port()}",
                    "--conntrack-max-per-core=0",
                ],
                log_dir=self.log_dir,
            )
        )

    def wait_ready(self, timeout: float = 180) -> None:
        assert self.plane is not None

        def ready() -> bool:
            for proc in self._procs:
                assert proc.alive(), proc.log()[-3000:]
            node = self.plane.get_json("node", NODE_NAME)
            return any(
                c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]
            )

        eventually(ready, timeout=timeout, interval=1)

    # --- teardown ---------------------------------------------------------------------------
    def stop(self) -> None:
        try:
            self._stop_node()
        finally:
            # Whatever failed above, the control plane and the bridge still go.
            if self.plane is not None:
                self.plane.stop()
            if self._bridge_made:
                _run("ip", "link", "delete", self.bridge, check=False)

    def _stop_node(self) -> None:
        if self.plane is not None:
            # Owners first, so that nothing recreates the pods.
            self.plane.kubectl_result(
                "delete", "deployments,daemonsets,statefulsets,jobs", "--all", "-A", "--wait=false"
            )
            self.plane.kubectl_result(
                "delete", "pods", "--all", "-A", "--grace-period=0", "--force", "--wait=false"
            )

            # Stopped is enough: the kubelet forgets stopped containers only at its next garbage
            # collection (about a minute), and the shims, mounts and namespaces go below anyway.
            def nothing_runs() -> bool:
                tasks = self.ctr("tasks", "list", check=False).splitlines()[1:]
                return not any(line.split()[-1:] == ["RUNNING"] for line in tasks)

            with contextlib.suppress(AssertionError):
                eventually(nothing_runs, timeout=60, interval=1)
        for proc in reversed(self._procs):
            if "kube-proxy" in proc.name:
                proc.stop()
                _run(self.assets / "kube-proxy", "--cleanup", check=False)
            else:
                proc.stop()
        self._end_shims()
        self._unmount()
        if os.path.isdir("/var/run/netns"):
            for name in set(os.listdir("/var/run/netns")) - self._netns_before:
                if name.startswith("cni-"):
                    _run("ip", "netns", "delete", name, check=False)
        for tool in IPTABLES:
            _remove_chains(tool, _chains(tool) - self._chains_before.get(tool, set()))

    def _end_shims(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                cmdline
                and cmdline[0].endswith(b"containerd-shim-runc-v2")
                and str(self.socket).encode() in cmdline
            ):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.5)

    def _unmount(self) -> None:
        prefix = str(self.workdir)
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
            _run("umount", "-l", target, check=False)
