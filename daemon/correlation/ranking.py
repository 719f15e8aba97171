"""Root-cause ranking: which entity most likely explains a problem, how sure we are, and why.

Each candidate (a unit an anomaly belongs to, or the node its pod runs on) gets five factors in [0, 1]:

- coverage    the share of the problem's anomalies it explains (its own, its pods', those of units that depend on it)
- onset       how early its own anomalies began relative to the problem (causes precede symptoms)
- upstream    nothing it depends on is anomalous (it is the most upstream anomalous unit)
- magnitude   the highest score of its own anomalies
- change      it changed shortly before its onset (a new ReplicaSet, a config change)

The weighted sum is turned into a confidence with a softmax across candidates, so confidences sum to one and a
clear winner gets a high one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from daemon.correlation.model import Member
from daemon.domain import RootCauseCandidate
from daemon.topology.graph import HUB_KINDS, Topology, kind_of

WEIGHTS = {"coverage": 0.35, "onset": 0.25, "upstream": 0.2, "magnitude": 0.1, "change": 0.1}
TEMPERATURE = 0.08


@dataclass(frozen=True)
class Factors:
    coverage: float
    onset: float
    upstream: float
    magnitude: float
    change: float

    def total(self) -> float:
        return float(sum(WEIGHTS[name] * float(getattr(self, name)) for name in WEIGHTS))


def rank_root_causes(
    members: list[Member], topology: Topology, change_window: float, tick: float, limit: int
) -> list[RootCauseCandidate]:
    if not members:
        return []
    first = min(m.ts for m in members)
    span = max(max(m.ts for m in members) - first, tick)
    own: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        own[m.unit].append(m)
    hosts: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        if m.node:
            hosts[m.node].append(m)
    anomalous_units = set(own)
    upstream_of = {u: topology.upstream_of(u) for u in anomalous_units}
    # a node that hosts the only anomalous pods of several workloads looks like their common cause
    confined = {u: ms[0].node for u, ms in own.items() if ms[0].node and all(m.node == ms[0].node for m in ms)}
    shared_hosts = {n for n in hosts if sum(1 for u in confined if confined[u] == n) >= 2}

    scored: list[tuple[float, str, Factors, list[str]]] = []
    for candidate in sorted(anomalous_units | set(hosts)):
        mine = own.get(candidate, [])
        is_hub = kind_of(candidate) in HUB_KINDS
        if is_hub:
            explained = {m.key for m in hosts.get(candidate, [])} | {m.key for m in mine}
            upstream = 1.0 if candidate in shared_hosts else 0.0
        else:
            explained = {m.key for m in members if m.unit == candidate or candidate in upstream_of[m.unit]}
            upstream = 0.0 if upstream_of.get(candidate, set()) & anomalous_units else 1.0
            if upstream and confined.get(candidate) in shared_hosts:
                upstream = 0.5
        coverage = len(explained) / len(members)
        if is_hub and not mine:
            onset_ts = min(m.ts for m in hosts[candidate])
            magnitude = max(m.score for m in hosts[candidate])
        else:
            onset_ts = min(m.ts for m in mine)
            magnitude = max(m.score for m in mine)
        onset = 1.0 - min((onset_ts - first) / span, 1.0)
        changes = topology.recent_changes(candidate, onset_ts - change_window, onset_ts)
        factors = Factors(coverage, onset, upstream, magnitude, 1.0 if changes else 0.0)
        reasons = _reasons(factors, onset_ts - first, len(explained), len(members), [c.what for c in changes], is_hub)
        scored.append((factors.total(), candidate, factors, reasons))

    scored.sort(key=lambda item: (-item[0], item[1]))
    peak = scored[0][0]
    weights = [math.exp((s - peak) / TEMPERATURE) for s, *_ in scored]
    total = sum(weights)
    return [
        RootCauseCandidate(entity=entity, confidence=round(w / total, 4), reasons=reasons)
        for (_, entity, _, reasons), w in list(zip(scored, weights, strict=True))[:limit]
    ]


def _reasons(f: Factors, delay: float, explained: int, total: int, changes: list[str], is_hub: bool) -> list[str]:
    out = [f"explains {explained} of {total} anomalies"]
    out.append("earliest onset" if delay <= 0 else f"onset {delay:.0f}s after the first anomaly")
    if is_hub:
        out.append("the only anomalous pods of several workloads run here" if f.upstream else "hosts few of them")
    elif f.upstream == 1.0:
        out.append("no anomalous dependency upstream of it")
    elif f.upstream:
        out.append("its anomalous pods share a node with other anomalous workloads")
    else:
        out.append("depends on an anomalous service")
    if f.magnitude:
        out.append(f"peak anomaly score {f.magnitude:.2f}")
    out.extend(f"recent change: {what}" for what in changes)
    return out
