"""The knowledge flywheel: outcomes update articles and the Beta posterior the policy reads as confidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.domain import ProblemEvent, ProblemSnapshot, RootCauseCandidate
from daemon.knowledge import PRIOR_ALPHA, PRIOR_BETA, InvalidOutcome, KnowledgeBase, UnknownArticle
from daemon.store import Store
from tests.daemon.kpi.scenario import Scenario

T = 1_780_000_000.0
SIG = "deployment:memory_leak"


def snapshot(pid: str, signature: str = SIG, cause: str = "deployment/shop/cart") -> ProblemSnapshot:
    return ProblemSnapshot(
        id=pid,
        fingerprint=f"fp-{pid}",
        title=f"memory_leak at {cause}",
        status="mitigating",
        severity="warning",
        opened_at=T,
        updated_at=T,
        root_causes=[RootCauseCandidate(entity=cause, confidence=0.8)],
        symptoms=[signature.partition(":")[2]],
        signature=signature,
    )


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    store = Store(f"sqlite:///{tmp_path / 'kb.db'}")
    store.migrate()
    return KnowledgeBase(store)


def test_an_untried_runbook_has_the_sceptical_prior(kb: KnowledgeBase) -> None:
    c = kb.confidence(SIG, "rollout-restart")
    assert (c.alpha, c.beta, c.successes, c.failures) == (PRIOR_ALPHA, PRIOR_BETA, 0, 0)
    assert c.mean == pytest.approx(1 / 3)
    assert kb.best_runbooks(SIG) == []


def test_successes_raise_confidence_and_failures_lower_it(kb: KnowledgeBase) -> None:
    means = []
    for i in range(8):
        assert kb.record_outcome(snapshot(f"p{i}"), "rollout-restart", "deployment/shop/cart", "verified", T + i)
        means.append(kb.confidence(SIG, "rollout-restart").mean)
    assert means == sorted(means) and means[2] == pytest.approx(4 / 6) and means[7] == pytest.approx(9 / 11)
    kb.record_outcome(snapshot("p9"), "rollout-restart", "deployment/shop/cart", "rolled_back", T + 9)
    c = kb.confidence(SIG, "rollout-restart")
    assert (c.successes, c.failures, c.alpha, c.beta) == (8, 1, 9.0, 3.0)
    assert c.mean == pytest.approx(0.75)
    assert 0 < c.lower(0.05) < c.mean < c.lower(0.95) < 1


def test_replaying_an_outcome_counts_it_once(kb: KnowledgeBase) -> None:
    assert kb.record_outcome(snapshot("p1"), "rollout-restart", "deployment/shop/cart", "verified", T)
    assert not kb.record_outcome(snapshot("p1"), "rollout-restart", "deployment/shop/cart", "verified", T)
    assert kb.confidence(SIG, "rollout-restart").successes == 1
    assert kb.article(SIG).problems == 1


def test_best_runbooks_rank_by_posterior_mean(kb: KnowledgeBase) -> None:
    for i in range(3):
        kb.record_outcome(snapshot(f"a{i}"), "rollout-restart", None, "verified", T + i)
    kb.record_outcome(snapshot("b0"), "scale-up", None, "verified", T + 10)
    kb.record_outcome(snapshot("b1"), "scale-up", None, "failed", T + 11)
    ranked = kb.best_runbooks(SIG)
    assert [r.runbook for r in ranked] == ["rollout-restart", "scale-up"]
    assert ranked[0].mean == pytest.approx(4 / 6) and ranked[1].mean == pytest.approx(2 / 5)


def test_article_keeps_root_cause_runbook_counts_and_last_validation(kb: KnowledgeBase) -> None:
    kb.record_outcome(snapshot("p1"), "rollout-restart", "deployment/shop/cart", "verified", T + 100)
    kb.record_outcome(snapshot("p2", cause="deployment/shop/api"), "rollout-restart", None, "failed", T + 200)
    kb.record_outcome(snapshot("p2", cause="deployment/shop/api"), None, None, "manual", T + 300)
    article = kb.article(SIG)
    assert (article.symptom, article.root_cause, article.problems, article.manual_resolutions) == (
        "memory_leak",
        "deployment/shop/api",
        2,
        1,
    )
    assert article.last_validated == T + 300  # the person's fix is the latest validation
    assert article.best_runbook is not None and article.best_runbook.runbook == "rollout-restart"
    assert [h.outcome for h in article.history] == ["manual", "failed", "verified"]
    assert [a.signature for a in kb.articles()] == [SIG]


def test_bad_outcomes_are_refused_and_nothing_is_recorded(kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidOutcome, match="expected one of"):
        kb.record_outcome(snapshot("p1"), "rollout-restart", None, "worked", T)  # type: ignore[arg-type]
    with pytest.raises(InvalidOutcome, match="needs the runbook"):
        kb.record_outcome(snapshot("p1"), None, None, "verified", T)
    with pytest.raises(UnknownArticle, match="aiopsd kb list"):
        kb.article(SIG)


def test_learns_from_the_policy_events_in_the_store(tmp_path: Path) -> None:
    sc = Scenario.create(tmp_path)
    pid = sc.open("cart", "memory_leak", T, T + 30)
    sc.act(pid, T + 100, "rollout-restart", "dry_run", 0.5)  # a dry run teaches nothing
    sc.act(pid, T + 200, "rollout-restart", "verified", 0.9)
    signature = sc.correlator.get(pid).snapshot().signature
    assert sc.knowledge.confidence(signature, "rollout-restart").successes == 1
    # replaying every event (a restart re-reading the log) changes nothing
    assert not any(sc.knowledge.observe(e) for e in sc.events)
    assert sc.knowledge.confidence(signature, "rollout-restart").successes == 1
    other = sc.open("api", "latency", T + 5000, T + 5000)
    sc.resolve_by(other, T + 5100, "alice")
    article = sc.knowledge.article(sc.correlator.get(other).snapshot().signature)
    assert article.manual_resolutions == 1 and article.runbooks == []


def test_ignores_events_without_outcomes(kb: KnowledgeBase) -> None:
    event = ProblemEvent(kind="escalated", problem=snapshot("p1"), ts=T, message="x", details={"reason": "gitops"})
    assert not kb.observe(event)
    auto = ProblemEvent(kind="resolved", problem=snapshot("p1"), ts=T, message="quiet", details={})
    assert not kb.observe(auto) and kb.articles() == []
