"""The executor with a fake cluster and clock: retries by error kind, verification outcomes, crash recovery,
idempotency keys, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from remediations.errors import PermanentError, TemporaryError
from remediations.executor import Executor, Timing, Verification
from remediations.journal import InMemoryAuditLog, InMemoryJournal, verify_chain
from remediations.model import ActionRecord, ActionStatus, ExitCode, Target
from remediations.policy import Freeze, GuardPolicy
from remediations.runbook import RunbookRegistry
from tests.remediations.fakes import CountingRunbook, FakeClock, FakeCluster, ScriptedVerification, workload

TARGET = Target.parse("deployment/shop/cart")
POLICY = GuardPolicy.model_validate(
    {
        "allow": [{"namespaces": ["shop"]}],
        "blast_radius": {"max_replica_share": 1.0, "min_healthy_replicas": 0},
        "cooldowns": {"per_target": 0},
        "kill_switch": None,
    }
)


class Crash(BaseException):
    pass


def build(
    runbook: CountingRunbook, journal: Any = None, checkpoint: Any = None, **timing: Any
) -> tuple[Executor, FakeCluster, FakeClock, InMemoryJournal, InMemoryAuditLog]:
    registry = RunbookRegistry()
    registry.register(runbook)
    cluster = FakeCluster({TARGET.key: workload("cart", replicas=4)})
    clock = FakeClock()
    journal = journal or InMemoryJournal()
    audit = InMemoryAuditLog()
    kwargs: dict[str, Any] = {"checkpoint": checkpoint} if checkpoint else {}
    executor = Executor(
        registry,
        cluster,
        POLICY,
        journal,
        audit,
        clock=clock,
        sleep=clock.sleep,
        timing=Timing(**{"settle_timeout": 60, "verify_timeout": 60, "poll_interval": 5, **timing}),
        **kwargs,
    )
    return executor, cluster, clock, journal, audit


def test_temporary_errors_are_retried_after_their_delay() -> None:
    runbook = CountingRunbook(apply_errors=[TemporaryError("conflict", delay=3), TemporaryError("conflict", delay=4)])
    executor, cluster, clock, _, _ = build(runbook)

    result = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)

    assert result.status is ActionStatus.verified
    assert runbook.applies == 3
    assert clock.slept[:2] == [3, 4]
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 5


def test_permanent_error_is_not_retried_and_the_action_is_undone() -> None:
    runbook = CountingRunbook(apply_errors=[PermanentError("forbidden")])
    executor, cluster, _, _, _ = build(runbook)

    result = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)

    assert result.status is ActionStatus.failed
    assert result.exit_code is ExitCode.failed
    assert runbook.applies == 1
    assert runbook.rollbacks == 1
    assert result.record.error == "forbidden; undone"
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 4


def test_temporary_errors_beyond_the_budget_fail() -> None:
    runbook = CountingRunbook(apply_errors=[TemporaryError("down")] * 5)
    executor, _, _, _, _ = build(runbook, max_attempts=2)

    result = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)

    assert result.status is ActionStatus.failed
    assert runbook.applies == 2


def test_verification_waits_for_recovery_within_the_deadline() -> None:
    runbook = CountingRunbook(settles_after=2)
    executor, _, clock, _, _ = build(runbook)
    start = clock.now
    hook = ScriptedVerification(
        [Verification(None, "still high"), Verification(None, "still high"), Verification(True, "p99 back to 120ms")]
    )

    result = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False, verify=hook)

    assert result.status is ActionStatus.verified
    assert result.record.verification == "p99 back to 120ms"
    assert hook.calls == 3
    assert clock.now - start == 4 * 5  # two settle polls + two verification polls


def test_no_recovery_by_the_deadline_rolls_back() -> None:
    runbook = CountingRunbook()
    executor, cluster, _, _, _ = build(runbook, verify_timeout=30)

    result = executor.run(
        "counting",
        TARGET,
        {},
        "why",
        "daemon:a",
        dry_run=False,
        verify=ScriptedVerification([Verification(None, "no")]),
    )

    assert result.status is ActionStatus.rolled_back
    assert result.exit_code is ExitCode.rolled_back
    assert "not recovered within 30s" in (result.record.verification or "")
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 4


def test_a_rollout_that_never_settles_is_rolled_back() -> None:
    runbook = CountingRunbook(settles_after=1000)
    executor, cluster, _, _, _ = build(runbook, settle_timeout=20)

    result = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)

    assert result.status is ActionStatus.rolled_back
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 4


@pytest.mark.parametrize("step", ["journaled", "applied", "settled"])
def test_crash_at_any_step_recovers_and_acts_once(step: str) -> None:
    runbook = CountingRunbook()

    def crash(at: str, _record: ActionRecord) -> None:
        if at == step:
            raise Crash(at)

    executor, cluster, _, journal, audit = build(runbook, checkpoint=crash)
    with pytest.raises(Crash):
        executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False, idempotency_key="p1")
    executor.checkpoint = lambda _at, _r: None

    [result] = executor.recover()

    assert result.status is ActionStatus.verified
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 5
    # the crash came before the call (journaled) or after it (applied, settled): either way one call in all
    assert runbook.applies == 1
    assert journal.unfinished() == []
    assert executor.recover() == []
    again = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False, idempotency_key="p1")
    assert again.repeated
    assert runbook.applies == 1
    assert verify_chain(audit.links).ok


def test_recovery_after_the_deadline_rolls_back() -> None:
    runbook = CountingRunbook()

    def crash(at: str, _record: ActionRecord) -> None:
        if at == "applied":
            raise Crash(at)

    executor, cluster, clock, journal, _ = build(runbook, checkpoint=crash)
    with pytest.raises(Crash):
        executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)
    clock.now += 3600

    [result] = executor.recover()

    assert result.status is ActionStatus.rolled_back
    assert "deadline passed" in (result.record.verification or "")
    assert journal.unfinished() == []
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 4


def test_dry_run_is_journaled_and_audited_but_changes_nothing() -> None:
    runbook = CountingRunbook()
    executor, cluster, _, journal, audit = build(runbook)

    result = executor.run("counting", TARGET, {}, "why", "user:alice")

    assert result.status is ActionStatus.dry_run
    assert result.exit_code is ExitCode.ok
    assert runbook.applies == 0
    assert cluster.patches == []
    assert journal.since(0)[0].dry_run
    assert [e["event"] for e in audit.entries()] == ["dry_run"]
    assert audit.entries()[0]["actor"] == "user:alice"


def test_audit_records_who_what_why_and_outcome() -> None:
    executor, _, _, _, audit = build(CountingRunbook())

    executor.run("counting", TARGET, {}, "problem p-7: latency", "daemon:aiopsd-0", dry_run=False)

    entries = audit.entries()
    assert [e["event"] for e in entries] == ["started", "applied", "verified"]
    assert {e["actor"] for e in entries} == {"daemon:aiopsd-0"}
    assert {e["reason"] for e in entries} == {"problem p-7: latency"}
    assert {d["guard"] for d in entries[0]["decisions"]} >= {"allowlist", "blast_radius", "cooldown", "rate_limit"}
    assert entries[-1]["target"] == "deployment/shop/cart"


def test_registry_is_an_instance_and_duplicates_raise() -> None:
    from remediations.errors import DuplicateRunbook, UnknownRunbook

    registry = RunbookRegistry()
    registry.register(CountingRunbook())
    with pytest.raises(DuplicateRunbook):
        registry.register(CountingRunbook())
    with pytest.raises(UnknownRunbook, match="known: \\['counting'\\]"):
        registry.get("nope")
    assert "counting" not in RunbookRegistry()


def test_a_refused_key_may_act_later_but_a_finished_one_never_again() -> None:
    runbook = CountingRunbook()
    executor, _, clock, journal, _ = build(runbook)
    day = 86400.0
    start = datetime.fromtimestamp(clock.now - clock.now % day, UTC)
    executor.guards.policy = POLICY.model_copy(
        update={"change_freezes": [Freeze(start=start, end=start + timedelta(days=1), reason="release week")]}
    )

    refused = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False, idempotency_key="p9")
    assert refused.status is ActionStatus.refused and runbook.applies == 0
    assert "release week" in (refused.record.error or "")

    clock.now += day  # the freeze is over
    acted = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False, idempotency_key="p9")
    assert acted.status is ActionStatus.verified and not acted.repeated
    again = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False, idempotency_key="p9")
    assert again.repeated and runbook.applies == 1
    assert len(journal.since(0)) == 2


def test_only_the_leader_acts_and_a_lost_lease_leaves_the_call_to_the_next_leader() -> None:
    runbook = CountingRunbook()
    leading = {"a": False}
    journal = InMemoryJournal()
    executor, cluster, _, _, _ = build(runbook, journal=journal)
    executor.is_leader = lambda: leading["a"]

    follower = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)
    assert follower.status is ActionStatus.refused
    assert follower.record.decisions[-1].guard == "leader"
    assert executor.recover() == []

    def lose_lease(at: str, _record: ActionRecord) -> None:
        if at == "journaled":
            leading["a"] = False

    leading["a"] = True
    executor.checkpoint = lose_lease
    pending = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)
    assert pending.status is ActionStatus.running and runbook.applies == 0

    successor, *_ = build(runbook, journal=journal)
    successor.cluster = cluster
    [done] = successor.recover()
    assert done.status is ActionStatus.verified and runbook.applies == 1
    assert cluster.objects[TARGET.key]["spec"]["replicas"] == 5


def test_an_unreachable_cluster_while_planning_fails_cleanly() -> None:
    runbook = CountingRunbook()
    executor, cluster, _, journal, audit = build(runbook, max_attempts=2)
    cluster.unreachable = True
    result = executor.run("counting", TARGET, {}, "why", "daemon:a", dry_run=False)

    assert result.status is ActionStatus.failed
    assert "cannot reach the API server" in (result.record.error or "")
    assert runbook.applies == 0 and journal.unfinished() == []
    assert [e["event"] for e in audit.entries()] == ["failed"]
