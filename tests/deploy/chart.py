"""Rendering the Helm chart with the helm that scripts/build-tools.sh builds into the cache, and the
prometheus-operator CRDs it fetches. A missing tool fails under CI and skips otherwise (`make tools` builds them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.harness.common import CACHE, unavailable

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "aiopsd"
RELEASE, NAMESPACE = "prod", "aiopsd-system"
# every credential set: the values a production install uses
FULL_VALUES: dict[str, Any] = {
    "credentials": {
        "apiToken": {"secretName": "aiopsd-api", "key": "token"},
        "storeUrl": {"secretName": "aiopsd-store", "key": "url"},
        "tickets": {"secretName": "aiopsd-tickets"},
    }
}


def tools_dir() -> Path:
    """The newest finished tools build: <cache>/tools/helm-<v>-promop-<v>/ with bin/helm and crds/."""
    builds = sorted(p.parent for p in (CACHE / "tools").glob("helm-*/.complete"))
    if not builds:
        unavailable("helm", f"no finished build under {CACHE / 'tools'}; run `make tools`")
    return builds[-1]


def helm() -> str:
    return str(tools_dir() / "bin" / "helm")


def crd_files() -> list[Path]:
    return sorted((tools_dir() / "crds").glob("*.yaml"))


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool", "the Debian package 'prometheus' is not installed (make test installs it)")
    return str(found)


class RenderError(Exception):
    pass


def render(
    values: dict[str, Any] | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    extra: Sequence[str] = (),
    tmp: Path | None = None,
) -> list[dict[str, Any]]:
    """`helm template` with these values (passed as a JSON values file); the documents, empty ones dropped."""
    argv = [helm(), "template", release, str(CHART), "--namespace", namespace, *extra]
    if values is not None:
        if tmp is None:
            raise ValueError("values need a tmp dir for the values file")
        values_file = tmp / f"values-{len(list(tmp.glob('values-*')))}.json"
        values_file.write_text(json.dumps(values))
        argv += ["--values", str(values_file)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RenderError(done.stderr.strip())
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    return found[0]
