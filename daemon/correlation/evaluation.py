"""Replaying a scenario through the correlator tick by tick, and scoring the result against its truth."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sklearn.metrics import adjusted_rand_score

from daemon.correlation.correlator import ProblemCorrelator
from daemon.correlation.model import anomaly_key
from daemon.correlation.repository import MemoryProblemRepository
from daemon.correlation.scenario import Scenario
from daemon.domain import ProblemEvent
from daemon.settings.correlation import CorrelationSettings


@dataclass
class ReplayResult:
    scenario: Scenario
    assignment: list[str | None]  # per anomaly: the problem it ended up in (after merges)
    events: list[ProblemEvent]
    problems: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> last snapshot (JSON)
    first_seen: dict[str, float] = field(default_factory=dict)  # problem id -> tick it was opened

    def to_json(self) -> dict[str, Any]:
        members: dict[str, list[int]] = defaultdict(list)
        for index, pid in enumerate(self.assignment):
            if pid is not None:
                members[pid].append(index)
        problems = [
            {**snap, "anomaly_indices": members.get(pid, [])} for pid, snap in self.problems.items() if pid in members
        ]
        out: dict[str, Any] = {"scenario": self.scenario.name, "problems": problems}
        if self.scenario.truth is not None:
            out["evaluation"] = evaluate(self).__dict__
        return out


def replay(scenario: Scenario, settings: CorrelationSettings | None = None) -> ReplayResult:
    """Feed the anomalies tick by tick (each at the first tick at or after its timestamp), as the daemon would."""
    settings = settings or CorrelationSettings()
    correlator = ProblemCorrelator(scenario.build_topology(), settings, MemoryProblemRepository(), scenario.tick)
    anomalies = sorted(enumerate(scenario.anomalies), key=lambda item: item[1].ts)
    assignment: list[str | None] = [None] * len(scenario.anomalies)
    result = ReplayResult(scenario, assignment, [])
    if not anomalies:
        return result
    tick = scenario.tick
    now = math.ceil(anomalies[0][1].ts / tick) * tick
    end = anomalies[-1][1].ts + settings.quiet_period.total_seconds() + 2 * tick
    merged_into: dict[str, str] = {}
    cursor = 0
    while now <= end:
        batch = []
        while cursor < len(anomalies) and anomalies[cursor][1].ts <= now:
            batch.append(anomalies[cursor])
            cursor += 1
        events = correlator.observe([a for _, a in batch], now)
        for index, anomaly in batch:
            assignment[index] = correlator.problem_of(anomaly_key(anomaly))
        for event in events:
            result.problems[event.problem.id] = event.problem.model_dump(mode="json")
            if event.kind == "opened":
                result.first_seen[event.problem.id] = now
            if event.kind == "merged":
                merged_into[event.problem.id] = str(event.details["into"])
        result.events.extend(events)
        now += tick
    for index, pid in enumerate(assignment):
        while pid is not None and pid in merged_into:
            pid = merged_into[pid]
        assignment[index] = pid
    return result


@dataclass
class Evaluation:
    anomalies: int
    incidents: int
    problems: int
    adjusted_rand_index: float
    top1: float
    top3: float
    max_open_delay_ticks: float
    mean_open_delay_ticks: float


def evaluate(result: ReplayResult) -> Evaluation:
    truth = result.scenario.truth
    if truth is None:
        raise ValueError("the scenario has no truth to evaluate against")
    predicted = [pid if pid is not None else f"none-{i}" for i, pid in enumerate(result.assignment)]
    ari = float(adjusted_rand_score(truth.incident_of, predicted))
    by_incident: dict[str, list[int]] = defaultdict(list)
    for index, incident in enumerate(truth.incident_of):
        by_incident[incident].append(index)
    top1 = top3 = 0
    delays: list[float] = []
    real = [i for i in by_incident if not i.startswith("bg-")]
    for incident in real:
        indices = by_incident[incident]
        counts = Counter(result.assignment[i] for i in indices if result.assignment[i] is not None)
        if not counts:
            continue
        pid = counts.most_common(1)[0][0]
        ranked = [c["entity"] for c in result.problems[pid]["root_causes"]] if pid else []
        root = truth.roots[incident]
        top1 += bool(ranked[:1] == [root])
        top3 += root in ranked[:3]
        first = min(result.scenario.anomalies[i].ts for i in indices)
        opened = min(result.first_seen.get(result.assignment[i] or "", math.inf) for i in indices)
        delays.append(max(opened - first, 0.0) / result.scenario.tick)
    n = max(len(real), 1)
    return Evaluation(
        anomalies=len(predicted),
        incidents=len(real),
        problems=len({p for p in result.assignment if p is not None}),
        adjusted_rand_index=round(ari, 4),
        top1=round(top1 / n, 4),
        top3=round(top3 / n, 4),
        max_open_delay_ticks=round(max(delays, default=0.0), 3),
        mean_open_delay_ticks=round(sum(delays) / len(delays), 3) if delays else 0.0,
    )
