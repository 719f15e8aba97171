"""Scenarios: a topology, anomalies over time, and (for generated ones) the truth — for tests, benchmarks and
``aiopsd correlate``.

The generator builds a layered service graph (one Deployment per service, a few pods each, spread over nodes),
injects faults at root entities (a workload, sometimes a node, often right after a new ReplicaSet), propagates
them to dependents with per-hop delays, score decay and noise, and sprinkles unrelated background anomalies and
decoy changes. Concurrent incidents are placed so their blast radii do not overlap.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.correlation.errors import ScenarioError
from daemon.domain import Anomaly
from daemon.topology.graph import RelationKind, Topology

SYMPTOMS = ("latency", "errors", "memory_leak", "cpu_saturation", "restarts")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelationSpec(_Strict):
    source: str
    kind: RelationKind
    target: str


class ChangeSpec(_Strict):
    entity: str
    ts: float
    what: str


class TopologySpec(_Strict):
    entities: list[str] = Field(default_factory=list)
    relations: list[RelationSpec] = Field(default_factory=list)
    changes: list[ChangeSpec] = Field(default_factory=list)


class Truth(_Strict):
    incident_of: list[str] = Field(description="Per anomaly (same order): the incident it belongs to.")
    roots: dict[str, str] = Field(description="Incident -> root entity key; background incidents start with 'bg-'.")


class Scenario(_Strict):
    name: str = "scenario"
    tick: float = Field(15.0, gt=0, description="Seconds between ticks of the replay.")
    topology: TopologySpec = TopologySpec()
    anomalies: list[Anomaly]
    truth: Truth | None = None

    def build_topology(self) -> Topology:
        topology = Topology()
        for key in self.topology.entities:
            topology.add_entity(key)
        for rel in self.topology.relations:
            topology.add_relation(rel.source, rel.kind, rel.target)
        for change in self.topology.changes:
            topology.record_change(change.entity, change.ts, change.what)
        return topology


def load_scenario(path: Path) -> Scenario:
    """Read a scenario JSON file; errors name the file, the field path (e.g. anomalies[3].score) and the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors()[:20]:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            lines.append(f"  - {where or '(top level)'}: {err['msg']}")
        raise ScenarioError(f"{path}: {exc.error_count()} invalid field(s)\n" + "\n".join(lines)) from None
    if scenario.truth and len(scenario.truth.incident_of) != len(scenario.anomalies):
        raise ScenarioError(
            f"{path}: truth.incident_of has {len(scenario.truth.incident_of)} entries, "
            f"expected one per anomaly ({len(scenario.anomalies)})"
        )
    return scenario


