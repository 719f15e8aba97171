"""What the KPIs are (pydantic, frozen): the report of one window, and its parts. Definitions: DEFINITIONS."""

from __future__ import annotations

from pydantic import Field

from daemon.domain import Frozen

DEFINITIONS: dict[str, str] = {
    "window": "Problems opened in [since, until) that were not merged into another; all their events count.",
    "human involvement": "An 'escalated' event, an acknowledgement, a resolution by someone other than "
    "'daemon:…', or an action whose actor is not 'daemon:…'.",
    "resolved": "The problem has a resolution time (status resolved or closed; a reopened one is not resolved).",
    "deflection rate": "Resolved problems with no human involvement / resolved problems.",
    "auto-resolution rate": "Resolved problems with no human involvement and at least one action by the daemon "
    "whose status is 'verified' / resolved problems; per category (the symptom of the signature) and overall.",
    "MTTD": "Mean of (problem opened − its earliest anomaly's timestamp), i.e. from the first point the metrics "
    "show the fault (for an Alertmanager alert: its startsAt) to the moment the correlator opened the problem; "
    "anomalies a merge moved in count; negative values (late-arriving data) count as 0.",
    "MTTR": "Mean of (resolved − opened) over resolved problems. Resolution by quiet period includes the "
    "correlation quiet period (hysteresis).",
    "cost per resolution": "Σ over resolved problems of human cost + automation cost, / resolved problems. "
    "Human cost: kpi.human_minutes_manual if a person resolved it or acted, else kpi.human_minutes_escalated if "
    "escalated or acknowledged, else 0; × kpi.cost_per_human_hour / 60. Automation cost: the daemon's executed "
    "actions (verified, rolled back or failed) × kpi.automation_cost_per_action.",
    "cost without automation": "What every resolution would cost if a person resolved it: "
    "kpi.human_minutes_manual × kpi.cost_per_human_hour / 60.",
    "knowledge freshness": "Share of knowledge articles with a fix verified within kpi.freshness_window before "
    "'until'; empty when there are no articles.",
    "escalation patterns": "Escalated events by signature and reason (guard:<name>, low_confidence, "
    "verification_failed, needs_approval, …).",
    "confidence distribution": "The 'confidence' of the daemon's executed actions (automated) and of the "
    "escalations that carry one (escalated).",
    "week over week": "The same KPIs for consecutive 7-day windows ending at 'until', newest last.",
}


class CategoryKpi(Frozen):
    category: str
    problems: int
    resolved: int
    auto_resolved: int
    auto_resolution_rate: float | None


class EscalationPattern(Frozen):
    signature: str
    reason: str
    count: int


class SignatureEscalation(Frozen):
    signature: str
    problems: int
    escalated_problems: int
    escalation_share: float
    top_reason: str


class ConfidenceSummary(Frozen):
    count: int
    mean: float | None = None
    p10: float | None = None
    p50: float | None = None
    p90: float | None = None
    histogram: list[int] = Field(default_factory=list, description="Counts in 10 bins of width 0.1 over [0, 1].")
    values: list[float] = Field(default_factory=list)


class CostBreakdown(Frozen):
    currency: str
    human_cost: float
    automation_cost: float
    total_cost: float
    cost_per_resolution: float | None
    cost_per_resolution_without_automation: float
    savings: float = Field(description="(cost without automation − actual cost) over the resolved problems.")


class WindowKpis(Frozen):
    """The headline numbers of one window."""

    since: float
    until: float
    problems: int
    resolved: int
    deflected: int
    auto_resolved: int
    escalations: int
    deflection_rate: float | None
    auto_resolution_rate: float | None
    mttd_seconds: float | None
    mttr_seconds: float | None
    cost_per_resolution: float | None


class KpiReport(Frozen):
    generated_at: float
    summary: WindowKpis
    categories: list[CategoryKpi]
    escalations_by_reason: dict[str, int]
    escalation_patterns: list[EscalationPattern]
    signature_escalations: list[SignatureEscalation]
    confidence_automated: ConfidenceSummary
    confidence_escalated: ConfidenceSummary
    cost: CostBreakdown
    knowledge_articles: int
    knowledge_freshness: float | None
    weeks: list[WindowKpis] = Field(description="Week-over-week, oldest first; the last ends at summary.until.")
    definitions: dict[str, str] = Field(default_factory=lambda: dict(DEFINITIONS))
