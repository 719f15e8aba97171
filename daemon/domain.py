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
