"""Two replicas on one store, as with leader election: the follower only detects and records; when the leader dies
mid-action the new leader loads its problems, replays what was recorded in the gap, continues the journaled action
without applying it again, and tickets and problems come out as if one daemon had run. Real correlator, store,
executor and journal; a fake cluster and a fake clock (tests/remediations)."""

from __future__ import annotations

from concurrent.futures import wait
from pathlib import Path

import pytest
from sqlalchemy import func, select

from daemon.acting import RemediationStage
from daemon.app import open_store
from daemon.domain import Anomaly, EntityRef, ProblemEvent
from daemon.operations import ProblemStage
from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.remediation.tables import ActionRow
from daemon.settings import Settings
from daemon.settings.automation import AutomationSettings
from daemon.store import Store
from daemon.store.anomalies import record_anomalies
from daemon.tickets.models import BuiltinTicketRow
from remediations.executor import Executor, Timing
from remediations.model import ActionRecord
from remediations.runbook import RunbookRegistry
from tests.daemon.test_acting import ALLOW_SHOP
from tests.remediations.fakes import CountingRunbook, FakeClock, FakeCluster, workload

PLAYBOOK = [{"kind": "deployment", "symptoms": ["memory"], "runbook": "counting"}]


class Crash(BaseException):
    """The replica's process dies here."""


class Replica:
    def __init__(self, name: str, settings: Settings, store: Store, clock: FakeClock, cluster: FakeCluster,
                 runbook: CountingRunbook, crash_after_apply: bool = False) -> None:  # fmt: skip
        self.name, self.store, self.clock = name, store, clock
        self.events: list[ProblemEvent] = []
        self.stage = ProblemStage(settings, store, clock=clock, on_events=self.events.extend)
        registry = RunbookRegistry()
        registry.register(runbook)

        def checkpoint(at: str, record: ActionRecord) -> None:
            if crash_after_apply and at == "applied":
                raise Crash(at)

        executor = Executor(
            registry, cluster, ALLOW_SHOP, StoreActionJournal(store), StoreAuditLog(store), clock=clock,
            sleep=clock.sleep, timing=Timing(settle_timeout=60, verify_timeout=300, poll_interval=5),
            checkpoint=checkpoint,
        )  # fmt: skip
        self.stage.acting = RemediationStage(
            AutomationSettings(min_severity="info", verify_quiet="30s", playbook=PLAYBOOK),
            self.stage.correlator, self.stage.topology, store, executor, instance=name, clock=clock,
        )  # fmt: skip
        self.stage.share(takeover_window=60)

    def lead(self, leading: bool) -> Replica:
        (self.stage.writes_enabled.set if leading else self.stage.writes_enabled.clear)()
        return self

    def tick(self, anomalies: list[Anomaly]) -> None:
        """What the daemon loop does: record what it detected, then the problem stage."""
        with self.store.session() as session:
            record_anomalies(session, anomalies, self.clock.now)
        self.stage.on_tick(anomalies, self.clock.now)

    def wait_actions(self) -> None:
        acting = self.stage.acting
        assert acting is not None
        wait([r.future for r in acting._running], timeout=30)

    def kinds(self, problem_id: str) -> list[str]:
        return [e.kind for e in self.events if e.problem.id == problem_id]


def anomaly(clock: FakeClock, symptom: str, workload_name: str, pod: str, kind: str = "point") -> Anomaly:
    return Anomaly(
        source="alertmanager" if kind == "alert" else "p", query=symptom, series_key=f"{symptom}-{pod}",
        labels={"pod": pod},
        entities={"pod": EntityRef(kind="pod", namespace="shop", name=pod).key,
                  "deployment": f"deployment/shop/{workload_name}"},
        ts=clock.now, value=2.0, score=0.99, expected=1.0, direction=1, detector="t", symptom=symptom, kind=kind,
    )  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> tuple[Settings, Store, FakeClock, FakeCluster, CountingRunbook]:
    settings = Settings(daemon={"state_dir": str(tmp_path), "interval": "10s"})
    cluster = FakeCluster({"deployment/shop/cart": workload("cart", replicas=2)})
    return settings, open_store(settings), FakeClock(), cluster, CountingRunbook()


