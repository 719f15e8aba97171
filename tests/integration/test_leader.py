"""Two replicas, one Lease on the real apiserver: one leader, failover after the lease duration, no repeated action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from daemon.leader import LeaseElector, LeaseTiming
from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.store.db import Store
from remediations.model import ActionRecord, ActionStatus, Step, Target
from tests.harness.cluster import ControlPlane
from tests.remediations.kubefixtures import create_ready_deployment, deployment, make_executor, replica_sets

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
TIMING = LeaseTiming(lease_duration=15, renew_deadline=10, retry_period=2)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Crash(BaseException):
    """Stands for the process dying at a checkpoint."""


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


def test_one_leader_and_failover_after_the_lease_duration(api: client.ApiClient, namespace: str) -> None:
    clock = FakeClock()
    a = LeaseElector(api, namespace, "aiopsd-leader", "replica-a", TIMING, clock)
    b = LeaseElector(api, namespace, "aiopsd-leader", "replica-b", TIMING, clock)

    assert a.try_acquire_or_renew() is True
    assert b.try_acquire_or_renew() is False
    clock.now += 5
    assert a.try_acquire_or_renew() is True
    assert b.try_acquire_or_renew() is False
    assert a.is_leader and not b.is_leader

    # replica a dies: it stops renewing. Before the lease duration b must not take over; after it, b does.
    clock.now += 11
    assert not a.is_leader  # past its renew deadline a stops acting on its own
    assert b.try_acquire_or_renew() is False
    clock.now += TIMING.lease_duration
    assert b.try_acquire_or_renew() is True
    lease = client.CoordinationV1Api(api).read_namespaced_lease("aiopsd-leader", namespace)
    assert lease.spec.holder_identity == "replica-b"
    assert lease.spec.lease_transitions == 1
    assert a.try_acquire_or_renew() is False


def test_release_hands_over_at_once(api: client.ApiClient, namespace: str) -> None:
    clock = FakeClock()
    a = LeaseElector(api, namespace, "l", "replica-a", TIMING, clock)
    b = LeaseElector(api, namespace, "l", "replica-b", TIMING, clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.release()
    assert b.try_acquire_or_renew()


def test_failover_mid_action_finishes_it_without_repeating(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    create_ready_deployment(api, namespace, deployment("cart", replicas=2))
    before = {rs.metadata.name for rs in replica_sets(api, namespace, "app=cart")}
    store = Store(f"sqlite:///{tmp_path / 'shared.db'}")
    store.migrate()
    clock = FakeClock()
    electors = {
        name: LeaseElector(api, namespace, "aiopsd-leader", name, TIMING, clock) for name in ("replica-a", "replica-b")
    }
    target = Target.parse(f"deployment/{namespace}/cart")
    key = f"problem-42:rollout-restart:{target}"

    def crash_after_call(step: str, _record: ActionRecord) -> None:
        if step == "applied":
            raise Crash(step)

    replica_a = make_executor(
        api, journal=StoreActionJournal(store), audit=StoreAuditLog(store), checkpoint=crash_after_call
    )
    assert electors["replica-a"].try_acquire_or_renew()
    assert not electors["replica-b"].try_acquire_or_renew()
    with pytest.raises(Crash):
        replica_a.run(
            "rollout-restart", target, {}, "problem 42", "daemon:replica-a", dry_run=False, idempotency_key=key
        )

    # replica-a is gone; replica-b takes over after the lease duration and continues the journaled action
    clock.now += 5
    assert not electors["replica-b"].try_acquire_or_renew()
    clock.now += TIMING.lease_duration
    assert electors["replica-b"].try_acquire_or_renew()
    journal_b = StoreActionJournal(store)
    replica_b = make_executor(api, journal=journal_b, audit=StoreAuditLog(store))
    [recovered] = replica_b.recover()

    assert recovered.status is ActionStatus.verified
    again = replica_b.run(
        "rollout-restart", target, {}, "problem 42", "daemon:replica-b", dry_run=False, idempotency_key=key
    )
    assert again.repeated and again.record.id == recovered.record.id
    new = [rs for rs in replica_sets(api, namespace, "app=cart") if rs.metadata.name not in before]
    assert len(new) == 1, "the restart must have happened exactly once"
    assert journal_b.unfinished() == []
    assert len(journal_b.since(0)) == 1
    events = [e["event"] for e in StoreAuditLog(store).entries()]
    assert events == ["started", "applied", "recovering", "verified"]
    assert StoreAuditLog(store).verify().ok
    assert recovered.record.step is Step.done


def test_running_replicas_fail_over_within_the_lease_duration(api: client.ApiClient, namespace: str) -> None:
    import threading
    import time

    timing = LeaseTiming(lease_duration=3, renew_deadline=2, retry_period=0.3)
    events: list[tuple[str, str, float]] = []
    stops = {name: threading.Event() for name in ("a", "b")}
    electors = {name: LeaseElector(api, namespace, "run-lease", f"replica-{name}", timing) for name in ("a", "b")}

    def run(name: str, release: bool) -> threading.Thread:
        thread = threading.Thread(
            target=electors[name].run,
            args=(stops[name],),
            kwargs={
                "on_started": lambda: events.append((name, "started", time.monotonic())),
                "on_stopped": lambda: events.append((name, "stopped", time.monotonic())),
                "release": release,
            },
            daemon=True,
        )
        thread.start()
        return thread

    thread_a = run("a", release=False)  # it will "die": stop renewing without handing the lease back
    time.sleep(1)
    thread_b = run("b", release=True)
    time.sleep(2)
    assert [e[:2] for e in events] == [("a", "started")]
    died = time.monotonic()
    stops["a"].set()
    thread_a.join(5)
    deadline = time.monotonic() + 3 * timing.lease_duration
    while not any(e[:2] == ("b", "started") for e in events) and time.monotonic() < deadline:
        time.sleep(0.1)
    stops["b"].set()
    thread_b.join(5)

    took_over = next(e[2] for e in events if e[:2] == ("b", "started"))
    assert took_over - died <= timing.lease_duration + 2 * timing.retry_period + 0.5
    assert took_over - died >= timing.lease_duration - timing.renew_deadline
