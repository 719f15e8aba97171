"""Alertmanager as a signal source: its webhook payload (version 4) becomes `Anomaly` objects of kind "alert".

A firing alert is re-sent by Alertmanager every ``repeat_interval``/``group_interval``; each delivery becomes an
anomaly stamped with the time bucket it arrived in (never before the alert started), so a long-firing alert keeps
its problem open while re-deliveries within one bucket collapse into one anomaly. Resolved alerts produce nothing:
problems resolve by their quiet period, like metric anomalies.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from daemon.domain import Anomaly, entities_from_labels
from daemon.errors import InputError

logger = logging.getLogger(__name__)

# Alert label -> entity kind, as kube-state-metrics and most alert rules name them. ("job" is Prometheus' scrape
# job, not a Kubernetes Job, so it is not mapped.)
DEFAULT_ENTITY_LABELS = {
    "namespace": "namespace",
    "pod": "pod",
    "container": "container",
    "deployment": "deployment",
    "statefulset": "statefulset",
    "daemonset": "daemonset",
    "service": "service",
    "node": "node",
}
SEVERITY_SCORES = {"critical": 1.0, "page": 1.0, "error": 0.9, "high": 0.9, "warning": 0.8, "info": 0.5, "none": 0.3}
DEFAULT_SCORE = 0.7
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class AlertPayloadError(InputError):
    """The webhook body is not an Alertmanager version-4 payload; ``problems`` lists each place and what was wrong."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid Alertmanager payload: " + "; ".join(problems))


def parse_time(value: str) -> float:
    """RFC 3339 as Alertmanager writes it (nanoseconds, 'Z'); unix seconds."""
    match = _TIME.match(value)
    if not match:
        raise ValueError(f"expected an RFC 3339 time such as 2024-05-01T12:00:00Z, got {value!r}")
    base, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return stamp.timestamp() + (float(fraction) if fraction else 0.0)


