"""Applying Kubernetes object events (as the API's JSON) to a `Topology` — pure, no client, unit-testable.

The watch loop in daemon.topology_kube feeds this; anything else (a recorded stream, a test) can too.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from daemon.domain import EntityRef
from daemon.topology.builders import selector_matches
from daemon.topology.graph import Topology, kind_of

logger = logging.getLogger(__name__)

Resource = Literal["pods", "replicasets", "deployments", "statefulsets", "daemonsets", "jobs", "services"]
RESOURCES: tuple[Resource, ...] = (
    "services",
    "deployments",
    "statefulsets",
    "daemonsets",
    "jobs",
    "replicasets",
    "pods",
)
_KIND = {
    "pods": "pod",
    "replicasets": "replicaset",
    "deployments": "deployment",
    "statefulsets": "statefulset",
    "daemonsets": "daemonset",
    "jobs": "job",
    "services": "service",
}
_OWNER_KINDS = {
    "ReplicaSet": "replicaset",
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
    "Job": "job",
}


def _created(meta: dict[str, Any]) -> float | None:
    stamp = meta.get("creationTimestamp")
    if not isinstance(stamp, str):
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class KubeTopologyEvents:
    """Turns ADDED/MODIFIED/DELETED events of pods, workloads and services into entities, relations and changes."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._generations: dict[str, int] = {}
        # deleted objects: late events of their dependents (garbage-collected after them) must not bring them back
        self._tombstones: dict[str, float] = {}
        self.applied = 0

    def apply(self, resource: Resource, event_type: str, obj: dict[str, Any], now: float) -> None:
        meta = obj.get("metadata") or {}
        name, namespace = meta.get("name"), meta.get("namespace", "")
        if resource not in _KIND or not name:
            logger.debug("ignoring %s event without a name", resource)
            return
        key = EntityRef(kind=_KIND[resource], namespace=namespace, name=name).key
        self.applied += 1
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            self.topology.remove_entity(key)
            self._generations.pop(key, None)
            self._tombstones[key] = now
            if len(self._tombstones) > 10_000:
                self._tombstones = {k: t for k, t in self._tombstones.items() if t > now - 600}
            return
        if event_type not in ("ADDED", "MODIFIED"):
            return
        self._tombstones.pop(key, None)
        if resource == "services":
            self._service(key, namespace, obj)
        elif resource == "pods":
            self._pod(key, namespace, obj)
        else:
            self._owned(key, namespace, meta)
            if resource == "replicasets":
                self._new_replicaset(key, meta, event_type)
            else:
                self._generation(key, meta, now)

    def _owned(self, key: str, namespace: str, meta: dict[str, Any]) -> None:
        labels = meta.get("labels") or {}
        for source in self.topology.related(key, "owns", "in"):
            self.topology.remove_relation(source, key)
        self.topology.add_entity(key, labels=labels)
        owner = self._controller(meta, namespace)
        if owner is not None and owner in self._tombstones:
            owner = None  # its owner is gone; the garbage collector will delete it too
        self.topology.add_relation(owner or f"namespace//{namespace}", "owns", key)

    def _controller(self, meta: dict[str, Any], namespace: str) -> str | None:
        for ref in meta.get("ownerReferences") or []:
            kind = _OWNER_KINDS.get(ref.get("kind", ""))
            if kind and ref.get("controller", False) and ref.get("name"):
                return EntityRef(kind=kind, namespace=namespace, name=ref["name"]).key
        return None

    def _pod(self, key: str, namespace: str, obj: dict[str, Any]) -> None:
        self._owned(key, namespace, obj.get("metadata") or {})
        for node in self.topology.related(key, "runs_on"):
            self.topology.remove_relation(key, node)
        node_name = (obj.get("spec") or {}).get("nodeName")
        if node_name:
            self.topology.add_relation(key, "runs_on", EntityRef(kind="node", name=node_name).key)
        labels = self.topology.labels.get(key, {})
        for service in self.topology.related(key, "selects", "in"):
            self.topology.remove_relation(service, key)
        for service, selector in self.topology.selectors.items():
            if EntityRef.parse(service).namespace == namespace and selector_matches(selector, labels):
                self.topology.add_relation(service, "selects", key)

    def _service(self, key: str, namespace: str, obj: dict[str, Any]) -> None:
        selector = (obj.get("spec") or {}).get("selector") or {}
        self.topology.add_entity(key, labels=(obj.get("metadata") or {}).get("labels") or {})
        self.topology.selectors[key] = dict(selector)
        for pod in self.topology.related(key, "selects"):
            self.topology.remove_relation(key, pod)
        for pod, labels in self.topology.labels.items():
            if (
                kind_of(pod) == "pod"
                and EntityRef.parse(pod).namespace == namespace
                and selector_matches(selector, labels)
            ):
                self.topology.add_relation(key, "selects", pod)

    def _new_replicaset(self, key: str, meta: dict[str, Any], event_type: str) -> None:
        owner = self._controller(meta, meta.get("namespace", ""))
        created = _created(meta)
        if event_type == "ADDED" and owner and created is not None and key not in self._generations:
            self.topology.record_change(owner, created, f"new ReplicaSet {meta['name']}")
        self._generations[key] = int(meta.get("generation") or 0)

    def _generation(self, key: str, meta: dict[str, Any], now: float) -> None:
        generation = int(meta.get("generation") or 0)
        previous = self._generations.get(key)
        if previous is not None and generation > previous:
            self.topology.record_change(key, now, f"spec changed (generation {previous} → {generation})")
        self._generations[key] = generation
