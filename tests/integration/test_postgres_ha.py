"""Two daemons on one PostgreSQL database (two `Store` instances, each with its own connection pool), writing at the
same time from threads: nothing is corrupted, nothing is duplicated, both see the same result."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select, text

from daemon.domain import Anomaly
from daemon.pipeline import PipelineCheckpoint
from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.remediation.tables import ActionRow
from daemon.settings.tickets import TicketPolicySettings
from daemon.store.anomalies import load_checkpoint, record_anomalies, save_checkpoint
from daemon.store.db import Store
from daemon.store.models import AnomalyRow
from daemon.tickets.builtin import BuiltinTicketSystem
from daemon.tickets.manager import TicketManager
from daemon.tickets.models import BuiltinCommentRow, BuiltinTicketRow
from remediations.model import ActionRecord, ActionStatus, AuditEntry, Target
from tests.daemon.tickets.helpers import Clock, story
from tests.harness.common import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def two_stores(postgres_url: str) -> Iterator[tuple[Store, Store]]:
    first, second = Store(postgres_url), Store(postgres_url)
    first.migrate()
    second.migrate()  # the second daemon starts on a migrated database: a no-op
    yield first, second
    first.dispose()
    second.dispose()


def _together(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in threads released at the same moment; re-raise the first failure."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def runner(i: int, job: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def _anomaly(series: int, ts: float) -> Anomaly:
    return Anomaly(
        source="prom",
        query="memory",
        series_key=f"pod=cart-{series}",
        labels={"pod": f"cart-{series}"},
        ts=ts,
        value=1.0,
        entities={"namespace": "shop", "pod": f"cart-{series}"},
        score=0.95,
        direction=1,
        detector="novelty",
        kind="point",
    )


def test_same_anomalies_recorded_by_both_daemons_are_one_row_each(two_stores: tuple[Store, Store]) -> None:
    batches = [[_anomaly(s, 1000.0 + t) for s in range(20)] for t in range(15)]

    def daemon(store: Store) -> int:
        added = 0
        for batch in batches:
            with store.session() as session:
                added += record_anomalies(session, batch)
        return added

    added = _together(*(lambda s=s: daemon(s) for s in two_stores))

    assert sum(added) == 20 * 15  # every point counted as new by exactly one of them
    with two_stores[1].session() as session:
        rows = session.scalar(select(func.count(AnomalyRow.id)))
        distinct = session.scalar(
            select(func.count()).select_from(select(AnomalyRow.series_key, AnomalyRow.ts).distinct().subquery())
        )
    assert rows == distinct == 20 * 15


def _action(key: str, actor: str) -> ActionRecord:
    return ActionRecord(
        id=f"id-{actor}-{key}",
        idempotency_key=key,
        runbook="rollout-restart",
        target=Target.parse("deployment/shop/cart"),
        actor=actor,
        status=ActionStatus.running,
        created_at=100.0,
        updated_at=100.0,
    )


def test_an_action_journaled_by_both_daemons_at_once_exists_once(two_stores: tuple[Store, Store]) -> None:
    journals = [StoreActionJournal(s) for s in two_stores]
    keys = [f"restart:cart:{i}" for i in range(25)]

    def daemon(i: int) -> list[str]:
        return [journals[i].record(_action(k, f"replica-{i}")).id for k in keys]

    ids_a, ids_b = _together(lambda: daemon(0), lambda: daemon(1))

    assert ids_a == ids_b  # the loser of each race gets the winner's record back, not its own
    with two_stores[0].session() as session:
        assert session.scalar(select(func.count(ActionRow.id))) == len(keys)
    assert {r.idempotency_key for r in journals[1].unfinished()} == set(keys)


def test_audit_chain_written_by_both_daemons_stays_one_unbroken_chain(two_stores: tuple[Store, Store]) -> None:
    logs = [StoreAuditLog(s, attempts=50) for s in two_stores]

    def daemon(i: int) -> None:
        for n in range(30):
            logs[i].append(
                AuditEntry(
                    ts=float(n),
                    actor=f"daemon:replica-{i}",
                    event="started",
                    action_id=f"a{i}-{n}",
                    runbook="scale",
                    target="deployment/shop/cart",
                    reason="load",
                    outcome="ok",
                )
            )

    _together(lambda: daemon(0), lambda: daemon(1))

    report = logs[1].verify()
    assert report.ok, report.problem
    assert report.entries == 60
    assert [link.seq for link in logs[0].links()] == list(range(1, 61))
    assert {e["action_id"] for e in logs[0].entries()} == {f"a{i}-{n}" for i in (0, 1) for n in range(30)}


def test_the_same_problem_events_handled_by_both_daemons_give_one_ticket_story(
    two_stores: tuple[Store, Store],
) -> None:
    """At a leader hand-over the old leader may still be handling an event the new one handles too: both record the
    intention in the store at once, and the ticket still gets exactly one create and one comment per event."""
    clock = Clock()
    managers = [
        TicketManager(s, BuiltinTicketSystem(s, clock), policy=TicketPolicySettings(), clock=clock) for s in two_stores
    ]
    for ev in story():
        _together(lambda ev=ev: managers[0].handle(ev), lambda ev=ev: managers[1].handle(ev))
    report = managers[1].flush()
    assert report.pending == 0 and report.failed == 0
    with two_stores[0].session() as session:
        [ticket] = session.scalars(select(BuiltinTicketRow)).all()
        comments = session.scalars(select(BuiltinCommentRow.body)).all()
    assert ticket.status == "resolved"
    assert len(comments) == 5


def _checkpoint(processed: float) -> PipelineCheckpoint:
    return PipelineCheckpoint("novelty", "cfg1", processed, processed, [{"pod": "cart-0"}], b"state")


def _someone_waits_for_a_lock(store: Store) -> bool:
    with store.engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def test_both_daemons_checkpointing_a_new_query_at_once_both_succeed(two_stores: tuple[Store, Store]) -> None:
    """Each replica's tick checkpoints its pipelines in the same transaction as its anomalies: the first checkpoint
    of a query written by both at once must fail neither tick (nor roll back its anomalies). The first tick keeps its
    transaction open until the second is blocked on the same row, then commits."""
    first_written = threading.Event()

    def first_tick() -> None:
        with two_stores[0].session() as session:
            save_checkpoint(session, "prom", "memory", _checkpoint(100.0))
            record_anomalies(session, [_anomaly(0, 100.0)])
            first_written.set()
            wait_until(lambda: _someone_waits_for_a_lock(two_stores[0]), timeout=20, what="second tick blocked")

    def second_tick() -> None:
        assert first_written.wait(20)
        with two_stores[1].session() as session:
            save_checkpoint(session, "prom", "memory", _checkpoint(115.0))
            record_anomalies(session, [_anomaly(1, 115.0)])

    _together(first_tick, second_tick)

    with two_stores[0].session() as session:
        stored = load_checkpoint(session, "prom", "memory")
        anomalies = session.scalar(select(func.count(AnomalyRow.id)))
    assert stored is not None and stored.processed_ts == 115.0  # the later writer's checkpoint
    assert anomalies == 2


def test_two_daemons_migrating_a_fresh_database_at_the_same_moment_both_start(postgres_url: str) -> None:
    # two replicas of a new install start together: the one that comes second waits and finds nothing to do
    first, second = Store(postgres_url), Store(postgres_url)
    try:
        _together(first.migrate, second.migrate)
        assert "problem_commands" in first.tables() and first.tables() == second.tables()
        with first.session() as session:
            assert session.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() >= 1
    finally:
        first.dispose()
        second.dispose()
