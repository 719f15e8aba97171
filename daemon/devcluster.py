"""A local Kubernetes control plane from cached binaries: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes whose pods become Ready without containers).

Used by the test harness and by the ``make run`` demo. Plain subprocesses, no kubernetes client: everything binds to
127.0.0.1 on free ports, with TLS certificates made by ``openssl``, a static token file with one admin in
``system:masters``, RBAC authorization and service-account signing keys, all under one temporary directory.

The binaries come from ``scripts/build-cluster.sh`` (``make cluster``) and live in
``$AIOPSD_CACHE/cluster/<versions>/bin``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from daemon.errors import AiopsdError

logger = logging.getLogger(__name__)

# the same versions and cache key as scripts/build-cluster.sh (which honours the same variables)
DEFAULT_VERSIONS = {"K8S_VERSION": "v1.36.3", "ETCD_VERSION": "v3.6.16", "KWOK_VERSION": "v0.8.0"}
KWOK_STAGES = Path(__file__).with_name("devcluster_kwok.yaml")
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class DevClusterError(AiopsdError):
    """The local control plane could not be found or started (the message says which part and why)."""


def cache_dir() -> Path:
    return Path(os.environ.get("AIOPSD_CACHE", Path.home() / ".cache" / "aiopsd"))


def cluster_key(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    k8s, etcd, kwok = (env.get(name, default) for name, default in DEFAULT_VERSIONS.items())
    return f"k8s-{k8s}-etcd-{etcd}-kwok-{kwok}"


def default_bin_dir() -> Path:
    return cache_dir() / "cluster" / cluster_key() / "bin"


def missing_binaries(bin_dir: Path) -> list[str]:
    return [name for name in BINARIES if not os.access(bin_dir / name, os.X_OK)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DevClusterError(f"openssl {args[0]} failed in {cwd}: {done.stderr.strip()}")


def make_pki(directory: Path) -> None:
    """A CA, an apiserver serving certificate for 127.0.0.1/localhost, and a service-account key pair."""
    if shutil.which("openssl") is None:
        raise DevClusterError("openssl is not installed (apt-get install openssl)")
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=directory)
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-subj",
        "/CN=aiopsd-dev-ca",
        "-days",
        "30",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key", cwd=directory)
    _openssl("req", "-new", "-key", "server.key", "-subj", "/CN=kube-apiserver", "-out", "server.csr", cwd=directory)
    (directory / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,IP:10.0.0.1\n"
        "extendedKeyUsage=serverAuth\n",
        encoding="utf-8",
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
        cwd=directory,
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=directory)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str, user: str = "admin") -> None:
    """A kubeconfig (JSON is valid YAML) with one cluster, one token user and one current context."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "aiopsd-dev", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "aiopsd-dev", "context": {"cluster": "aiopsd-dev", "user": user}}],
        "current-context": "aiopsd-dev",
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    path.chmod(0o600)


