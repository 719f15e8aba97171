"""Risky edits between Kubernetes manifests before and after a change.

Objects are matched by (kind, namespace, name). What is recognised: image changes and unpinned images, replica
changes, resources lowered or removed, probes removed, a weaker security context, RBAC changes (wildcards are worse),
CRD changes, storage changes, and objects removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from change_advisor.errors import ChangeRequestError, RequestIssue

Severity = Literal["low", "medium", "high"]
EDIT_KINDS = (
    "image_change",
    "unpinned_image",
    "replicas",
    "resources",
    "probe_removed",
    "security_context",
    "rbac",
    "crd",
    "storage",
    "object_removed",
)
_RBAC = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"}
_STORAGE = {"PersistentVolumeClaim", "PersistentVolume", "StorageClass"}
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


class RiskyEdit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    object: str
    detail: str
    severity: Severity


ObjectKey = tuple[str, str, str]


def load_manifests(path: Path) -> dict[ObjectKey, dict[str, Any]]:
    """Every object in a multi-document YAML file, keyed by (kind, namespace, name)."""
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ChangeRequestError(str(path), [RequestIssue(str(path), f"cannot read manifest: {exc.strerror}")]) from exc
    except yaml.YAMLError as exc:
        raise ChangeRequestError(str(path), [RequestIssue(str(path), f"invalid YAML manifest: {exc}")]) from exc
    objects: dict[ObjectKey, dict[str, Any]] = {}
    issues = []
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        items = doc.get("items", []) if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for item in items:
            meta = item.get("metadata") if isinstance(item, dict) else None
            if not isinstance(item, dict) or "kind" not in item or not isinstance(meta, dict) or "name" not in meta:
                issues.append(
                    RequestIssue(
                        f"{path} document {index + 1}", "expected a Kubernetes object with kind and metadata.name"
                    )
                )
                continue
            objects[(str(item["kind"]), str(meta.get("namespace", "")), str(meta["name"]))] = item
    if issues:
        raise ChangeRequestError(str(path), issues)
    return objects


def _name(key: ObjectKey) -> str:
    kind, namespace, name = key
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return dict(spec)
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return dict((spec.get("template") or {}).get("spec") or {})


def _containers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = _pod_spec(obj)
    every = list(pod.get("containers") or []) + list(pod.get("initContainers") or [])
    return {str(c.get("name", i)): c for i, c in enumerate(every) if isinstance(c, dict)}


def _quantity(value: Any) -> float | None:
    """A Kubernetes quantity as a number (enough to compare two of the same resource)."""
    if value is None:
        return None
    text = str(value)
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                return None
    try:
        return float(text)
    except ValueError:
        return None


def _unpinned(image: str) -> bool:
    if "@sha256:" in image:
        return False
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return tag in ("", "latest")


def _container_edits(key: ObjectKey, before: dict[str, Any], after: dict[str, Any]) -> Iterator[RiskyEdit]:
    name = _name(key)
    old_containers, new_containers = _containers(before), _containers(after)
    for cname, new in new_containers.items():
        old = old_containers.get(cname, {})
        image = str(new.get("image", ""))
        if old and old.get("image") != new.get("image"):
            yield RiskyEdit(
                kind="image_change", object=name, detail=f"{cname}: {old.get('image')} → {image}", severity="medium"
            )
        if image and _unpinned(image):
            yield RiskyEdit(
                kind="unpinned_image",
                object=name,
                detail=f"{cname}: {image} has no pinned tag or digest",
                severity="medium",
            )
        for probe in _PROBES:
            if probe in old and probe not in new:
                yield RiskyEdit(kind="probe_removed", object=name, detail=f"{cname}: {probe} removed", severity="high")
        yield from _resource_edits(name, cname, old.get("resources") or {}, new.get("resources") or {})
        yield from _security_edits(name, cname, old.get("securityContext") or {}, new.get("securityContext") or {})


def _resource_edits(name: str, cname: str, old: dict[str, Any], new: dict[str, Any]) -> Iterator[RiskyEdit]:
    for section in ("requests", "limits"):
        for resource, value in (old.get(section) or {}).items():
            now = (new.get(section) or {}).get(resource)
            before_q, after_q = _quantity(value), _quantity(now)
            if now is None:
                yield RiskyEdit(
                    kind="resources", object=name, detail=f"{cname}: {section}.{resource} removed", severity="medium"
                )
            elif before_q is not None and after_q is not None and after_q < before_q:
                yield RiskyEdit(
                    kind="resources",
                    object=name,
                    detail=f"{cname}: {section}.{resource} lowered {value} → {now}",
                    severity="medium",
                )


def _security_edits(name: str, cname: str, old: dict[str, Any], new: dict[str, Any]) -> Iterator[RiskyEdit]:
    if new.get("privileged") and not old.get("privileged"):
        yield RiskyEdit(kind="security_context", object=name, detail=f"{cname}: privileged", severity="high")
    if new.get("allowPrivilegeEscalation") and not old.get("allowPrivilegeEscalation"):
        yield RiskyEdit(
            kind="security_context", object=name, detail=f"{cname}: allowPrivilegeEscalation", severity="high"
        )
    if old.get("runAsNonRoot") and not new.get("runAsNonRoot"):
        yield RiskyEdit(kind="security_context", object=name, detail=f"{cname}: runAsNonRoot dropped", severity="high")
    if old.get("readOnlyRootFilesystem") and not new.get("readOnlyRootFilesystem"):
        yield RiskyEdit(
            kind="security_context", object=name, detail=f"{cname}: root filesystem now writable", severity="medium"
        )
    added = set((new.get("capabilities") or {}).get("add") or []) - set(
        (old.get("capabilities") or {}).get("add") or []
    )
    if added:
        yield RiskyEdit(
            kind="security_context", object=name, detail=f"{cname}: capabilities added {sorted(added)}", severity="high"
        )


def _rbac_severity(obj: dict[str, Any]) -> Severity:
    for rule in obj.get("rules") or []:
        if "*" in (rule.get("verbs") or []) or "*" in (rule.get("resources") or []):
            return "high"
    ref = obj.get("roleRef") or {}
    return "high" if ref.get("name") == "cluster-admin" else "medium"


def manifest_edits(before: dict[ObjectKey, dict[str, Any]], after: dict[ObjectKey, dict[str, Any]]) -> list[RiskyEdit]:
    """Every risky edit from ``before`` to ``after``, in a stable order."""
    edits: list[RiskyEdit] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        kind, name = key[0], _name(key)
        if new is None:
            edits.append(RiskyEdit(kind="object_removed", object=name, detail="removed", severity="high"))
            continue
        if old == new:
            continue
        old = old or {}
        if kind in _RBAC:
            edits.append(
                RiskyEdit(
                    kind="rbac", object=name, detail="added" if not old else "changed", severity=_rbac_severity(new)
                )
            )
        elif kind == "CustomResourceDefinition":
            edits.append(
                RiskyEdit(
                    kind="crd",
                    object=name,
                    detail="added" if not old else "schema or versions changed",
                    severity="high" if old else "medium",
                )
            )
        elif kind in _STORAGE:
            edits.append(
                RiskyEdit(
                    kind="storage",
                    object=name,
                    detail="added" if not old else "changed",
                    severity="high" if old else "medium",
                )
            )
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old and old_spec.get("replicas") != new_spec.get("replicas") and "replicas" in new_spec:
            severity: Severity = "high" if new_spec.get("replicas") == 0 else "low"
            edits.append(
                RiskyEdit(
                    kind="replicas",
                    object=name,
                    detail=f"{old_spec.get('replicas', 1)} → {new_spec.get('replicas')}",
                    severity=severity,
                )
            )
        if old and old_spec.get("volumeClaimTemplates") != new_spec.get("volumeClaimTemplates"):
            edits.append(RiskyEdit(kind="storage", object=name, detail="volumeClaimTemplates changed", severity="high"))
        edits.extend(_container_edits(key, old, new))
    return edits


def diff_manifest_files(before: Path, after: Path) -> list[RiskyEdit]:
    return manifest_edits(load_manifests(before), load_manifests(after))
