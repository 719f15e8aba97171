"""Settings of the foundation: the daemon loop, the store, metric sources, detection, logging."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from daemon.durations import Duration
from daemon.settings.base import StrictModel

ENTITY_KINDS = (
    "cluster",
    "namespace",
    "node",
    "pod",
    "container",
    "deployment",
    "statefulset",
    "daemonset",
    "replicaset",
    "service",
    "job",
    "instance",
)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("expected a lower-case name of letters, digits, '-' and '_' starting with a letter")
    return value


class DaemonSettings(StrictModel):
    interval: Duration = Field(timedelta(seconds=15), description="Time between ticks; also the default step.")
    state_dir: Path = Field(Path(".aiopsd"), description="Where the SQLite store and local state live.")
    listen: str = Field("127.0.0.1:9464", description="host:port of /healthz, /readyz, /metrics and the API.")
    instance_name: str = Field("aiopsd", description="Names this daemon in logs, tickets and the audit trail.")
    api_token: SecretStr | None = Field(None, description="Bearer token of the HTTP API (not health/metrics).")
    api_token_file: Path | None = Field(None, description="File holding the API bearer token.")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected host:port such as 127.0.0.1:9464, got {value!r}")
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("expected an interval of at least 1s")
        return value


class StoreSettings(StrictModel):
    url: SecretStr | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<state_dir>/aiopsd.db. PostgreSQL for HA."
    )
    url_file: Path | None = Field(None, description="File holding the URL (it carries a password).")
    echo: bool = False


class QuerySettings(StrictModel):
    name: str = Field(description="Names the query in anomalies, metrics and tickets.")
    promql: str = Field(min_length=1)
    entity: dict[str, str] = Field(
        default_factory=dict,
        description="Entity kind -> result label that names it, e.g. {pod: pod, namespace: namespace}.",
    )
    kind: Literal["gauge", "counter"] = Field(
        "gauge", description="counter: raw counter values; aiopsd turns them into per-second rates across resets."
    )
    step: Duration | None = Field(None, description="Resolution of the series; default the daemon interval.")
    detector: str | None = Field(None, description="Detector name; default detection.default_detector.")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters of that detector.")
    threshold: float | None = Field(None, ge=0, le=1, description="Score above which a point is an anomaly.")
    capacity: float | None = Field(
        None, description="Saturation level for forecast detection (e.g. 1.0 for a ratio, bytes for a disk)."
    )
    symptom: str | None = Field(None, description="What the anomaly means, e.g. memory_leak, latency, errors.")

    _check = field_validator("name")(_check_name)

    @field_validator("entity")
    @classmethod
    def _entity_kinds(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ENTITY_KINDS))
        if unknown:
            raise ValueError(f"unknown entity kind(s) {unknown}; expected some of {list(ENTITY_KINDS)}")
        return value


class PrometheusSourceSettings(StrictModel):
    name: str
    url: str = Field(description="Base URL of the Prometheus HTTP API, e.g. http://127.0.0.1:9090")
    queries: list[QuerySettings] = Field(min_length=1)
    timeout: Duration = timedelta(seconds=10)
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = Field(None, description="File holding a bearer token.")
    verify_tls: bool = True
    max_points_per_request: int = Field(
        11000, ge=10, le=11000, description="Prometheus refuses range queries of more than 11,000 points."
    )
    lag: Duration = Field(timedelta(seconds=0), description="Fetch up to now-lag so the newest scrape has landed.")
    backoff_max: Duration = Field(timedelta(minutes=5), description="Longest wait between retries when down.")

    _check = field_validator("name")(_check_name)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _unique_queries(self) -> PrometheusSourceSettings:
        names = [q.name for q in self.queries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"query names must be unique within a source; repeated: {dup}")
        return self


class SourcesSettings(StrictModel):
    prometheus: list[PrometheusSourceSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> SourcesSettings:
        names = [s.name for s in self.prometheus]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"source names must be unique; repeated: {dup}")
        return self


class DetectionSettings(StrictModel):
    default_detector: str = Field("default", description="Detector used by queries that name none.")
    threshold: float | None = Field(
        None, ge=0, le=1, description="Score above which a point is anomalous; default: the detector's own."
    )
    forecast_detector: str = Field(
        "trend", description="Detector run beside the main one on queries that set a capacity."
    )
    series_expiry: Duration = Field(
        timedelta(minutes=10), description="A series absent this long is dropped with its detector state."
    )
    new_series_grace: Duration = Field(
        timedelta(0), description="A series younger than this (a new pod after a rollout) may not alarm yet; 0: off."
    )
    checkpoint_interval: Duration = Field(
        timedelta(seconds=60), description="How often detector state is saved for a warm restart."
    )
    training_window: Duration = Field(
        timedelta(days=1), description="History backfilled on start to warm the detectors."
    )
    max_catch_up: Duration = Field(
        timedelta(hours=6), description="Longest gap fetched after an outage; older points are skipped."
    )
    retention: Duration = Field(timedelta(days=30), description="How long anomalies are kept in the store.")


class LoggingSettings(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
