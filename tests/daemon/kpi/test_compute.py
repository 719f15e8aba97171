"""KPIs of a hand-built week, checked against values worked out by hand from the scenario in conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from daemon.kpi import KpiCollector, compute_kpis
from daemon.settings.kpi import KpiSettings
from tests.daemon.kpi.conftest import S, U, build_week
from tests.daemon.kpi.scenario import DAY, Scenario, anomaly

SETTINGS = KpiSettings(weeks=2)


def test_headline_kpis(week: Scenario) -> None:
    s = compute_kpis(week.store, SETTINGS, S, U).summary
    assert (s.problems, s.resolved, s.deflected, s.auto_resolved, s.escalations) == (5, 4, 2, 1, 3)
    assert s.deflection_rate == pytest.approx(2 / 4)  # A and D: nobody involved
    assert s.auto_resolution_rate == pytest.approx(1 / 4)  # A only: a verified action and nobody involved
    assert s.mttd_seconds == pytest.approx((60 + 30 + 120 + 0 + 30) / 5)
    assert s.mttr_seconds == pytest.approx((540 + 1800 + 800 + 400) / 4)


def test_auto_resolution_by_category(week: Scenario) -> None:
    categories = {c.category: c for c in compute_kpis(week.store, SETTINGS, S, U).categories}
    assert set(categories) == {"memory_leak", "latency", "disk_full"}
    assert categories["memory_leak"].auto_resolution_rate == pytest.approx(0.5)
    assert categories["latency"].auto_resolution_rate == 0.0
    assert categories["disk_full"].resolved == 0 and categories["disk_full"].auto_resolution_rate is None


def test_cost_per_resolution_follows_the_cost_model(week: Scenario) -> None:
    cost = compute_kpis(week.store, SETTINGS, S, U).cost
    # A: 1 action × 0.10; B: 90 min × 75/h + 1 action; C: escalated 30 min × 75/h; D: nothing
    assert cost.human_cost == pytest.approx(112.5 + 37.5)
    assert cost.automation_cost == pytest.approx(0.20)
    assert cost.cost_per_resolution == pytest.approx((0.10 + 112.6 + 37.5) / 4)
    assert cost.cost_per_resolution_without_automation == pytest.approx(112.5)
    assert cost.savings == pytest.approx(4 * 112.5 - 150.2)
    cheaper = KpiSettings(weeks=2, cost_per_human_hour=60.0, human_minutes_escalated=10.0)
    assert compute_kpis(week.store, cheaper, S, U).cost.cost_per_resolution == pytest.approx((0.1 + 90.1 + 10) / 4)


def test_escalation_patterns_and_confidence(week: Scenario) -> None:
    report = compute_kpis(week.store, SETTINGS, S, U)
    assert report.escalations_by_reason == {"guard:max_unavailable": 1, "low_confidence": 1, "verification_failed": 1}
    assert {(p.signature.partition(":")[2], p.reason) for p in report.escalation_patterns} == {
        ("memory_leak", "verification_failed"),
        ("latency", "guard:max_unavailable"),
        ("disk_full", "low_confidence"),
    }
    shares = {e.signature.partition(":")[2]: e.escalation_share for e in report.signature_escalations}
    assert shares == {"memory_leak": 0.5, "latency": 0.5, "disk_full": 1.0}
    assert report.confidence_automated.values == [0.7, 0.9]
    assert report.confidence_escalated.values == [0.4, 0.7, 0.95]
    assert report.confidence_escalated.histogram == [0, 0, 0, 0, 1, 0, 0, 1, 0, 1]
    assert report.confidence_automated.histogram == [0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    assert report.confidence_automated.mean == pytest.approx(0.8)


def test_week_over_week(week: Scenario) -> None:
    weeks = compute_kpis(week.store, SETTINGS, S, U).weeks
    assert [(w.since, w.until) for w in weeks] == [(S - 7 * DAY, S), (S, U)]
    assert (weeks[0].problems, weeks[0].deflection_rate, weeks[0].auto_resolution_rate) == (1, 1.0, 1.0)
    assert weeks[0].mttd_seconds == pytest.approx(60) and weeks[0].mttr_seconds == pytest.approx(600)
    assert weeks[1].problems == 5 and weeks[1].deflection_rate == pytest.approx(0.5)


def test_knowledge_freshness(week: Scenario) -> None:
    report = compute_kpis(week.store, SETTINGS, S, U)
    assert (report.knowledge_articles, report.knowledge_freshness) == (1, 1.0)  # the leak's article: A verified
    # 40 days later nothing was validated within the 30-day freshness window
    later = compute_kpis(week.store, SETTINGS, U + 40 * DAY - 7 * DAY, U + 40 * DAY)
    assert later.knowledge_freshness == 0.0 and later.summary.problems == 0 and later.summary.deflection_rate is None


def test_a_reopened_problem_is_not_resolved(tmp_path: Path) -> None:
    sc = Scenario.create(tmp_path)
    sc.open("cart", "memory_leak", S + 100, S + 100)
    sc.advance(S + 500)  # resolved by the quiet period
    sc.correlator.observe([anomaly("cart", "memory_leak", S + 900)], S + 900)  # recurs: reopened
    s = compute_kpis(sc.store, SETTINGS, S, U).summary
    assert (s.problems, s.resolved, s.mttr_seconds) == (1, 0, None)


def test_an_empty_window_has_no_rates(tmp_path: Path) -> None:
    report = compute_kpis(Scenario.create(tmp_path).store, SETTINGS, S, U)
    assert report.summary.problems == 0 and report.summary.mttd_seconds is None
    assert report.knowledge_freshness is None and report.cost.cost_per_resolution is None
    with pytest.raises(ValueError, match="must end after it starts"):
        compute_kpis(Scenario.create(tmp_path).store, SETTINGS, U, S)


def test_collector_exposes_gauges_and_caches(tmp_path: Path) -> None:
    sc = build_week(tmp_path)
    now = [U]
    registry = CollectorRegistry()
    collector = KpiCollector(sc.store, KpiSettings(weeks=1), lambda: now[0])
    registry.register(collector)
    text = generate_latest(registry).decode()
    assert "aiopsd_kpi_deflection_rate 0.5" in text
    assert 'aiopsd_kpi_auto_resolution_rate{category="memory_leak"} 0.5' in text
    assert "aiopsd_kpi_mttd_seconds 48.0" in text and "aiopsd_kpi_mttr_seconds 885.0" in text
    assert "aiopsd_kpi_cost_per_resolution 37.55" in text
    assert "aiopsd_kpi_knowledge_freshness 1.0" in text
    assert 'aiopsd_kpi_escalations_total{reason="low_confidence"} 1.0' in text
    first = collector.report()
    sc.open("late", "latency", U + 10, U + 20)
    now[0] = U + 30  # within the cache TTL: the same report
    assert collector.report() is first
    now[0] = U + 61
    assert collector.report().summary.problems == 6
