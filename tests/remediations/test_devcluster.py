"""The local control plane's pieces that need no binaries: the cache key, missing binaries, kubeconfig, PKI."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from daemon.devcluster import DevClusterError, DevControlPlane, cluster_key, make_pki, start_if_cached, write_kubeconfig


def test_cache_key_matches_the_build_script() -> None:
    script = (Path(__file__).resolve().parents[2] / "scripts" / "build-cluster.sh").read_text()
    assert 'OUT="$CACHE/cluster/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"' in script
    assert cluster_key({}) == "k8s-v1.36.3-etcd-v3.6.16-kwok-v0.8.0"
    assert cluster_key({"K8S_VERSION": "v1.37.0"}).startswith("k8s-v1.37.0-etcd-")


def test_missing_binaries_say_how_to_build_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DevClusterError, match=r"run `make cluster`"):
        DevControlPlane(bin_dir=tmp_path, work_dir=tmp_path / "w").start()
    monkeypatch.setenv("AIOPSD_CACHE", str(tmp_path))
    plane, message = start_if_cached()
    assert plane is None
    assert "dry-run only" in message and "make cluster" in message


def test_pki_and_kubeconfig(tmp_path: Path) -> None:
    make_pki(tmp_path)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", tmp_path / "ca.crt", "tok")
    config = json.loads((tmp_path / "kc").read_text())
    assert config["users"][0]["user"]["token"] == "tok"
    assert (tmp_path / "kc").stat().st_mode & 0o777 == 0o600
