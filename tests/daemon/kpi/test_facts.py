"""Who was involved in a problem, read from its events (the acting policy's contract)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from daemon.api.read import build_read_router
from daemon.health import HealthState
from daemon.http import build_app
from daemon.kpi import KpiCollector
from daemon.kpi.facts import ProblemFacts, apply_event
from daemon.metrics import DaemonMetrics
from daemon.settings.kpi import KpiSettings
from daemon.store import Store


def _facts(*events: tuple[str, dict[str, object]]) -> ProblemFacts:
    facts = ProblemFacts("p-1", "deployment:memory_leak", 100.0, 200.0)
    for kind, details in events:
        apply_event(facts, kind, dict(details), "")
    return facts


def test_a_verified_daemon_action_with_nobody_involved_is_auto_resolved() -> None:
    f = _facts(("action", {"status": "verified", "actor": "daemon:aiopsd-0", "confidence": 0.9}), ("resolved", {}))
    assert (f.human, f.auto_resolved, f.daemon_actions, f.action_confidences) == (False, True, 1, [0.9])


def test_dry_runs_and_refusals_are_not_executed_actions() -> None:
    f = _facts(("action", {"status": "dry_run", "actor": "daemon:a", "confidence": 0.6}),
               ("action", {"status": "refused", "actor": "daemon:a"}))  # fmt: skip
    assert (f.daemon_actions, f.auto_resolved, f.action_confidences) == (0, False, [])


def test_people_acting_resolving_or_acknowledging_count_as_human() -> None:
    assert _facts(("action", {"status": "verified", "actor": "user:alice"})).manual
    assert _facts(("action", {"status": "verified", "actor": "user:alice"})).auto_resolved is False
    assert _facts(("resolved", {"by": "user:bob"})).manual
    assert not _facts(("resolved", {"by": "daemon:aiopsd-0"})).human
    acked = _facts(("updated", {"acknowledged_by": "user:carol"}))
    assert acked.human and not acked.manual
    escalated = _facts(("escalated", {"reason": "guard:max_unavailable", "confidence": 1.5}))
    assert escalated.escalation_reasons == ["guard:max_unavailable"] and escalated.escalation_confidences == []
    assert _facts(("escalated", {})).escalation_reasons == ["unspecified"]


def test_a_broken_store_is_a_503_and_a_scrape_without_kpis(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'never-migrated.db'}")  # no tables: every query fails
    registry = CollectorRegistry()
    registry.register(KpiCollector(store, KpiSettings(), lambda: 1_780_000_000.0))
    assert "aiopsd_kpi_" not in generate_latest(registry).decode()
    app = build_app(HealthState(), DaemonMetrics(), [build_read_router(store, KpiSettings(), lambda: 1.78e9)], "t")
    client = TestClient(app, headers={"Authorization": "Bearer t"})
    for path in ["/api/v1/problems", "/api/v1/tickets", "/api/v1/actions", "/api/v1/kpis", "/api/v1/knowledge"]:
        answer = client.get(path)
        assert answer.status_code == 503 and "the store cannot answer" in answer.json()["detail"], path


def test_escalation_reason_from_details_or_a_single_token_message() -> None:
    assert _facts(("escalated", {"reason": "needs_approval"})).escalation_reasons == ["needs_approval"]
    f = ProblemFacts("p-2", "node:memory_pressure", 0.0, None)
    apply_event(f, "escalated", {}, "guard:max_unavailable")
    apply_event(f, "escalated", {}, "could not drain: PDB blocks eviction of 3 pods")
    assert f.escalation_reasons == ["guard:max_unavailable", "unspecified"]
