"""Pytest plugin: a real Kubernetes control plane (etcd, apiserver, controller-manager, scheduler, kwok) for the
session, and a fresh namespace per test.

Fixtures: ``control_plane`` (session) with ``server``, ``ca_file``, ``admin_token``, ``kubeconfig`` and
``api_client(token=None)``; ``namespace`` (function) — a new namespace name, deleted after the test.
Under CI=true a missing build or a failed start fails the run with the reason instead of skipping.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client

from daemon.devcluster import DevClusterError, DevControlPlane, default_bin_dir, missing_binaries
from tests.harness.common import unavailable


@dataclass
class ControlPlane:
    server: str
    ca_file: Path
    admin_token: str
    kubeconfig: Path
    plane: DevControlPlane

    def api_client(self, token: str | None = None) -> client.ApiClient:
        """An ApiClient for the admin, or for ``token`` (e.g. a ServiceAccount's)."""
        config = client.Configuration()
        config.host = self.server
        config.ssl_ca_cert = str(self.ca_file)
        config.api_key = {"authorization": f"Bearer {token or self.admin_token}"}
        return client.ApiClient(config)


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    bin_dir = default_bin_dir()
    missing = missing_binaries(bin_dir)
    if missing:
        unavailable("Kubernetes control plane", f"binaries {missing} not in {bin_dir}; run `make cluster`")
    plane = DevControlPlane(bin_dir=bin_dir, work_dir=tmp_path_factory.mktemp("cluster"))
    try:
        plane.start()
    except DevClusterError as exc:
        unavailable("Kubernetes control plane", str(exc))
    try:
        yield ControlPlane(plane.server, plane.ca_file, plane.admin_token, plane.kubeconfig, plane)
    finally:
        plane.stop()


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    with control_plane.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        try:
            yield name
        finally:
            core.delete_namespace(name, propagation_policy="Background")
