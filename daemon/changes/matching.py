"""Whether a change's target is touched by an entity set (of an anomaly or a problem)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from change_advisor.request import Target

_WORKLOADS = ("deployment", "statefulset", "daemonset")


def touches(target: Target, entities: Mapping[str, str]) -> bool:
    """An entity set names the target (its namespace must agree when both say one); a pod ``NAME-…`` counts for a
    workload ``NAME``."""
    if target.kind == "namespace":
        return entities.get("namespace") == target.name
    if target.namespace and entities.get("namespace") not in (None, target.namespace):
        return False
    if entities.get(target.kind) == target.name:
        return True
    return target.kind in _WORKLOADS and entities.get("pod", "").startswith(target.name + "-")


def entity_sets(keys: Iterable[str]) -> list[dict[str, str]]:
    """Entity keys (``deployment/shop/cart``) as the entity sets ``touches`` reads: {kind: name, namespace: ns}."""
    out = []
    for key in keys:
        kind, namespace, name = key.split("/", 2)
        out.append({kind: name, **({"namespace": namespace} if namespace else {})})
    return out
