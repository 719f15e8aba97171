"""Helpers shared by the workload runbooks: rollout status, replica counts, unavailability during a rollout."""

from __future__ import annotations

import math
import re

from remediations.cluster import Json

WORKLOADS = frozenset({"deployment", "statefulset", "daemonset"})
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {
    "": 1.0,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}


def parse_quantity(text: str) -> float:
    """A Kubernetes quantity (``512Mi``, ``1.5``, ``250m``) as a number; raises ValueError with what was expected."""
    match = _QUANTITY.match(str(text).strip())
    if not match or match.group(2) not in _SUFFIX:
        raise ValueError(f"expected a Kubernetes quantity such as 512Mi, 2Gi, 500m or 1.5, got {text!r}")
    return float(match.group(1)) * _SUFFIX[match.group(2)]


def desired_replicas(obj: Json, kind: str) -> int:
    if kind == "daemonset":
        return int(obj.get("status", {}).get("desiredNumberScheduled") or 0)
    replicas = obj.get("spec", {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def ready_replicas(obj: Json, kind: str) -> int:
    status = obj.get("status", {})
    if kind == "daemonset":
        return int(status.get("numberReady") or 0)
    return int(status.get("readyReplicas") or 0)


def max_unavailable(obj: Json, kind: str) -> int:
    """How many replicas a rolling restart takes down at once (the strategy's maxUnavailable; at least 1)."""
    replicas = desired_replicas(obj, kind)
    spec = obj.get("spec", {})
    if kind == "deployment":
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        value = rolling.get("maxUnavailable", "25%")
    elif kind == "statefulset":
        value = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", 1)
    else:
        value = ((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        count = math.floor(replicas * float(value[:-1]) / 100)
    else:
        count = int(value)
    return max(1, min(count, replicas)) if replicas else 0


def rollout_complete(obj: Json, kind: str) -> bool:
    """What ``kubectl rollout status`` waits for: the new template observed, updated and available everywhere."""
    meta, status = obj.get("metadata", {}), obj.get("status", {})
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    if kind == "deployment":
        replicas = desired_replicas(obj, kind)
        return (
            int(status.get("updatedReplicas") or 0) == replicas
            and int(status.get("replicas") or 0) == replicas
            and int(status.get("availableReplicas") or 0) == replicas
        )
    if kind == "statefulset":
        replicas = desired_replicas(obj, kind)
        return (
            status.get("updateRevision") == status.get("currentRevision")
            and int(status.get("readyReplicas") or 0) == replicas
            and int(status.get("updatedReplicas") or 0) == replicas
        )
    desired = int(status.get("desiredNumberScheduled") or 0)
    return int(status.get("updatedNumberScheduled") or 0) == desired and int(status.get("numberAvailable") or 0) == (
        desired
    )
