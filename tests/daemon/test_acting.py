"""The daemon's decisions on problems, with the real correlator and store and a fake cluster (tests/remediations)."""

from __future__ import annotations

from concurrent.futures import wait
from pathlib import Path
from typing import Any

from daemon.acting import LearntConfidence, RemediationStage
from daemon.app import open_store
from daemon.correlation.correlator import ProblemCorrelator
from daemon.domain import Anomaly, EntityRef, ProblemEvent
from daemon.knowledge import KnowledgeBase
from daemon.problems.repository import SqlProblemRepository
from daemon.settings import Settings
from daemon.settings.automation import AutomationSettings
from daemon.settings.correlation import CorrelationSettings
from daemon.store import Store
from daemon.store.anomalies import record_anomalies
from daemon.topology import Topology
from remediations.executor import Executor, Timing
from remediations.journal import InMemoryAuditLog, InMemoryJournal
from remediations.policy import GuardPolicy
from remediations.runbook import RunbookRegistry
from tests.remediations.fakes import CountingRunbook, FakeClock, FakeCluster, workload

ALLOW_SHOP = GuardPolicy.model_validate(
    {"allow": [{"namespaces": ["shop"]}], "blast_radius": {"max_replica_share": 1.0, "min_healthy_replicas": 0},
     "cooldowns": {"per_target": 0}, "kill_switch": None}
)  # fmt: skip
ALLOW_NOTHING = GuardPolicy.model_validate({"kill_switch": None})


class World:
    def __init__(self, tmp_path: Path, policy: GuardPolicy = ALLOW_SHOP, with_cluster: bool = True, **rule: Any):
        self.clock = FakeClock()
        self.store: Store = open_store(Settings(daemon={"state_dir": str(tmp_path)}))
        self.topology = Topology()
        self.correlator = ProblemCorrelator(
            self.topology, CorrelationSettings(), SqlProblemRepository(self.store), tick=10
        )
        self.runbook = CountingRunbook()
        registry = RunbookRegistry()
        registry.register(self.runbook)
        cluster = FakeCluster({"deployment/shop/cart": workload("cart", replicas=2)})
        timing = Timing(settle_timeout=60, verify_timeout=120, poll_interval=5)
        executor = Executor(
            registry, cluster, policy, InMemoryJournal(), InMemoryAuditLog(),
            clock=self.clock, sleep=self.clock.sleep, timing=timing,
        )  # fmt: skip
        playbook = [{"kind": "deployment", "symptoms": ["memory"], "runbook": "counting", **rule}]
        self.knowledge = KnowledgeBase(self.store)
        self.stage = RemediationStage(
            AutomationSettings(min_severity="info", verify_quiet="30s", playbook=playbook),
            self.correlator, self.topology, self.store, executor if with_cluster else None,
            instance="test", knowledge=LearntConfidence(self.knowledge), clock=self.clock,
        )  # fmt: skip

    def anomalies(self, symptom: str, pods: tuple[str, ...] = ("cart-1", "cart-2")) -> list[Anomaly]:
        return [
            Anomaly(
                source="p",
                query=symptom,
                series_key=f"{symptom}-{pod}",
                labels={"pod": pod},
                entities={
                    "pod": EntityRef(kind="pod", namespace="shop", name=pod).key,
                    "deployment": "deployment/shop/cart",
                },
                ts=self.clock.now,
                value=2.0,
                score=0.99,
                expected=1.0,
                direction=1,
                detector="t",
                symptom=symptom,
            )
            for pod in pods
        ]

    def tick(self, anomalies: list[Anomaly]) -> list[ProblemEvent]:
        with self.store.session() as session:
            record_anomalies(session, anomalies)
        events = self.correlator.observe(anomalies, self.clock.now)
        decided = self.stage.decide(events, self.clock.now)
        for event in [*events, *decided]:
            self.knowledge.observe(event)
        return decided

    def finish(self) -> list[ProblemEvent]:
        wait([r.future for r in self.stage._running], timeout=30)
        events = self.stage.collect(self.clock.now)
        for event in events:
            self.knowledge.observe(event)
        return events