class _Graph:
    def __init__(self, rng: random.Random, services: int, namespace: str) -> None:
        self.ns = namespace
        self.names = [f"svc{i:03d}" for i in range(services)]
        nodes = max(3, services // 8)
        self.nodes = [f"node//worker-{i}" for i in range(nodes)]
        self.deps: dict[str, list[str]] = {n: [] for n in self.names}
        for i, name in enumerate(self.names[:-1]):
            # call 1-3 services later in the list: a DAG, callers before callees
            later = self.names[i + 1 : i + 1 + max(6, services // 5)]
            self.deps[name] = sorted(rng.sample(later, min(len(later), rng.randint(1, 3))))
        self.callers: dict[str, list[str]] = {n: [] for n in self.names}
        for caller, callees in self.deps.items():
            for callee in callees:
                self.callers[callee].append(caller)
        self.pods: dict[str, list[tuple[str, str]]] = {}
        for name in self.names:
            rs = f"{name}-{rng.randrange(16**8):08x}"
            self.pods[name] = [
                (f"pod/{namespace}/{rs}-{rng.randrange(36**5):05d}"[:80], rng.choice(self.nodes))
                for _ in range(rng.randint(2, 3))
            ]

    def near(self, names: set[str], hops: int = 2) -> set[str]:
        """Services within ``hops`` dependency hops (either way) of these: where incidents would blur."""
        out = set(names)
        frontier = set(names)
        for _ in range(hops):
            frontier = {x for n in frontier for x in (*self.deps[n], *self.callers[n])} - out
            out |= frontier
        return out

    def deploy(self, name: str) -> str:
        return f"deployment/{self.ns}/{name}"

    def spec(self) -> TopologySpec:
        relations: list[RelationSpec] = []
        for name in self.names:
            deploy, svc = self.deploy(name), f"service/{self.ns}/{name}"
            relations.append(RelationSpec(source=f"namespace//{self.ns}", kind="owns", target=deploy))
            for pod, node in self.pods[name]:
                rs = pod.rsplit("-", 1)[0].replace("pod/", "replicaset/", 1)
                relations.append(RelationSpec(source=deploy, kind="owns", target=rs))
                relations.append(RelationSpec(source=rs, kind="owns", target=pod))
                relations.append(RelationSpec(source=pod, kind="runs_on", target=node))
                relations.append(RelationSpec(source=svc, kind="selects", target=pod))
            for callee in self.deps[name]:
                relations.append(RelationSpec(source=svc, kind="depends_on", target=f"service/{self.ns}/{callee}"))
        return TopologySpec(relations=relations)


def generate_scenario(
    services: int = 40,
    incidents: int = 3,
    background: int = 5,
    seed: int = 0,
    tick: float = 15.0,
    node_fault_share: float = 0.15,
) -> Scenario:
    rng = random.Random(seed)
    ns = "shop"
    graph = _Graph(rng, services, ns)
    t0 = 1_700_000_000.0
    anomalies: list[Anomaly] = []
    incident_of: list[str] = []
    roots: dict[str, str] = {}
    changes: list[ChangeSpec] = []
    taken: set[str] = set()

    def emit(name: str, pod: str, node: str, ts: float, score: float, symptom: str, incident: str) -> None:
        entities = {"pod": pod, "deployment": graph.deploy(name), "namespace": f"namespace//{ns}", "node": node}
        series = f"{symptom}:{pod}"
        anomalies.append(
            Anomaly(
                source="scenario",
                query=symptom,
                series_key=series,
                labels={"namespace": ns, "pod": pod.split("/")[-1], "deployment": name},
                entities=entities,
                ts=ts,
                value=score * 100,
                score=round(min(max(score, 0.05), 1.0), 3),
                detector="scenario",
                symptom=symptom,
            )
        )
        incident_of.append(incident)

    for index in range(incidents):
        incident = f"inc-{index}"
        start = t0 + tick * rng.randint(4, 4 + 6 * incidents)
        duration = rng.randint(6, 14)
        symptom = rng.choice(SYMPTOMS)
        if rng.random() < node_fault_share:
            placed = _node_fault(rng, graph, taken)
            if placed is None:
                continue
            node, hit = placed
            roots[incident] = node
            taken.update(hit)
            for name in sorted(hit):
                for pod, pod_node in graph.pods[name]:
                    if pod_node != node:
                        continue
                    delay = rng.randint(0, 1) * tick
                    for k in range(duration):
                        if rng.random() < 0.85:
                            emit(name, pod, node, start + delay + k * tick, rng.uniform(0.7, 0.95), symptom, incident)
            continue
        affected = _blast_radius(rng, graph, taken)
        if affected is None:
            continue
        root = next(iter(affected))
        roots[incident] = graph.deploy(root)
        taken.update(affected)
        if rng.random() < 0.5:
            changes.append(
                ChangeSpec(entity=graph.deploy(root), ts=start - rng.uniform(30, 600), what="new ReplicaSet")
            )
        for name, hop in affected.items():
            delay = tick * (hop * rng.choice((1, 1, 2)) if hop else 0)
            peak = (0.97 if hop == 0 else 0.9 - 0.08 * hop) + rng.uniform(-0.05, 0.03)
            for pod, node in graph.pods[name][: rng.randint(1, len(graph.pods[name]))]:
                for k in range(duration - hop):
                    if rng.random() < 0.8:
                        emit(
                            name, pod, node, start + delay + k * tick, peak + rng.uniform(-0.1, 0.05), symptom, incident
                        )
    horizon = t0 + tick * (12 + 6 * incidents + 16)
    for index in range(background):
        name = rng.choice(graph.names)
        pod, node = rng.choice(graph.pods[name])
        incident = f"bg-{index}"
        roots[incident] = graph.deploy(name)
        emit(name, pod, node, t0 + rng.uniform(0, horizon - t0), rng.uniform(0.5, 0.9), rng.choice(SYMPTOMS), incident)
    for _ in range(max(1, services // 10)):  # decoy changes that explain nothing
        changes.append(
            ChangeSpec(entity=graph.deploy(rng.choice(graph.names)), ts=t0 + rng.uniform(0, 600), what="config change")
        )
    order = sorted(range(len(anomalies)), key=lambda i: (anomalies[i].ts, i))
    topology = graph.spec().model_copy(update={"changes": changes})
    return Scenario(
        name=f"generated-{services}svc-{incidents}inc-seed{seed}",
        tick=tick,
        topology=topology,
        anomalies=[anomalies[i] for i in order],
        truth=Truth(incident_of=[incident_of[i] for i in order], roots=roots),
    )


def _blast_radius(rng: random.Random, graph: _Graph, taken: set[str]) -> dict[str, int] | None:
    """A root and the callers its fault reaches (hop count), not overlapping earlier incidents or their callers."""
    for _ in range(50):
        root = rng.choice(graph.names)
        if root in taken:
            continue
        affected = {root: 0}
        frontier = [root]
        for hop in (1, 2):
            nxt = []
            for callee in frontier:
                for caller in graph.callers[callee]:
                    if caller not in affected and rng.random() < 0.7:
                        affected[caller] = hop
                        nxt.append(caller)
            frontier = nxt
        if graph.near(set(affected)) & taken:
            continue
        return affected
    return None


def _node_fault(rng: random.Random, graph: _Graph, taken: set[str]) -> tuple[str, set[str]] | None:
    """A node whose workloads are not near any earlier incident: all its pods go bad together."""
    for _ in range(20):
        node = rng.choice(graph.nodes)
        hit = {name for name in graph.names for _, pod_node in graph.pods[name] if pod_node == node}
        if len(hit) >= 2 and not graph.near(hit) & taken:
            return node, hit
    return None


def scenario_json(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(mode="json")