def test_the_leader_dies_mid_action_and_the_follower_finishes_without_losing_or_repeating_anything(
    world: tuple[Settings, Store, FakeClock, FakeCluster, CountingRunbook],
) -> None:
    settings, store, clock, cluster, runbook = world
    a = Replica("a", settings, store, clock, cluster, runbook, crash_after_apply=True).lead(True)
    b = Replica("b", settings, store, clock, cluster, runbook).lead(False)

    leak = [anomaly(clock, "memory", "cart", p) for p in ("cart-1", "cart-2")]
    a.tick(leak)
    b.tick(leak)  # the follower detects the same points: recorded once, correlated by nobody else
    (problem_id,) = {e.problem.id for e in a.events if e.kind == "opened"}
    assert a.kinds(problem_id) == ["opened", "mitigating"]
    assert b.events == []
    a.wait_actions()  # a's action applied the fix, then its process died before it could verify
    assert runbook.applies == 1

    # the gap: a's last detection (recorded, never correlated), then b's own ticks while the lease runs out
    clock.now += 10
    with store.session() as session:
        record_anomalies(session, [anomaly(clock, "memory", "cart", "cart-3")], clock.now)
    clock.now += 10
    b.tick([anomaly(clock, "memory", "cart", "cart-1")])
    clock.now += 10
    b.stage.inbox.submit([anomaly(clock, "latency", "db", "db-0", kind="alert")])  # an alert reaches b meanwhile
    b.tick([])
    assert b.events == []

    b.lead(True)  # the lease expired: b takes over at its next tick
    clock.now += 10
    b.tick([])
    b.wait_actions()
    clock.now += 10
    b.tick([])
    b.stage.settle()

    # the same problem continues: loaded, not reopened or duplicated, the gap's anomalies attached to it
    assert {e.problem.id for e in b.events if e.kind == "opened"} != {problem_id}
    assert "opened" not in b.kinds(problem_id)
    assert "mitigating" not in b.kinds(problem_id)  # decided by a: not decided again
    final = [e for e in b.events if e.problem.id == problem_id][-1].problem
    assert final.anomaly_count == 4
    actions = [e for e in b.events if e.problem.id == problem_id and e.kind == "action" and "status" in e.details]
    assert [e.details["status"] for e in actions] == ["verified"]
    assert runbook.applies == 1 and runbook.rollbacks == 0  # continued from where a stopped: no second apply
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ActionRow)) == 1
        # the alert b received while following opened its own problem, once; one ticket per problem
        problems = {e.problem.id for e in [*a.events, *b.events] if e.kind == "opened"}
        assert len(problems) == 2
        assert session.scalar(select(func.count()).select_from(BuiltinTicketRow)) == 2


def test_a_follower_records_the_alerts_it_receives_and_the_leader_correlates_them(
    world: tuple[Settings, Store, FakeClock, FakeCluster, CountingRunbook],
) -> None:
    settings, store, clock, cluster, runbook = world
    leader = Replica("a", settings, store, clock, cluster, runbook).lead(True)
    follower = Replica("b", settings, store, clock, cluster, runbook).lead(False)
    leader.tick([])
    follower.stage.inbox.submit([anomaly(clock, "latency", "db", "db-0", kind="alert")])
    follower.tick([])
    assert follower.events == []
    clock.now += 10
    leader.tick([])
    leader.tick([])  # offered once: a second tick does not see it again
    opened = [e for e in leader.events if e.kind == "opened"]
    assert len(opened) == 1 and "deployment/shop/db" in opened[0].problem.entities
    assert follower.events == []