@dataclass
class DevControlPlane:
    """A running local control plane. ``start()`` it, use ``server``/``ca_file``/``admin_token``, ``stop()`` it."""

    bin_dir: Path = field(default_factory=default_bin_dir)
    work_dir: Path | None = None
    nodes: int = 2
    with_controllers: bool = True
    server: str = ""
    ca_file: Path = Path()
    admin_token: str = ""
    kubeconfig: Path = Path()
    _procs: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = field(default_factory=list)
    _own_dir: bool = False

    def start(self, timeout: float = 60.0) -> DevControlPlane:
        missing = missing_binaries(self.bin_dir)
        if missing:
            raise DevClusterError(
                f"control-plane binaries {missing} are missing in {self.bin_dir}: run `make cluster` "
                "(scripts/build-cluster.sh builds them once into the cache)"
            )
        if self.work_dir is None:
            self.work_dir = Path(tempfile.mkdtemp(prefix="aiopsd-cluster-"))
            self._own_dir = True
        self.work_dir = self.work_dir.resolve()  # the components get absolute paths whatever their working dir
        started = time.monotonic()
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        logger.info("control plane up at %s in %.1fs", self.server, time.monotonic() - started)
        return self

    def _start(self, timeout: float) -> None:
        assert self.work_dir is not None
        pki = self.work_dir / "pki"
        make_pki(pki)
        self.ca_file = pki / "ca.crt"
        self.admin_token = secrets.token_hex(16)
        (pki / "tokens.csv").write_text(f'{self.admin_token},admin,admin-uid,"system:masters"\n', encoding="utf-8")
        client_port, peer_port, api_port = _free_port(), _free_port(), _free_port()
        etcd_url = f"http://127.0.0.1:{client_port}"
        self._spawn(
            "etcd",
            f"--data-dir={self.work_dir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",
            "--quota-backend-bytes=1073741824",
            "--log-level=warn",
        )
        self._wait_http(f"{etcd_url}/health", timeout, "etcd")
        self.server = f"https://127.0.0.1:{api_port}"
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--tls-cert-file={pki / 'server.crt'}",
            f"--tls-private-key-file={pki / 'server.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            "--watch-cache=true",
            "--profiling=false",
            "--v=0",
        )
        self.kubeconfig = self.work_dir / "admin.kubeconfig"
        write_kubeconfig(self.kubeconfig, self.server, self.ca_file, self.admin_token)
        self._wait_http(f"{self.server}/readyz", timeout, "kube-apiserver", token=self.admin_token)
        if self.with_controllers:
            self._spawn(
                "kube-controller-manager",
                f"--kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-ttl,-bootstrapsigner,-tokencleaner",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                "--use-service-account-credentials=false",
                "--concurrent-deployment-syncs=2",
                "--v=0",
            )
            self._spawn(
                "kube-scheduler",
                f"--kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                "--secure-port=0",
                "--leader-elect=false",
                "--v=0",
            )
            self._spawn(
                "kwok",
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=true",
                f"--config={KWOK_STAGES}",
                "--node-lease-duration-seconds=40",
                "--cidr=10.0.1.0/24",
                "--v=WARN",
            )
            for index in range(self.nodes):
                self._create_node(f"kwok-node-{index}")
            self._wait_nodes_ready(timeout)

    def _spawn(self, name: str, *args: str) -> None:
        assert self.work_dir is not None
        log = (self.work_dir / f"{name}.log").open("wb")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work_dir)}
        proc = subprocess.Popen(
            [str(self.bin_dir / name), *args], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.work_dir
        )
        self._procs.append((name, proc, log))

    def _check_alive(self) -> None:
        for name, proc, _log in self._procs:
            if proc.poll() is not None:
                raise DevClusterError(f"{name} exited with code {proc.returncode}: {self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 15) -> str:
        if self.work_dir is None:
            return ""
        path = self.work_dir / f"{name}.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _request(self, url: str, token: str | None = None, method: str = "GET", body: bytes | None = None) -> int:
        context = ssl.create_default_context(cafile=str(self.ca_file)) if url.startswith("https") else None
        request = urllib.request.Request(url, data=body, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status)

    def _wait_http(self, url: str, timeout: float, what: str, token: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if self._request(url, token) == 200:
                    return
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise DevClusterError(f"{what} not ready at {url} within {timeout}s ({last}): {self.log_tail(what)}")

    def _create_node(self, name: str) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {"type": "kwok", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
            },
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            },
        }
        self._request(f"{self.server}/api/v1/nodes", self.admin_token, "POST", json.dumps(node).encode())

    def _wait_nodes_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline:
            self._check_alive()
            ready = sum(
                1
                for node in self._get_json(f"{self.server}/api/v1/nodes").get("items", [])
                for cond in node.get("status", {}).get("conditions", [])
                if cond.get("type") == "Ready" and cond.get("status") == "True"
            )
            if ready >= self.nodes:
                return
            time.sleep(0.2)
        raise DevClusterError(f"only {ready}/{self.nodes} kwok nodes Ready within {timeout}s: {self.log_tail('kwok')}")

    def _get_json(self, url: str) -> dict[str, Any]:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            data: dict[str, Any] = json.load(response)
            return data

    def stop(self) -> None:
        for _name, proc, log in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            log.close()
        self._procs.clear()
        if self._own_dir and self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def start_if_cached(work_dir: Path | None = None, nodes: int = 2) -> tuple[DevControlPlane | None, str]:
    """For the demo: a running control plane, or None and what to do when the binaries are not built yet (the
    demo then remediates in dry-run only)."""
    bin_dir = default_bin_dir()
    missing = missing_binaries(bin_dir)
    if missing:
        return None, (
            f"control-plane binaries not cached in {bin_dir}: remediation runs as dry-run only; "
            "run `make cluster` once (a few minutes) for the full self-healing loop"
        )
    plane = DevControlPlane(bin_dir=bin_dir, work_dir=work_dir, nodes=nodes)
    try:
        plane.start()
    except DevClusterError as exc:
        return None, f"local control plane did not start: {exc}; remediation runs as dry-run only"
    return plane, f"local control plane at {plane.server} (kubeconfig {plane.kubeconfig})"
