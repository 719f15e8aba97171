"""Settings of the daemon's own remediation decisions: which runbook fixes which problem, and when to act."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from daemon.durations import Duration
from daemon.settings.base import StrictModel


class PlaybookRule(StrictModel):
    """A problem whose root cause is a ``kind`` with one of ``symptoms`` may be fixed by ``runbook``."""

    kind: str = Field(description="Root-cause entity kind: deployment, statefulset, daemonset, pod, node.")
    symptoms: list[str] = Field(min_length=1, description="Any of the problem's symptoms (query `symptom`s).")
    runbook: str = Field(description="A runbook name (`aiopsd runbook list`).")
    params: dict[str, Any] = Field(default_factory=dict, description="Runbook parameters.")
    target: str = Field(
        "root_cause",
        description="What the runbook acts on: root_cause, node_of_root_cause, or a KIND/NAMESPACE/NAME template "
        "with {namespace} and {name} of the root cause (e.g. cronjob/{namespace}/{name}-cleanup).",
    )
    requires_recent_change: bool = Field(
        False, description="Only when the root cause changed recently (a new ReplicaSet, a spec change)."
    )
    prior_successes: float = Field(4.0, ge=0, description="Beta prior: how much we trust it before any outcome.")
    prior_failures: float = Field(1.0, ge=0)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        if value in ("root_cause", "node_of_root_cause") or re.match(r"^[a-z]+/[^/]*/[^/]+$", value):
            return value
        raise ValueError("expected root_cause, node_of_root_cause or KIND/NAMESPACE/NAME (with {namespace}, {name})")

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if not re.match(r"^[a-z]+$", value):
            raise ValueError("expected an entity kind such as deployment or node")
        return value


class AutomationSettings(StrictModel):
    enabled: bool = Field(True, description="Decide on problems at all (off: detect and ticket only).")
    min_confidence: float = Field(
        0.7, ge=0, le=1, description="Act alone only when root-cause confidence × runbook success rate reaches this."
    )
    min_severity: Literal["info", "warning", "critical"] = Field("warning", description="Smaller problems: watch.")
    verify_quiet: Duration = Field(
        timedelta(seconds=60), description="Recovered when the problem's entities show no anomaly for this long."
    )
    max_parallel: int = Field(2, ge=1, le=16, description="Actions running (incl. verification) at once.")
    recent_change_window: Duration = Field(
        timedelta(minutes=30), description="How far before a problem a change counts as recent (rollback rules)."
    )
    no_runbook_grace: Duration = Field(
        timedelta(seconds=30),
        description="A new problem no playbook rule matches is escalated only after this long: a fault's symptoms "
        "arrive over a tick or two (a leak shows as CPU first, memory next) and a later one may match a rule.",
    )
    playbook: list[PlaybookRule] = Field(default_factory=list, description="First matching rule wins.")
