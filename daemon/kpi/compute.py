"""KPIs computed from the store: ``compute_kpis(store, settings, since, until)`` → KpiReport (see model.DEFINITIONS)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np

from daemon.knowledge import KnowledgeBase
from daemon.kpi.facts import ProblemFacts, load_facts
from daemon.kpi.model import (
    CategoryKpi,
    ConfidenceSummary,
    CostBreakdown,
    EscalationPattern,
    KpiReport,
    SignatureEscalation,
    WindowKpis,
)
from daemon.settings.kpi import KpiSettings
from daemon.store.db import Store

logger = logging.getLogger(__name__)
WEEK = 7 * 86400.0


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def problem_cost(facts: ProblemFacts, settings: KpiSettings) -> tuple[float, float]:
    """(human cost, automation cost) of one problem under the cost model."""
    minutes = 0.0
    if facts.manual:
        minutes = settings.human_minutes_manual
    elif facts.escalated or facts.acknowledged:
        minutes = settings.human_minutes_escalated
    return minutes / 60 * settings.cost_per_human_hour, facts.daemon_actions * settings.automation_cost_per_action


def window_kpis(facts: Sequence[ProblemFacts], settings: KpiSettings, since: float, until: float) -> WindowKpis:
    resolved = [f for f in facts if f.resolved]
    deflected = sum(1 for f in resolved if not f.human)
    auto = sum(1 for f in resolved if f.auto_resolved)
    detect = [max(0.0, f.opened_at - f.first_anomaly_ts) for f in facts if f.first_anomaly_ts is not None]
    repair = [max(0.0, (f.resolved_at or f.opened_at) - f.opened_at) for f in resolved]
    cost = sum(sum(problem_cost(f, settings)) for f in resolved)
    return WindowKpis(
        since=since,
        until=until,
        problems=len(facts),
        resolved=len(resolved),
        deflected=deflected,
        auto_resolved=auto,
        escalations=sum(len(f.escalation_reasons) for f in facts),
        deflection_rate=_ratio(deflected, len(resolved)),
        auto_resolution_rate=_ratio(auto, len(resolved)),
        mttd_seconds=_mean(detect),
        mttr_seconds=_mean(repair),
        cost_per_resolution=cost / len(resolved) if resolved else None,
    )


def confidence_summary(values: Sequence[float]) -> ConfidenceSummary:
    if not values:
        return ConfidenceSummary(count=0, histogram=[0] * 10)
    array = np.asarray(values, dtype=float)
    # bin i holds [i/10, (i+1)/10), the last one also 1.0; rounding first keeps 0.7 in bin 7 despite binary floats
    histogram = np.bincount(np.minimum(np.floor(np.round(array * 10, 9)).astype(int), 9), minlength=10)
    p10, p50, p90 = (float(v) for v in np.percentile(array, [10, 50, 90]))
    return ConfidenceSummary(
        count=len(values),
        mean=float(array.mean()),
        p10=p10,
        p50=p50,
        p90=p90,
        histogram=[int(c) for c in histogram],
        values=sorted(float(v) for v in values),
    )


def _categories(facts: Sequence[ProblemFacts]) -> list[CategoryKpi]:
    out = []
    for category in sorted({f.category for f in facts}):
        mine = [f for f in facts if f.category == category]
        resolved = sum(1 for f in mine if f.resolved)
        auto = sum(1 for f in mine if f.auto_resolved)
        rate = _ratio(auto, resolved)
        out.append(
            CategoryKpi(
                category=category, problems=len(mine), resolved=resolved, auto_resolved=auto, auto_resolution_rate=rate
            )
        )
    return out


def _escalations(facts: Sequence[ProblemFacts]) -> tuple[list[EscalationPattern], list[SignatureEscalation]]:
    pairs: Counter[tuple[str, str]] = Counter()
    for f in facts:
        pairs.update((f.signature, reason) for reason in f.escalation_reasons)
    patterns = [EscalationPattern(signature=s, reason=r, count=c) for (s, r), c in pairs.items()]
    patterns.sort(key=lambda p: (-p.count, p.signature, p.reason))
    by_signature = []
    for signature in sorted({f.signature for f in facts}):
        mine = [f for f in facts if f.signature == signature]
        escalated = [f for f in mine if f.escalated]
        if not escalated:
            continue
        reasons = Counter(r for f in escalated for r in f.escalation_reasons)
        top = sorted(reasons.items(), key=lambda rc: (-rc[1], rc[0]))[0][0]
        share = len(escalated) / len(mine)
        by_signature.append(
            SignatureEscalation(
                signature=signature,
                problems=len(mine),
                escalated_problems=len(escalated),
                escalation_share=share,
                top_reason=top,
            )
        )
    by_signature.sort(key=lambda s: (-s.escalated_problems, -s.escalation_share, s.signature))
    return patterns, by_signature


def _cost(resolved: Sequence[ProblemFacts], settings: KpiSettings) -> CostBreakdown:
    human = sum(problem_cost(f, settings)[0] for f in resolved)
    automation = sum(problem_cost(f, settings)[1] for f in resolved)
    baseline = settings.human_minutes_manual / 60 * settings.cost_per_human_hour
    total = human + automation
    return CostBreakdown(
        currency=settings.currency,
        human_cost=human,
        automation_cost=automation,
        total_cost=total,
        cost_per_resolution=total / len(resolved) if resolved else None,
        cost_per_resolution_without_automation=baseline,
        savings=baseline * len(resolved) - total,
    )


def knowledge_freshness(store: Store, settings: KpiSettings, until: float) -> tuple[int, float | None]:
    articles = KnowledgeBase(store).articles()
    if not articles:
        return 0, None
    horizon = until - settings.freshness_window.total_seconds()
    fresh = sum(1 for a in articles if a.last_validated is not None and horizon <= a.last_validated <= until)
    return len(articles), fresh / len(articles)


def compute_kpis(
    store: Store, settings: KpiSettings, since: float, until: float, generated_at: float | None = None
) -> KpiReport:
    """Every KPI of problems opened in [since, until), and ``settings.weeks`` weekly windows ending at ``until``."""
    if until <= since:
        raise ValueError(f"the KPI window must end after it starts (since={since}, until={until})")
    first_week = until - settings.weeks * WEEK
    all_facts = load_facts(store, min(since, first_week), until)
    facts = [f for f in all_facts if since <= f.opened_at < until]
    weeks = []
    for k in range(settings.weeks, 0, -1):
        start, end = until - k * WEEK, until - (k - 1) * WEEK
        weeks.append(window_kpis([f for f in all_facts if start <= f.opened_at < end], settings, start, end))
    patterns, by_signature = _escalations(facts)
    articles, freshness = knowledge_freshness(store, settings, until)
    report = KpiReport(
        generated_at=until if generated_at is None else generated_at,
        summary=window_kpis(facts, settings, since, until),
        categories=_categories(facts),
        escalations_by_reason=dict(sorted(Counter(r for f in facts for r in f.escalation_reasons).items())),
        escalation_patterns=patterns,
        signature_escalations=by_signature,
        confidence_automated=confidence_summary([c for f in facts for c in f.action_confidences]),
        confidence_escalated=confidence_summary([c for f in facts for c in f.escalation_confidences]),
        cost=_cost([f for f in facts if f.resolved], settings),
        knowledge_articles=articles,
        knowledge_freshness=freshness,
        weeks=weeks,
    )
    logger.debug("KPIs over %d problems computed", len(facts))
    return report
