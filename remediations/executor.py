"""The executor: plan, guard, journal, call, settle, verify, roll back — restart-safe.

Order of one action: the runbook plans from the live object; every guard decides; a refused or dry-run action is
journaled as such and stops. Otherwise the record is journaled (status running, step ``journaled``) *before* the API
call; after the call it becomes ``applied``; after the runbook's own check ``settled``; then the daemon's
verification hook decides verified, or the action is rolled back. A crash anywhere leaves an unfinished record that
``recover()`` continues from its step: runbooks' ``apply`` is idempotent for a given plan, so a call that may or may
not have happened before the crash is made again without acting twice; a finished record is never touched again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from remediations.cluster import ClusterApi
from remediations.errors import GitOpsManaged, PermanentError, PreconditionFailed, TemporaryError
from remediations.guards import GuardEvaluator, GuardRequest, overall
from remediations.journal import ActionJournal, AuditLog
from remediations.model import (
    ActionRecord,
    ActionResult,
    ActionStatus,
    AuditEntry,
    GuardDecision,
    Plan,
    Step,
    Target,
    Verdict,
)
from remediations.policy import GuardPolicy
from remediations.runbook import PlanContext, Runbook, RunbookRegistry

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Verification:
    """The daemon's answer: ``recovered`` True (back to normal), False (will not recover), None (not yet)."""

    recovered: bool | None
    detail: str = ""


class VerificationHook(Protocol):
    def check(self, record: ActionRecord) -> Verification:
        """Are the metrics of the problem behind ``record`` back to normal? Called until the deadline."""
        ...


Checkpoint = Callable[[str, ActionRecord], None]


def _no_checkpoint(_step: str, _record: ActionRecord) -> None:
    return None


@dataclass(frozen=True)
class Timing:
    settle_timeout: float = 300.0  # seconds for the runbook's own check (a rollout) to pass
    verify_timeout: float = 300.0  # seconds for the problem's metrics to come back after it settled
    poll_interval: float = 2.0  # seconds between checks
    max_attempts: int = 3  # tries of a call that fails with TemporaryError


