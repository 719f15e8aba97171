"""The entity graph: what owns what, what runs where, what selects what, and which service depends on which.

Relations are directed and typed:

- ``owns``        owner → owned: deployment → replicaset → pod, statefulset/daemonset/job → pod, namespace → object
- ``runs_on``     pod → node
- ``selects``     service → pod (by the service's label selector)
- ``depends_on``  caller → callee: a fault in the callee shows up in its callers ("upstream" = the callee)

Distances used for correlation are weighted: ownership and selection cost nothing (a pod, its ReplicaSet, its
Deployment and the Service in front of it are one workload), a dependency or a pod-on-node hop costs one.
Hubs (namespaces, nodes, the cluster) end a path but are never walked through, so two unrelated workloads that only
share a node or a namespace are not "near" each other — unless the node itself is part of the problem.
"""

from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from daemon.domain import EntityRef

logger = logging.getLogger(__name__)

RelationKind = Literal["owns", "runs_on", "selects", "depends_on"]
RELATION_KINDS: tuple[RelationKind, ...] = ("owns", "runs_on", "selects", "depends_on")
HUB_KINDS = frozenset({"namespace", "node", "cluster"})
WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset", "job")
# most specific first: the anchor of an anomaly is the first of these it names
SPECIFICITY = (
    "container",
    "pod",
    "replicaset",
    "deployment",
    "statefulset",
    "daemonset",
    "job",
    "service",
    "instance",
    "node",
    "namespace",
    "cluster",
)
_EDGE_COST: dict[RelationKind, int] = {"owns": 0, "selects": 0, "runs_on": 1, "depends_on": 1}


def kind_of(key: str) -> str:
    return key.split("/", 1)[0]


@dataclass(frozen=True)
class Change:
    """A recent change to an entity (a new ReplicaSet, a config change): evidence for root-cause ranking."""

    entity: str
    ts: float
    what: str


