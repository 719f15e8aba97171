"""Domain vocabulary shared across the daemon (pydantic v2, frozen, extra="forbid")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# kinds whose objects live in a namespace; the others (node, namespace, cluster) are cluster-scoped
NAMESPACED_KINDS = frozenset(
    {"pod", "container", "deployment", "statefulset", "daemonset", "replicaset", "service", "job"}
)


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntityRef(Frozen):
    """One thing in the system: ``deployment/shop/cart``, ``node//worker-1``, ``namespace//shop``."""

    kind: str
    name: str
    namespace: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @classmethod
    def parse(cls, key: str) -> EntityRef:
        kind, namespace, name = key.split("/", 2)
        return cls(kind=kind, namespace=namespace, name=name)

    def __str__(self) -> str:
        return self.key


def entities_from_labels(labels: dict[str, str], mapping: dict[str, str]) -> dict[str, str]:
    """Map result labels to entity keys by the query's ``entity`` setting ({kind: label})."""
    namespace_label = mapping.get("namespace")
    namespace = labels.get(namespace_label, "") if namespace_label else ""
    out: dict[str, str] = {}
    for kind, label in mapping.items():
        name = labels.get(label)
        if not name:
            continue
        scoped_ns = namespace if kind in NAMESPACED_KINDS else ""
        out[kind] = EntityRef(kind=kind, name=name, namespace=scoped_ns).key
    return out


class Anomaly(Frozen):
    """One series, one time: what was seen, what was expected, and how anomalous it is."""

    source: str
    query: str
    series_key: str = Field(description="Stable hash of the series' label set.")
    labels: dict[str, str]
    entities: dict[str, str] = Field(description="Entity kind -> entity key (EntityRef.key).")
    ts: float = Field(description="Unix seconds of the point.")
    value: float | None
    score: float = Field(ge=0, le=1)
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: int = Field(0, ge=-1, le=1)
    detector: str
    kind: Literal["point", "forecast", "alert"] = "point"
    symptom: str | None = None
    time_to_exhaustion: float | None = Field(None, description="Forecasts: seconds until capacity is reached.")


ProblemStatus = Literal["open", "mitigating", "resolved", "closed"]
Severity = Literal["info", "warning", "critical"]


class RootCauseCandidate(Frozen):
    entity: str = Field(description="EntityRef.key of the suspected cause.")
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list, description="Why it ranks here, for people.")


class ProblemSnapshot(Frozen):
    """A problem as the rest of the system sees it at one moment (correlation owns the live object)."""

    id: str
    fingerprint: str = Field(description="Stable across restarts; keys tickets and knowledge.")
    title: str
    status: ProblemStatus
    severity: Severity
    opened_at: float
    updated_at: float
    resolved_at: float | None = None
    entities: list[str] = Field(default_factory=list)
    root_causes: list[RootCauseCandidate] = Field(default_factory=list)
    symptoms: list[str] = Field(default_factory=list)
    signature: str = Field("", description="Root-cause entity kind + symptom, e.g. 'deployment:memory_leak'.")
    anomaly_count: int = 0
    reopen_count: int = 0
    linked_to: str | None = Field(None, description="An earlier problem this one recurs after (outside the window).")


ProblemEventKind = Literal[
    "opened", "updated", "mitigating", "action", "verified", "escalated", "resolved", "reopened", "closed", "merged"
]


class ProblemEvent(Frozen):
    """Something happened to a problem: tickets, notifications and KPIs react to these."""

    kind: ProblemEventKind
    problem: ProblemSnapshot
    ts: float
    message: str
    details: dict[str, str | float | int | bool | None] = Field(default_factory=dict)
