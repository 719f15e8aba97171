"""Crash recovery and leader failover of remediation with the journal and audit chain on PostgreSQL: the executor
crash tests run unchanged on a PostgreSQL store (imported below), and a leader dying mid-action is finished by the
other replica — a separate process, so its own `Store` on the same database — without repeating the action."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from daemon.leader import LeaseElector
from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.store.db import Store
from remediations.model import ActionRecord, ActionStatus, Step, Target
from tests.harness.cluster import ControlPlane

# the executor crash tests of the SQLite store, collected again with this module's PostgreSQL `store` fixture
from tests.integration.test_executor_crash import (  # noqa: F401
    test_crash_between_call_and_verification_does_not_call_again,
    test_crash_between_journal_and_call_recovers_once,
    test_verification_failure_rolls_back,
)
from tests.integration.test_leader import TIMING, Crash, FakeClock
from tests.remediations.kubefixtures import create_ready_deployment, deployment, make_executor, replica_sets

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    store = Store(postgres_url)
    store.migrate()
    yield store
    store.dispose()


def test_leader_dies_mid_action_and_the_other_replica_finishes_it_once(
    api: client.ApiClient, namespace: str, postgres_url: str
) -> None:
    create_ready_deployment(api, namespace, deployment("cart", replicas=2))
    before = {rs.metadata.name for rs in replica_sets(api, namespace, "app=cart")}
    store_a, store_b = Store(postgres_url), Store(postgres_url)  # two processes, one database
    store_a.migrate()
    store_b.migrate()
    clock = FakeClock()
    elector_a = LeaseElector(api, namespace, "aiopsd-leader", "replica-a", TIMING, clock)
    elector_b = LeaseElector(api, namespace, "aiopsd-leader", "replica-b", TIMING, clock)
    target = Target.parse(f"deployment/{namespace}/cart")
    key = f"problem-7:rollout-restart:{target}"

    def dies_after_the_call(step: str, _record: ActionRecord) -> None:
        if step == "applied":
            raise Crash(step)

    replica_a = make_executor(
        api, journal=StoreActionJournal(store_a), audit=StoreAuditLog(store_a), checkpoint=dies_after_the_call
    )
    assert elector_a.try_acquire_or_renew() and not elector_b.try_acquire_or_renew()
    with pytest.raises(Crash):
        replica_a.run(
            "rollout-restart", target, {}, "problem 7", "daemon:replica-a", dry_run=False, idempotency_key=key
        )
    store_a.dispose()  # the process is gone

    clock.now += TIMING.lease_duration + 1
    assert elector_b.try_acquire_or_renew()
    journal_b = StoreActionJournal(store_b)
    replica_b = make_executor(api, journal=journal_b, audit=StoreAuditLog(store_b))
    [recovered] = replica_b.recover()
    assert recovered.status is ActionStatus.verified and recovered.record.step is Step.done
    again = replica_b.run(
        "rollout-restart", target, {}, "problem 7", "daemon:replica-b", dry_run=False, idempotency_key=key
    )
    assert again.repeated and again.record.id == recovered.record.id

    new = [rs for rs in replica_sets(api, namespace, "app=cart") if rs.metadata.name not in before]
    assert len(new) == 1, "the restart happened exactly once"
    assert journal_b.unfinished() == [] and len(journal_b.since(0)) == 1
    audit = StoreAuditLog(store_b)
    assert [e["event"] for e in audit.entries()] == ["started", "applied", "recovering", "verified"]
    assert audit.verify().ok
    store_b.dispose()
