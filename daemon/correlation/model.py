"""The live problem object owned by the correlator, and the anomalies it holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from daemon.domain import Anomaly, ProblemSnapshot, ProblemStatus, RootCauseCandidate, Severity
from daemon.topology.graph import HUB_KINDS, kind_of

ACTIVE: frozenset[ProblemStatus] = frozenset({"open", "mitigating"})


def anomaly_key(anomaly: Anomaly) -> str:
    """Identity of one detection, to drop duplicates (a re-delivered alert, a replay after restart)."""
    raw = f"{anomaly.source}|{anomaly.query}|{anomaly.series_key}|{anomaly.ts!r}|{anomaly.kind}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def fingerprint_of(base_key: str, generation: int) -> str:
    """Stable across restarts: the unit and symptom that opened the problem, and how many came before it."""
    return hashlib.sha256(f"{base_key}#{generation}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Member:
    """One anomaly inside a problem, reduced to what correlation and ranking need."""

    key: str
    ts: float
    anchor: str
    unit: str
    node: str | None
    entities: tuple[str, ...]
    score: float
    symptom: str
    query: str

    def related_keys(self) -> set[str]:
        """Keys that place this anomaly in the topology; hubs only if the anomaly is about the hub itself."""
        keys = {k for k in self.entities if kind_of(k) not in HUB_KINDS} | {self.unit}
        if kind_of(self.anchor) in HUB_KINDS:
            keys.add(self.anchor)
        return keys

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "ts": self.ts,
            "anchor": self.anchor,
            "unit": self.unit,
            "node": self.node,
            "entities": list(self.entities),
            "score": self.score,
            "symptom": self.symptom,
            "query": self.query,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Member:
        return cls(**{**data, "entities": tuple(data["entities"])})


@dataclass
class Problem:
    id: str
    fingerprint: str
    base_key: str
    status: ProblemStatus
    opened_at: float
    updated_at: float
    severity: Severity = "warning"
    title: str = ""
    resolved_at: float | None = None
    closed_at: float | None = None
    reopen_count: int = 0
    linked_to: str | None = None
    merged_into: str | None = None
    acknowledged_by: str | None = None
    members: list[Member] = field(default_factory=list)
    candidates: list[RootCauseCandidate] = field(default_factory=list)

    @property
    def first_ts(self) -> float:
        return min(m.ts for m in self.members)

    @property
    def last_ts(self) -> float:
        return max(m.ts for m in self.members)

    def related_keys(self) -> set[str]:
        return set().union(*(m.related_keys() for m in self.members)) if self.members else set()

    def hub_anchors(self) -> set[str]:
        return {m.anchor for m in self.members if kind_of(m.anchor) in HUB_KINDS}

    def units(self) -> set[str]:
        return {m.unit for m in self.members}

    def symptoms(self) -> list[str]:
        counts: dict[str, int] = {}
        for m in self.members:
            counts[m.symptom] = counts.get(m.symptom, 0) + 1
        return sorted(counts, key=lambda s: (-counts[s], s))

    def snapshot(self) -> ProblemSnapshot:
        entities = sorted({e for m in self.members for e in m.entities} | self.units())
        top = self.candidates[0].entity if self.candidates else self.base_key.split("|")[0]
        symptoms = self.symptoms()
        return ProblemSnapshot(
            id=self.id,
            fingerprint=self.fingerprint,
            title=self.title,
            status=self.status,
            severity=self.severity,
            opened_at=self.opened_at,
            updated_at=self.updated_at,
            resolved_at=self.resolved_at,
            entities=entities,
            root_causes=list(self.candidates),
            symptoms=symptoms,
            signature=f"{kind_of(top)}:{symptoms[0] if symptoms else 'unknown'}",
            anomaly_count=len(self.members),
            reopen_count=self.reopen_count,
            linked_to=self.linked_to,
        )
