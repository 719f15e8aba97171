"""Root-cause ranking: which entity most likely explains a problem, how sure we are, and why.

Each candidate (a unit an anomaly belongs to, or the node its pod runs on) gets six factors in [0, 1]:

- coverage    the share of the problem's anomalies it explains (its own, its pods', those of units that depend on it)
- onset       how early its own anomalies began relative to the problem (causes precede symptoms)
- upstream    nothing it depends on is anomalous (it is the most upstream anomalous unit)
- magnitude   the highest score of its own anomalies
- change      it changed shortly before its onset (a new ReplicaSet, a config change)
- persistence it kept being anomalous (a single blip is weak evidence)

The weighted sum is turned into a confidence with a softmax across candidates, so confidences sum to one and a
clear winner gets a high one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from daemon.correlation.model import Member
from daemon.domain import RootCauseCandidate
from daemon.topology.graph import HUB_KINDS, Topology, kind_of

WEIGHTS = {"coverage": 0.3, "onset": 0.2, "upstream": 0.2, "magnitude": 0.1, "change": 0.1, "persistence": 0.1}
PERSISTENT = 3  # anomalies of a candidate at which it counts as fully persistent
TEMPERATURE = 0.08


@dataclass(frozen=True)
class Factors:
    coverage: float
    onset: float
    upstream: float
    magnitude: float
    change: float
    persistence: float

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
    # (workloads whose anomalies a dependency explains do not count: the dependency is the better explanation)
    # a unit with a single anomaly in a larger problem is a blip: it neither causes nor is caused
    sustained = {u for u, ms in own.items() if len(ms) >= 2} or set(own)
    independent = {u for u in anomalous_units if not upstream_of[u] & sustained}
    confined = {u: ms[0].node for u, ms in own.items() if ms[0].node and all(m.node == ms[0].node for m in ms)}
    shared_hosts = {n for n in hosts if sum(1 for u in independent if confined.get(u) == n) >= 2}
    onset_of = {u: _sustained_onset(ms, tick) for u, ms in own.items()}

    scored: list[tuple[float, str, Factors, list[str]]] = []
    for candidate in sorted(anomalous_units | set(hosts)):
        mine = own.get(candidate, [])
        is_hub = kind_of(candidate) in HUB_KINDS
        if is_hub:
            explained = {m.key for m in hosts.get(candidate, [])} | {m.key for m in mine}
            upstream = 1.0 if candidate in shared_hosts else 0.0
        else:
            # a dependency explains its callers' anomalies only if it went bad first (causes precede symptoms)
            start = onset_of[candidate] - tick
            explained = {
                m.key
                for m in members
                if m.unit == candidate
                or (candidate in sustained and candidate in upstream_of[m.unit] and m.ts >= start)
            }
            # only a dependency that went bad no later than this one can be its cause
            earlier = {u for u in upstream_of[candidate] & sustained if onset_of[u] <= onset_of[candidate] + tick}
            upstream = 0.0 if earlier else 1.0
            if upstream and confined.get(candidate) in shared_hosts:
                upstream = 0.5
        coverage = len(explained) / len(members)
        if is_hub and not mine:
            onset_ts = min(m.ts for m in hosts[candidate])
            magnitude = max(m.score for m in hosts[candidate])
        else:
            onset_ts = onset_of[candidate]
            magnitude = max(m.score for m in mine)
        onset = 1.0 - min((onset_ts - first) / span, 1.0)
        changes = topology.recent_changes(candidate, onset_ts - change_window, onset_ts)
        persistence = min(1.0, len(mine or hosts[candidate]) / PERSISTENT)
        factors = Factors(coverage, onset, upstream, magnitude, 1.0 if changes else 0.0, persistence)
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


def _sustained_onset(members: list[Member], tick: float) -> float:
    """When a unit's episode began: its first anomaly followed by another within two ticks (a lone blip before a
    long silence is noise, not the start); the first anomaly if none is."""
    times = sorted(m.ts for m in members)
    for first, second in pairwise(times):
        if second - first <= 2 * tick:
            return first
    return times[0]


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