def test_a_matching_problem_is_remediated_and_verified(tmp_path: Path) -> None:
    world = World(tmp_path)
    decided = world.tick(world.anomalies("memory"))
    assert [e.kind for e in decided] == ["mitigating"]
    assert decided[0].details["runbook"] == "counting" and decided[0].details["target"] == "deployment/shop/cart"
    outcome = world.finish()
    kinds = [e.kind for e in outcome]
    assert kinds == ["action", "verified"]
    assert outcome[0].details["status"] == "verified" and outcome[1].details["recovered"] is True
    assert world.runbook.applies == 1
    learnt = world.knowledge.confidence(outcome[0].problem.signature, "counting")
    assert learnt.successes == 1
    assert world.tick(world.anomalies("memory")) == []  # decided once per problem


def test_low_confidence_asks_a_person_with_the_exact_command(tmp_path: Path) -> None:
    world = World(tmp_path, prior_successes=1, prior_failures=4)
    (event,) = world.tick(world.anomalies("memory"))
    assert event.kind == "escalated" and event.details["reason"] == "low_confidence"
    assert "aiopsd runbook run counting --target deployment/shop/cart --execute" in event.message
    assert world.runbook.applies == 0


def test_no_runbook_escalates_after_the_grace_then_a_new_matching_symptom_is_acted_on(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert world.tick(world.anomalies("cpu")) == []  # a matching symptom may still come (no_runbook_grace 30 s)
    world.clock.now += 20
    assert world.tick([]) == []
    world.clock.now += 10
    (first,) = world.tick([])  # the grace is over without a matching symptom: a person is asked
    assert first.kind == "escalated" and first.details["reason"] == "no_runbook"
    world.clock.now += 10
    assert [e.kind for e in world.tick(world.anomalies("memory"))] == ["mitigating"]


def test_a_matching_symptom_within_the_grace_is_acted_on_without_a_needless_escalation(tmp_path: Path) -> None:
    world = World(tmp_path)
    assert world.tick(world.anomalies("cpu")) == []  # a leak shows as CPU first
    world.clock.now += 10
    assert [e.kind for e in world.tick(world.anomalies("memory"))] == ["mitigating"]


def test_a_guard_that_stops_the_action_is_named_in_the_escalation(tmp_path: Path) -> None:
    world = World(tmp_path, policy=ALLOW_NOTHING)
    assert [e.kind for e in world.tick(world.anomalies("memory"))] == ["mitigating"]
    outcome = world.finish()
    assert [e.kind for e in outcome] == ["action", "escalated"]
    assert outcome[0].details["status"] == "dry_run"
    reason = outcome[1].details["reason"]
    assert isinstance(reason, str) and reason.startswith("guard:")
    assert world.runbook.applies == 0


def test_without_a_cluster_the_fix_is_suggested(tmp_path: Path) -> None:
    world = World(tmp_path, with_cluster=False)
    (event,) = world.tick(world.anomalies("memory"))
    assert event.details["reason"] == "guard:no_cluster"
    assert "--execute" in event.message


def test_metrics_that_do_not_recover_roll_back_and_lower_the_confidence(tmp_path: Path) -> None:
    world = World(tmp_path)
    before = world.stage.knowledge.success_rate("deployment:memory", "counting", (4, 1))
    still_broken = [a.model_copy(update={"ts": world.clock.now + 10_000}) for a in world.anomalies("memory")]
    with world.store.session() as session:  # the entities stay anomalous past the verification deadline
        record_anomalies(session, still_broken)
    world.tick(world.anomalies("memory"))
    outcome = world.finish()
    assert [e.kind for e in outcome] == ["action", "verified", "escalated"]
    assert outcome[0].details["status"] == "rolled_back"
    assert outcome[1].details["recovered"] is False
    assert outcome[2].details["reason"] == "verification_failed"
    assert world.runbook.rollbacks == 1
    signature = outcome[0].problem.signature
    assert world.stage.knowledge.success_rate(signature, "counting", (4, 1)) < before