@dataclass
class Topology:
    """A mutable graph of entity keys (``EntityRef.key``). Builders and the Kubernetes watch fill it."""

    entities: set[str] = field(default_factory=set)
    _out: dict[str, dict[str, RelationKind]] = field(default_factory=lambda: defaultdict(dict))
    _in: dict[str, dict[str, RelationKind]] = field(default_factory=lambda: defaultdict(dict))
    changes: list[Change] = field(default_factory=list)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    selectors: dict[str, dict[str, str]] = field(default_factory=dict)
    # derived answers (units, upstream sets) are cached until the graph changes
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict)

    # -- building -------------------------------------------------------------------------------------------------
    def add_entity(self, key: str, labels: dict[str, str] | None = None) -> None:
        EntityRef.parse(key)  # validates the shape kind/namespace/name
        self.entities.add(key)
        if labels is not None:
            self.labels[key] = dict(labels)

    def add_relation(self, source: str, kind: RelationKind, target: str) -> None:
        if kind not in RELATION_KINDS:
            raise ValueError(f"unknown relation kind {kind!r}; expected one of {list(RELATION_KINDS)}")
        self.add_entity(source)
        self.add_entity(target)
        if self._out[source].get(target) != kind:
            self._cache.clear()
        self._out[source][target] = kind
        self._in[target][source] = kind

    def remove_relation(self, source: str, target: str) -> None:
        self._cache.clear()
        self._out.get(source, {}).pop(target, None)
        self._in.get(target, {}).pop(source, None)

    def remove_entity(self, key: str) -> None:
        for target in list(self._out.get(key, {})):
            self.remove_relation(key, target)
        for source in list(self._in.get(key, {})):
            self.remove_relation(source, key)
        self._out.pop(key, None)
        self._in.pop(key, None)
        self.entities.discard(key)
        self.labels.pop(key, None)
        self.selectors.pop(key, None)

    def record_change(self, entity: str, ts: float, what: str) -> None:
        self.changes.append(Change(entity, ts, what))

    # -- reading --------------------------------------------------------------------------------------------------
    def related(self, key: str, kind: RelationKind, direction: Literal["out", "in"] = "out") -> list[str]:
        edges = self._out.get(key, {}) if direction == "out" else self._in.get(key, {})
        return sorted(other for other, k in edges.items() if k == kind)

    def relations(self) -> list[tuple[str, RelationKind, str]]:
        return sorted((s, k, t) for s, targets in self._out.items() for t, k in targets.items())

    def owners(self, key: str) -> list[str]:
        """The owner chain upwards, nearest first: pod → replicaset → deployment (namespaces excluded)."""
        chain: list[str] = []
        current = key
        while True:
            parents = [p for p in self.related(current, "owns", "in") if kind_of(p) != "namespace"]
            if not parents or parents[0] in chain:
                return chain
            current = parents[0]
            chain.append(current)

    def workload_of(self, key: str) -> str | None:
        """The Deployment/StatefulSet/DaemonSet/Job an entity belongs to (itself if it is one)."""
        if kind_of(key) in WORKLOAD_KINDS:
            return key
        for owner in self.owners(key):
            if kind_of(owner) in WORKLOAD_KINDS:
                return owner
        if kind_of(key) == "service":
            for selected in self.related(key, "selects"):
                workload = self.workload_of(selected)
                if workload:
                    return workload
        return None

    def unit_of(self, key: str) -> str:
        """The entity that stands for ``key`` in a dependency graph: a workload, else the key itself."""
        cached = self._cache.get(("unit", key))
        if cached is None:
            cached = self._cache[("unit", key)] = self.workload_of(key) or key
        return str(cached)

    def node_of(self, key: str) -> str | None:
        nodes = self.related(key, "runs_on")
        return nodes[0] if nodes else None

    def dependencies(self, key: str) -> set[str]:
        """Units this one calls (directly), following dependencies declared on services or workloads."""
        return {self.unit_of(t) for k in self._aliases(key) for t in self.related(k, "depends_on")}

    def dependents(self, key: str) -> set[str]:
        """Units that call this one (directly)."""
        return {self.unit_of(s) for k in self._aliases(key) for s in self.related(k, "depends_on", "in")}

    def upstream_of(self, key: str, limit: int = 6) -> set[str]:
        """Every unit reachable along depends_on from ``key`` (what it transitively calls), within ``limit`` hops."""
        cached = self._cache.get(("upstream", f"{limit}:{key}"))
        if cached is not None:
            return set(cached)
        seen: set[str] = set()
        frontier = {self.unit_of(key)}
        for _ in range(limit):
            frontier = {d for f in frontier for d in self.dependencies(f)} - seen
            if not frontier:
                break
            seen |= frontier
        seen.discard(self.unit_of(key))
        self._cache[("upstream", f"{limit}:{key}")] = frozenset(seen)
        return seen

    def _aliases(self, key: str) -> set[str]:
        """A unit and the services in front of it: dependencies may be declared on either."""
        unit = self.unit_of(key)
        aliases = {key, unit, *self.related(unit, "selects", "in")}
        for pod in self._pods_of(unit):
            aliases.update(self.related(pod, "selects", "in"))
        return aliases

    def _pods_of(self, unit: str) -> list[str]:
        out: list[str] = []
        frontier = [unit]
        while frontier:
            current = frontier.pop()
            for child in self.related(current, "owns"):
                if kind_of(child) == "pod":
                    out.append(child)
                elif kind_of(child) == "replicaset":
                    frontier.append(child)
        return out

    def distances(self, sources: Iterable[str], limit: int, through_hubs: Iterable[str] = ()) -> dict[str, int]:
        """Weighted shortest distances from any of ``sources`` up to ``limit`` (see the module docstring).

        Hubs are entered but not left, except those in ``through_hubs`` (hubs that are themselves anomalous).
        Dependency hops keep one direction along a path: a fault travels from a callee to its callers, so two
        services that merely call the same third one are not related through it.
        """
        passable = set(through_hubs)
        best: dict[str, int] = {}
        done: set[tuple[str, int]] = set()
        heap: list[tuple[int, str, int]] = [(0, s, 0) for s in sources]
        heapq.heapify(heap)
        while heap:
            cost, key, heading = heapq.heappop(heap)
            if (key, heading) in done:
                continue
            done.add((key, heading))
            best.setdefault(key, cost)
            if kind_of(key) in HUB_KINDS and key not in passable and cost > 0:
                continue
            steps = [(o, k, 1) for o, k in self._out.get(key, {}).items()]
            steps += [(o, k, -1) for o, k in self._in.get(key, {}).items()]
            for other, kind, way in steps:
                if kind_of(other) == "namespace" and other not in passable:
                    continue  # namespaces group everything in them: never a correlation path
                next_heading = heading
                if kind == "depends_on":
                    if heading and heading != way:
                        continue
                    next_heading = way
                step = cost + _EDGE_COST[kind]
                if step <= limit and (other, next_heading) not in done:
                    heapq.heappush(heap, (step, other, next_heading))
        return best

    def recent_changes(self, key: str, since: float, until: float) -> list[Change]:
        related = {key, *self.owners(key)}
        return [c for c in self.changes if c.entity in related and since <= c.ts <= until]


def anchor_of(entities: dict[str, str]) -> str | None:
    """The most specific entity an anomaly names (its pod rather than its namespace)."""
    for kind in SPECIFICITY:
        if kind in entities:
            return entities[kind]
    return next(iter(entities.values()), None)
