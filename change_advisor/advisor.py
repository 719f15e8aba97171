"""Scoring one change request: features from the change and its context, the model, tier, recommendation and
conditions."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from change_advisor.context import CalendarVerdict, ChangeContext, PastChange, TargetHealth
from change_advisor.kamei import KameiMetrics, kamei_metrics
from change_advisor.manifests import RiskyEdit, diff_manifest_files
from change_advisor.model import Contribution, RiskModel
from change_advisor.request import ChangeRequest, ChangeType

logger = logging.getLogger(__name__)

Tier = Literal["low", "medium", "high", "critical"]
Recommendation = Literal["standard pre-approved", "normal CAB review", "high risk with conditions", "defer"]
TIER_BOUNDS: tuple[tuple[float, Tier], ...] = ((0.10, "low"), (0.30, "medium"), (0.60, "high"), (1.01, "critical"))
_CRITICALITY = {"low": 0.0, "medium": 1.0, "high": 2.0, "critical": 3.0}
_SIMILAR = 20


class RiskReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    change_id: str
    title: str
    type: str
    author: str
    targets: list[str]
    window_start: datetime
    window_end: datetime
    probability: float = Field(ge=0, le=1)
    tier: Tier
    recommendation: Recommendation
    conditions: list[str]
    factors: list[Contribution]
    risky_edits: list[RiskyEdit]
    kamei: KameiMetrics | None
    health: TargetHealth
    calendar: CalendarVerdict
    similar: list[PastChange]
    model_kind: str
    model_rows: int
    features: dict[str, float | None]
    scored_at: datetime


def tier_of(probability: float) -> Tier:
    return next(tier for bound, tier in TIER_BOUNDS if probability < bound)


class ChangeAdvisor:
    def __init__(
        self, model: RiskModel, context: ChangeContext, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.model = model
        self.context = context
        self.clock = clock

    def features(
        self, request: ChangeRequest
    ) -> tuple[dict[str, float], KameiMetrics | None, list[RiskyEdit], TargetHealth, CalendarVerdict, list[PastChange]]:
        spec = request.change
        metrics: KameiMetrics | None = None
        if spec.git is not None:
            metrics = kamei_metrics(spec.git.repo, spec.git.base, spec.git.head)
        edits = diff_manifest_files(spec.manifests.before, spec.manifests.after) if spec.manifests else []
        health = self.context.target_health(request.targets, self.clock())
        calendar = self.context.calendar(request.window)
        similar = self.context.similar_changes(request, _SIMILAR)
        nan = math.nan
        row: dict[str, float] = {}
        if metrics is not None:
            row.update({k: float(v) for k, v in metrics.model_dump().items()})
        elif spec.diff_stats is not None:
            d = spec.diff_stats
            row.update(
                ns=d.subsystems,
                nd=d.directories,
                nf=d.files,
                la=d.lines_added,
                ld=d.lines_deleted,
                fix=float(d.fix),
                entropy=d.entropy if d.entropy is not None else nan,
                lt=d.lines_before if d.lines_before is not None else nan,
            )
        if "la" in row and not math.isnan(row.get("lt", nan)):
            row["added_share"] = row["la"] / (row["lt"] + 1.0)
        failed_similar = sum(1 for change in similar if change.result != "success")
        evidence = request.test_evidence
        row.update(
            weekend=float(calendar.weekend),
            off_hours=float(calendar.off_hours),
            peak_hours=float(calendar.peak_hours),
            freeze=float(calendar.freeze is not None),
            risky_edits=float(len(edits)) if spec.manifests else nan,
            severe_edits=float(sum(1 for e in edits if e.severity == "high")) if spec.manifests else nan,
            blast_radius=float(len(request.targets)),
            criticality=max(_CRITICALITY[t.criticality] for t in request.targets),
            no_rollback=float(request.rollback is None),
            rollback_rehearsed=float(request.rollback is not None and request.rollback.rehearsed),
            tests_failed=float(any(e.result == "failed" for e in evidence)),
            no_tests=float(not evidence),
            type_database_migration=float(request.type is ChangeType.database_migration),
            type_infrastructure=float(request.type is ChangeType.infrastructure),
            type_security=float(request.type is ChangeType.security),
            type_network=float(request.type is ChangeType.network),
            anomaly_level=health.anomaly_level if health.known else nan,
            open_problems=float(len(health.open_problems)) if health.known else nan,
            recent_incidents=float(len(health.recent_incidents)) if health.known else nan,
            # a Beta(1.5, 8.5) prior around 15 % keeps a few outcomes from swinging the rate
            similar_failure_rate=(failed_similar + 1.5) / (len(similar) + 10.0) if similar else nan,
        )
        return row, metrics, edits, health, calendar, similar

    def assess(self, request: ChangeRequest) -> RiskReport:
        row, metrics, edits, health, calendar, similar = self.features(request)
        probability = float(self.model.predict(pd.DataFrame([row]))[0])
        tier = tier_of(probability)
        recommendation = _recommendation(tier, calendar, health)
        factors = [f for f in self.model.contributions(row) if abs(f.log_odds) >= 0.01]
        logger.info("scored change %s: p=%.3f tier=%s", request.id, probability, tier)
        return RiskReport(
            change_id=request.id,
            title=request.title,
            type=request.type.value,
            author=request.author,
            targets=[t.key for t in request.targets],
            window_start=request.window.start,
            window_end=request.window.end,
            probability=probability,
            tier=tier,
            recommendation=recommendation,
            conditions=_conditions(request, tier, edits, health, calendar),
            factors=factors[:8],
            risky_edits=edits,
            kamei=metrics,
            health=health,
            calendar=calendar,
            similar=similar,
            model_kind=self.model.state.kind,
            model_rows=self.model.state.rows,
            features={k: (None if math.isnan(v) else v) for k, v in row.items()},
            scored_at=self.clock(),
        )


def _recommendation(tier: Tier, calendar: CalendarVerdict, health: TargetHealth) -> Recommendation:
    if tier == "critical" or calendar.freeze is not None:
        return "defer"
    if tier == "high":
        return "high risk with conditions"
    if tier == "medium" or health.open_problems:
        return "normal CAB review"
    return "standard pre-approved"


def _conditions(
    request: ChangeRequest, tier: Tier, edits: list[RiskyEdit], health: TargetHealth, calendar: CalendarVerdict
) -> list[str]:
    out: list[str] = []
    if calendar.freeze:
        out.append(f"reschedule after the change freeze '{calendar.freeze}'")
    out.extend(f"after problem {problem} is resolved" for problem in health.open_problems)
    if health.anomaly_level >= 0.5:
        out.append(f"after the targets' anomaly level ({health.anomaly_level:.2f}) returns to normal")
    if calendar.peak_hours and tier != "low":
        out.append("outside peak hours")
    rollout = request.type in (ChangeType.deploy, ChangeType.config) or any(e.kind == "image_change" for e in edits)
    if rollout and tier != "low":
        out.append("canary first: roll out to one replica or a small share of traffic and watch the error rate")
    if request.rollback is None:
        out.append("write a rollback plan before approval")
    elif not request.rollback.rehearsed and tier in ("high", "critical"):
        out.append("rollback rehearsed in staging before the window")
    if any(e.result == "failed" for e in request.test_evidence):
        out.append("failing tests fixed and re-run")
    if request.type is ChangeType.database_migration and tier != "low":
        out.append("backup taken and restore verified before the migration")
    for edit in edits:
        if edit.kind == "probe_removed":
            out.append(f"restore the probe or justify its removal ({edit.object}: {edit.detail})")
        elif edit.kind == "unpinned_image":
            out.append(f"pin the image to a tag or digest ({edit.object}: {edit.detail})")
        elif edit.kind in ("rbac", "security_context") and edit.severity == "high":
            out.append(f"security review of {edit.object} ({edit.detail})")
    return list(dict.fromkeys(out))