class Executor:
    """Runs runbooks under a guard policy with a journal and an audit log. Time comes from ``clock``/``sleep``."""

    def __init__(
        self,
        registry: RunbookRegistry,
        cluster: ClusterApi,
        policy: GuardPolicy,
        journal: ActionJournal,
        audit: AuditLog,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        timing: Timing = Timing(),
        checkpoint: Checkpoint = _no_checkpoint,
        is_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        self.registry = registry
        self.cluster = cluster
        self.policy = policy
        self.journal = journal
        self.audit = audit
        self.clock = clock
        self.sleep = sleep
        self.timing = timing
        self.checkpoint = checkpoint
        # with several replicas only the Lease holder may call the API; asked right before every call
        self.is_leader = is_leader
        self.guards = GuardEvaluator(policy, cluster, journal, clock)

    # -- public ---------------------------------------------------------------------------------------------------

    def run(
        self,
        runbook_name: str,
        target: Target,
        params: Mapping[str, Any],
        reason: str,
        actor: str,
        dry_run: bool = True,
        verify: VerificationHook | None = None,
        *,
        idempotency_key: str | None = None,
        approved: bool = False,
        open_problems: int | None = None,
    ) -> ActionResult:
        """Plan, guard and (unless dry-run or refused) act. ``actor`` is ``daemon:<name>`` or ``user:<name>``.

        A key that already finished returns that result (``repeated=True``) without acting; an unfinished one is
        continued as ``recover()`` would.
        """
        runbook = self.registry.get(runbook_name)
        parsed = runbook.parse_params(params)
        runbook.check_target(target)
        if idempotency_key is not None:
            existing = self.journal.by_key(idempotency_key)
            if existing is not None:
                if existing.status.finished:
                    return ActionResult(record=existing, repeated=True)
                return self._drive(runbook, existing, verify)
        now = self.clock()
        action_id = uuid.uuid4().hex
        record = ActionRecord(
            id=action_id,
            idempotency_key=idempotency_key or action_id,
            runbook=runbook.name,
            target=target,
            params=parsed.model_dump(mode="json"),
            reason=reason,
            actor=actor,
            dry_run=dry_run,
            created_at=now,
            updated_at=now,
        )
        try:
            plan = self._with_retries(lambda: runbook.plan(self.cluster, target, parsed, PlanContext(now, action_id)))
        except (GitOpsManaged, PreconditionFailed) as exc:
            guard = "gitops" if isinstance(exc, GitOpsManaged) else "precondition"
            decision = GuardDecision(guard=guard, verdict=Verdict.deny, reason=str(exc))
            return self._finish_early(record, ActionStatus.refused, [decision], str(exc))
        except (PermanentError, TemporaryError) as exc:
            return self._finish_early(record, ActionStatus.failed, [], str(exc))
        decisions = self.guards.evaluate(
            GuardRequest(
                action_id=action_id,
                runbook=runbook.name,
                disruptive=runbook.disruptive,
                target=target,
                plan=plan,
                by_daemon=actor.startswith("daemon"),
                approved=approved,
                open_problems=open_problems,
            )
        )
        record = record.model_copy(update={"plan": plan, "decisions": decisions})
        verdict = overall(decisions)
        if verdict in (Verdict.deny, Verdict.needs_approval):
            stopped = "; ".join(f"{d.guard}: {d.reason}" for d in decisions if d.verdict is verdict)
            return self._finish_early(record, ActionStatus.refused, decisions, stopped)
        if dry_run or verdict is Verdict.dry_run:
            why = (
                "dry run requested"
                if dry_run
                else "dry run: " + next(d.reason for d in decisions if d.verdict is Verdict.dry_run)
            )
            return self._finish_early(record.model_copy(update={"dry_run": True}), ActionStatus.dry_run, decisions, why)
        if not dry_run and not self.is_leader():
            decision = GuardDecision(guard="leader", verdict=Verdict.deny, reason="this replica is not the leader")
            return self._finish_early(record, ActionStatus.refused, [*decisions, decision], decision.reason)
        deadline = now + self.timing.settle_timeout + self.timing.verify_timeout
        record = record.model_copy(
            update={"status": ActionStatus.running, "step": Step.journaled, "deadline": deadline}
        )
        stored = self.journal.record(record)
        if stored.id != record.id:  # the same key was journaled meanwhile (another replica): never act twice
            return ActionResult(record=stored, repeated=True)
        self._audit(record, "started", outcome="journaled before the call", decisions=decisions)
        self.checkpoint("journaled", record)
        return self._drive(runbook, record, verify)

    def recover(self, verify: VerificationHook | None = None, skip: Collection[str] = ()) -> list[ActionResult]:
        """Continue every unfinished action from where it stopped (after a crash or a leader change), except the
        action ids in ``skip`` (continued elsewhere, e.g. by ``run`` with their idempotency key)."""
        results: list[ActionResult] = []
        if not self.is_leader():
            return results
        for record in self.journal.unfinished():
            if record.id in skip:
                continue
            logger.info(
                "recovering action %s (%s on %s) from step %s",
                record.id,
                record.runbook,
                record.target,
                record.step,
                extra={"ctx_action": record.id, "ctx_runbook": record.runbook, "ctx_target": str(record.target)},
            )
            self._audit(record, "recovering", outcome=f"continuing from step {record.step}")
            results.append(self._drive(self.registry.get(record.runbook), record, verify))
        return results

    def preview(self, runbook_name: str, target: Target, params: Mapping[str, Any]) -> Plan:
        """Only the plan (what would change), without guards or journal."""
        runbook = self.registry.get(runbook_name)
        parsed = runbook.parse_params(params)
        runbook.check_target(target)
        return runbook.plan(self.cluster, target, parsed, PlanContext(self.clock(), "preview"))

    # -- steps ----------------------------------------------------------------------------------------------------

    def _drive(self, runbook: Runbook, record: ActionRecord, verify: VerificationHook | None) -> ActionResult:
        assert record.plan is not None
        plan = record.plan
        if record.deadline is not None and self.clock() > record.deadline:
            return self._roll_back(runbook, record, "the verification deadline passed while the action was interrupted")
        try:
            if record.step is Step.journaled:
                if not self.is_leader():
                    # lost the lease between journal and call: the next leader's recover() makes the call
                    logger.warning("not the leader any more: leaving action %s to the next leader", record.id)
                    return ActionResult(record=record)
                record = self._save(record, attempts=record.attempts + 1)
                self._with_retries(lambda: runbook.apply(self.cluster, plan))
                record = self._save(record, step=Step.applied)
                self._audit(record, "applied", outcome=plan.summary)
                self.checkpoint("applied", record)
            if record.step is Step.applied:
                if not self._wait(lambda: runbook.settled(self.cluster, plan), self.timing.settle_timeout):
                    return self._roll_back(runbook, record, f"did not settle within {self.timing.settle_timeout:.0f}s")
                record = self._save(record, step=Step.settled, status=ActionStatus.verifying)
                self.checkpoint("settled", record)
            return self._verify(runbook, record, verify)
        except (PermanentError, TemporaryError) as exc:
            return self._fail(runbook, record, str(exc))

    def _verify(self, runbook: Runbook, record: ActionRecord, verify: VerificationHook | None) -> ActionResult:
        if verify is None:
            record = self._save(record, status=ActionStatus.verified, step=Step.done, verification="settled (no hook)")
            self._audit(record, "verified", outcome="settled; no verification hook given")
            return ActionResult(record=record)
        deadline = self.clock() + self.timing.verify_timeout
        last = Verification(None, "no answer yet")
        while True:
            last = verify.check(record)
            if last.recovered is not None or self.clock() >= deadline:
                break
            self.sleep(self.timing.poll_interval)
        if last.recovered:
            record = self._save(record, status=ActionStatus.verified, step=Step.done, verification=last.detail)
            self._audit(record, "verified", outcome=last.detail)
            return ActionResult(record=record)
        why = last.detail if last.recovered is False else f"not recovered within {self.timing.verify_timeout:.0f}s"
        return self._roll_back(runbook, record, why)

    def _roll_back(self, runbook: Runbook, record: ActionRecord, why: str) -> ActionResult:
        assert record.plan is not None
        plan = record.plan
        if not plan.reversible:
            record = self._save(
                record,
                status=ActionStatus.failed,
                step=Step.done,
                verification=why,
                error=f"{why}; {runbook.name} cannot be undone",
            )
            self._audit(record, "failed", outcome=record.error or why)
            return ActionResult(record=record)
        try:
            self._with_retries(lambda: runbook.rollback(self.cluster, plan))
        except (PermanentError, TemporaryError) as exc:
            record = self._save(
                record,
                status=ActionStatus.failed,
                step=Step.done,
                verification=why,
                error=f"{why}; rollback failed: {exc}",
            )
            self._audit(record, "failed", outcome=record.error or why)
            return ActionResult(record=record)
        record = self._save(record, status=ActionStatus.rolled_back, step=Step.done, verification=why)
        self._audit(record, "rolled_back", outcome=why)
        return ActionResult(record=record)

    def _fail(self, runbook: Runbook, record: ActionRecord, error: str) -> ActionResult:
        assert record.plan is not None
        undone = ""
        if record.plan.reversible:
            try:
                self._with_retries(lambda: runbook.rollback(self.cluster, record.plan))  # type: ignore[arg-type]
                undone = "; undone"
            except (PermanentError, TemporaryError) as exc:
                undone = f"; undo failed: {exc}"
        record = self._save(record, status=ActionStatus.failed, step=Step.done, error=error + undone)
        self._audit(record, "failed", outcome=error + undone)
        return ActionResult(record=record)

    def _finish_early(
        self, record: ActionRecord, status: ActionStatus, decisions: list[GuardDecision], why: str
    ) -> ActionResult:
        dry = status is ActionStatus.dry_run
        # nothing was done, so the idempotency key stays free: the same decision may be taken again later (after a
        # cooldown, a freeze, with approval) and must then act; the record keeps the key it was asked with
        key = f"{record.idempotency_key}~{status.value}~{record.id}"
        update: dict[str, Any] = {"status": status, "step": Step.done, "decisions": decisions, "idempotency_key": key}
        update |= {"error": None if dry else why, "verification": why if dry else None}
        record = record.model_copy(update=update)
        stored = self.journal.record(record)
        self._audit(stored, status.value, outcome=why, decisions=decisions)
        return ActionResult(record=stored)

    # -- helpers --------------------------------------------------------------------------------------------------

    def _save(self, record: ActionRecord, **changes: Any) -> ActionRecord:
        record = record.model_copy(update={**changes, "updated_at": self.clock()})
        self.journal.update(record)
        return record

    def _with_retries(self, call: Callable[[], T]) -> T:
        attempt = 1
        while True:
            try:
                return call()
            except TemporaryError as exc:
                if attempt >= self.timing.max_attempts:
                    raise
                logger.warning("temporary error (attempt %d/%d): %s", attempt, self.timing.max_attempts, exc)
                self.sleep(exc.delay)
                attempt += 1

    def _wait(self, check: Callable[[], bool], timeout: float) -> bool:
        deadline = self.clock() + timeout
        while True:
            try:
                if check():
                    return True
            except TemporaryError as exc:
                logger.warning("check failed, will retry: %s", exc)
            if self.clock() >= deadline:
                return False
            self.sleep(self.timing.poll_interval)

    def _audit(
        self, record: ActionRecord, event: str, outcome: str = "", decisions: list[GuardDecision] | None = None
    ) -> None:
        self.audit.append(
            AuditEntry(
                ts=self.clock(),
                actor=record.actor,
                event=event,
                action_id=record.id,
                runbook=record.runbook,
                target=str(record.target),
                reason=record.reason,
                decisions=decisions or [],
                outcome=outcome,
                details={"status": record.status.value, "dry_run": record.dry_run, "params": record.params},
            )
        )
