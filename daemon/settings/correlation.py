"""Settings of topology and correlation: how anomalies become problems, and how problems live and end."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from daemon.durations import Duration
from daemon.settings.base import StrictModel

_DNS = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class ServiceTopologySettings(StrictModel):
    """A service declared in configuration (used when not connected to Kubernetes, or to add dependencies)."""

    name: str
    namespace: str = ""
    selector: dict[str, str] = Field(default_factory=dict, description="Pod labels the service selects.")
    workload: str | None = Field(None, description="The workload behind it, e.g. deployment/cart (same namespace).")
    depends_on: list[str] = Field(
        default_factory=list, description="Services it calls: 'name' (same namespace) or 'namespace/name'."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _DNS.match(value):
            raise ValueError(f"expected a DNS-1123 name such as 'cart', got {value!r}")
        return value

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str | None) -> str | None:
        if value is None:
            return None
        kind, sep, name = value.partition("/")
        if not sep or kind not in ("deployment", "statefulset", "daemonset", "job") or not name:
            raise ValueError(f"expected kind/name with kind deployment|statefulset|daemonset|job, got {value!r}")
        return value


class RequestEdgeQuerySettings(StrictModel):
    """Service-to-service dependencies from request metrics, e.g. istio_requests_total by source/destination."""

    promql: str = Field(min_length=1)
    source_label: str = Field("source_workload", description="Label naming the calling workload or service.")
    source_namespace_label: str = "source_workload_namespace"
    target_label: str = Field("destination_workload", description="Label naming the called workload or service.")
    target_namespace_label: str = "destination_workload_namespace"
    kind: str = Field("deployment", description="Entity kind the names refer to (deployment or service).")
    min_rate: float = Field(0.0, ge=0, description="Ignore pairs whose value is at or below this (requests/s).")


class TopologySettings(StrictModel):
    kubernetes: bool = Field(False, description="Watch the Kubernetes API for pods, workloads and services.")
    services: list[ServiceTopologySettings] = Field(default_factory=list)
    request_edges: list[RequestEdgeQuerySettings] = Field(default_factory=list)
    change_window: Duration = Field(
        timedelta(minutes=30), description="A change this long before a problem's onset counts as a suspect."
    )

    @model_validator(mode="after")
    def _unique(self) -> TopologySettings:
        keys = [f"{s.namespace}/{s.name}" for s in self.services]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"services must be unique by namespace/name; repeated: {dup}")
        return self


class CorrelationSettings(StrictModel):
    topology: TopologySettings = TopologySettings()
    group_window: Duration = Field(
        timedelta(seconds=90),
        description="An anomaly joins a problem whose last anomaly is at most this old (benchmarks/correlation.py).",
    )
    max_distance: int = Field(
        1, ge=0, le=6, description="Topology hops (dependencies, pod-on-node) within which anomalies are related."
    )
    quiet_period: Duration = Field(
        timedelta(minutes=5), description="A problem resolves only after this long without anomalies (hysteresis)."
    )
    reopen_window: Duration = Field(
        timedelta(hours=1), description="Recurrence within this after resolving reopens; later it opens a new one."
    )
    open_min_score: float = Field(0.0, ge=0, le=1, description="An anomaly must score at least this to open one.")
    critical_breadth: int = Field(3, ge=1, description="Units affected at which a problem becomes critical.")
    critical_score: float = Field(0.95, ge=0, le=1, description="Peak anomaly score at which it is critical.")
    max_candidates: int = Field(5, ge=1, le=20, description="Root-cause candidates kept per problem.")

    @model_validator(mode="after")
    def _windows(self) -> CorrelationSettings:
        if self.group_window <= timedelta(0):
            raise ValueError("group_window must be positive")
        if self.quiet_period <= timedelta(0):
            raise ValueError("quiet_period must be positive, or problems flap")
        return self
