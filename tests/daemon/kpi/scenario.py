"""Store contents built through the real parts: the correlator on the SQL problem repository, the action journal,
and ProblemEvents as the acting policy emits them (the contract in the KPI/knowledge brief)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from daemon.correlation import ProblemCorrelator
from daemon.domain import Anomaly, ProblemEvent
from daemon.knowledge import KnowledgeBase
from daemon.problems import SqlProblemRepository
from daemon.remediation.journal import StoreActionJournal
from daemon.settings.correlation import CorrelationSettings
from daemon.store import Store
from daemon.topology import Topology
from remediations.model import ActionRecord, ActionStatus, Target

DAY = 86400.0
WEEK = 7 * DAY


def anomaly(workload: str, symptom: str, ts: float) -> Anomaly:
    namespace = f"ns-{workload}"
    return Anomaly(
        source="prom",
        query=f"{symptom}_q",
        series_key=f"{symptom}:{workload}",
        labels={"namespace": namespace, "deployment": workload},
        entities={"deployment": f"deployment/{namespace}/{workload}", "namespace": f"namespace//{namespace}"},
        ts=ts,
        value=1.0,
        score=0.9,
        detector="robust",
        symptom=symptom,
    )


@dataclass
class Scenario:
    store: Store
    correlator: ProblemCorrelator
    repository: SqlProblemRepository
    journal: StoreActionJournal
    knowledge: KnowledgeBase
    events: list[ProblemEvent] = field(default_factory=list)

    @classmethod
    def create(cls, tmp: Path) -> Scenario:
        store = Store(f"sqlite:///{tmp / 'aiopsd.db'}")
        store.migrate()
        repository = SqlProblemRepository(store)
        correlator = ProblemCorrelator(Topology(), CorrelationSettings(), repository, tick=15.0)
        return cls(store, correlator, repository, StoreActionJournal(store), KnowledgeBase(store))

    def _keep(self, events: list[ProblemEvent]) -> None:
        self.events.extend(events)
        for event in events:
            self.knowledge.observe(event)

    def open(self, workload: str, symptom: str, anomaly_ts: float, at: float) -> str:
        events = self.correlator.observe([anomaly(workload, symptom, anomaly_ts)], at)
        self._keep(events)
        (opened,) = [e for e in events if e.kind == "opened"]
        return opened.problem.id

    def advance(self, at: float) -> list[ProblemEvent]:
        events = self.correlator.observe([], at)
        self._keep(events)
        return events

    def act(
        self, pid: str, at: float, runbook: str, status: str, confidence: float, actor: str = "daemon:test-0"
    ) -> str:
        problem = self.correlator.get(pid)
        target = problem.snapshot().root_causes[0].entity if problem.candidates else f"deployment/x/{pid}"
        kind, namespace, name = target.split("/", 2)
        action_id = f"a-{pid}-{int(at)}"
        self.journal.record(
            ActionRecord(
                id=action_id,
                idempotency_key=f"{pid}:{runbook}:{int(at)}",
                runbook=runbook,
                target=Target(kind=kind, namespace=namespace, name=name),
                actor=actor,
                status=ActionStatus(status),
                created_at=at - 30,
                updated_at=at,
            )
        )
        details: dict[str, str | float | int | bool | None] = {
            "runbook": runbook,
            "target": target,
            "status": status,
            "confidence": confidence,
            "actor": actor,
            "action_id": action_id,
        }
        self._keep([self.correlator.record_action(pid, at, f"{runbook} {status}", details)])
        return action_id

    def escalate(self, pid: str, at: float, reason: str, confidence: float | None = None, runbook: str = "") -> None:
        snapshot = self.correlator.get(pid).snapshot()
        details: dict[str, str | float | int | bool | None] = {"reason": reason, "runbook": runbook or None}
        if confidence is not None:
            details["confidence"] = confidence
        event = ProblemEvent(kind="escalated", problem=snapshot, ts=at, message=f"escalated: {reason}", details=details)
        self.repository.save([], [event])
        self._keep([event])

    def acknowledge(self, pid: str, at: float, user: str) -> None:
        self._keep([self.correlator.acknowledge(pid, at, by=f"user:{user}")])

    def resolve_by(self, pid: str, at: float, user: str) -> None:
        self._keep([self.correlator.resolve(pid, at, by=f"user:{user}")])