class _Payload(BaseModel):
    # An external format: fields we do not use (and ones later Alertmanager versions add) are ignored, not errors.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AlertmanagerAlert(_Payload):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str = ""
    generatorURL: str = ""
    fingerprint: str = ""

    @field_validator("startsAt")
    @classmethod
    def _starts(cls, value: str) -> str:
        parse_time(value)
        return value

    @field_validator("labels")
    @classmethod
    def _alertname(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("alertname"):
            raise ValueError("expected an 'alertname' label")
        return value


class AlertmanagerPayload(_Payload):
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[AlertmanagerAlert]
    groupKey: str = ""
    truncatedAlerts: int = 0
    externalURL: str = ""


def validate_payload(data: Any) -> AlertmanagerPayload:
    try:
        return AlertmanagerPayload.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "literal_error":
                message += f" (got {err.get('input')!r})"
            problems.append(f"{where or 'body'}: {message}")
        raise AlertPayloadError(problems) from None


def series_of(alert: AlertmanagerAlert) -> str:
    """The alert's identity across deliveries: Alertmanager's fingerprint, else a hash of its labels."""
    return alert.fingerprint or hashlib.sha256(repr(sorted(alert.labels.items())).encode()).hexdigest()[:16]


def alert_score(labels: dict[str, str]) -> float:
    return SEVERITY_SCORES.get(labels.get("severity", "").lower(), DEFAULT_SCORE)


def to_anomalies(
    payload: AlertmanagerPayload,
    received_at: float,
    entity_labels: dict[str, str] | None = None,
    bucket: float = 60.0,
) -> list[Anomaly]:
    """The firing alerts of one delivery as anomalies (alerts naming no entity are skipped with a warning)."""
    mapping = entity_labels if entity_labels is not None else DEFAULT_ENTITY_LABELS
    out: list[Anomaly] = []
    if payload.truncatedAlerts:
        logger.warning("Alertmanager truncated %d alerts of group %s", payload.truncatedAlerts, payload.groupKey)
    for alert in payload.alerts:
        if alert.status != "firing":
            continue
        labels = dict(alert.labels)
        entities = entities_from_labels(labels, {kind: label for kind, label in mapping.items()})
        if not entities and labels.get("instance"):
            entities = {"instance": f"instance//{labels['instance']}"}
        if not entities:
            logger.warning("alert %s names no entity (labels %s); skipped", labels["alertname"], sorted(labels))
            continue
        started = parse_time(alert.startsAt)
        ts = max(started, math.floor(received_at / bucket) * bucket)
        series = series_of(alert)
        out.append(
            Anomaly(
                source="alertmanager",
                query=labels["alertname"][:64],
                series_key=series,
                labels=labels,
                entities=entities,
                ts=ts,
                value=None,
                score=alert_score(labels),
                detector="alertmanager",
                kind="alert",
                symptom=labels.get("symptom") or labels["alertname"],
            )
        )
    return out


class AlertSink(Protocol):
    def submit(self, anomalies: list[Anomaly], received_at: float | None = None) -> None: ...

    def resolve(self, series_keys: list[str]) -> None: ...


HOLD_FIRING = 4 * 3600.0 + 15 * 60.0  # Alertmanager's default repeat_interval (4 h) and some margin


class AlertInbox:
    """Alerts waiting for the next tick: the API thread submits, the loop drains. Bounded; the oldest drop first.

    Alertmanager sends a firing alert once, then again only every ``repeat_interval`` (4 h by default), and a
    ``resolved`` notification when it ends (``send_resolved``). So the inbox holds each firing alert until it is
    resolved, or ``hold`` seconds after its last delivery, and every drain re-offers the held ones (one anomaly per
    ``bucket``): the problem stays open while the alert fires instead of resolving after the quiet period."""

    def __init__(self, capacity: int = 10_000, hold: float = HOLD_FIRING, bucket: float = 60.0) -> None:
        self._items: deque[Anomaly] = deque(maxlen=capacity)
        self._firing: dict[str, tuple[Anomaly, float]] = {}  # series -> (last delivery as an anomaly, received)
        self._lock = threading.Lock()
        self.hold, self.bucket, self.capacity = hold, bucket, capacity
        self.dropped = 0

    def submit(self, anomalies: list[Anomaly], received_at: float | None = None) -> None:
        when = received_now() if received_at is None else received_at
        with self._lock:
            overflow = len(self._items) + len(anomalies) - (self._items.maxlen or 0)
            if overflow > 0:
                self.dropped += overflow
                logger.warning("alert inbox full: dropping the %d oldest alerts", overflow)
            self._items.extend(anomalies)
            for anomaly in anomalies:
                if anomaly.kind == "alert":
                    self._firing[anomaly.series_key] = (anomaly, when)
            while len(self._firing) > self.capacity:  # bounded too: forget the longest-silent
                del self._firing[min(self._firing, key=lambda k: self._firing[k][1])]

    def resolve(self, series_keys: list[str]) -> None:
        with self._lock:
            for key in series_keys:
                self._firing.pop(key, None)

    def drain(self, now: float | None = None) -> list[Anomaly]:
        """What arrived since the last drain; with ``now``, also every alert still firing, stamped with now's bucket
        (the same point again within a bucket, so correlation counts it once)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
            if now is None:
                return items
            stamp = math.floor(now / self.bucket) * self.bucket
            for key, (anomaly, received) in list(self._firing.items()):
                if now - received > self.hold:
                    del self._firing[key]
                    logger.info("alert %s not re-delivered for %.0fs: no longer held as firing", anomaly.query,
                                now - received)  # fmt: skip
                elif stamp > anomaly.ts:
                    items.append(anomaly.model_copy(update={"ts": stamp}))
            return items

    @property
    def firing(self) -> int:
        with self._lock:
            return len(self._firing)

    def __len__(self) -> int:
        return len(self._items)


def received_now() -> float:
    return datetime.now(UTC).timestamp()
