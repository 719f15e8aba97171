from __future__ import annotations

from pathlib import Path

import pytest

from change_advisor.errors import ChangeRequestError
from change_advisor.manifests import diff_manifest_files, manifest_edits

EXAMPLES = Path(__file__).parents[2] / "examples" / "changes" / "manifests"


def _deployment(**container: object) -> dict[str, object]:
    base = {"name": "app", "image": "r/app:1.0"}
    base.update(container)
    return {
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [base]}}},
    }


def test_example_pair_finds_every_risky_edit() -> None:
    edits = diff_manifest_files(EXAMPLES / "payments-before.yaml", EXAMPLES / "payments-after.yaml")
    kinds = {(e.kind, e.severity) for e in edits}
    assert ("image_change", "medium") in kinds
    assert ("unpinned_image", "medium") in kinds
    assert ("replicas", "low") in kinds
    assert ("probe_removed", "high") in kinds
    assert ("rbac", "high") in kinds  # wildcard verbs
    assert any(e.kind == "resources" and "requests.cpu lowered" in e.detail for e in edits)
    assert not any(e.kind == "resources" and "memory" in e.detail for e in edits)


def test_unchanged_objects_have_no_edits() -> None:
    key = ("Deployment", "ns", "app")
    assert manifest_edits({key: _deployment()}, {key: _deployment()}) == []


def test_security_storage_crd_and_removal() -> None:
    key = ("Deployment", "ns", "app")
    after = _deployment(securityContext={"privileged": True}, resources={})
    crd = ("CustomResourceDefinition", "", "widgets.example.com")
    pvc = ("PersistentVolumeClaim", "ns", "data")
    gone = ("Service", "ns", "app")
    edits = manifest_edits(
        {
            key: _deployment(securityContext={"runAsNonRoot": True}, resources={"limits": {"memory": "1Gi"}}),
            crd: {"kind": "CustomResourceDefinition", "spec": {"versions": ["v1"]}},
            pvc: {"kind": "PersistentVolumeClaim", "spec": {"resources": {"requests": {"storage": "1Gi"}}}},
            gone: {"kind": "Service"},
        },
        {
            key: after,
            crd: {"kind": "CustomResourceDefinition", "spec": {"versions": ["v2"]}},
            pvc: {"kind": "PersistentVolumeClaim", "spec": {"resources": {"requests": {"storage": "2Gi"}}}},
        },
    )
    found = {(e.kind, e.detail) for e in edits}
    assert ("security_context", "app: privileged") in found
    assert ("security_context", "app: runAsNonRoot dropped") in found
    assert ("resources", "app: limits.memory removed") in found
    assert ("crd", "schema or versions changed") in found
    assert ("storage", "changed") in found
    assert ("object_removed", "removed") in found


def test_scale_to_zero_is_severe() -> None:
    key = ("Deployment", "ns", "app")
    after = _deployment()
    after["spec"] = {**after["spec"], "replicas": 0}  # type: ignore[dict-item]
    [edit] = manifest_edits({key: _deployment()}, {key: after})
    assert (edit.kind, edit.severity, edit.detail) == ("replicas", "high", "3 → 0")


def test_malformed_manifest_names_the_document(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Deployment\nmetadata: {name: a}\n---\nfoo: bar\n")
    with pytest.raises(ChangeRequestError, match=r"bad\.yaml document 2: expected a Kubernetes object"):
        diff_manifest_files(bad, bad)
