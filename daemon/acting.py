"""The daemon acts: a problem whose signature has a runbook in the playbook is remediated when the confidence is
high enough and every guard passes; otherwise a person is asked through the ticket, with the suggested runbook and
the exact CLI line. Actions run on worker threads (a rollout and its verification take minutes); their outcomes come
back on the next tick, in the loop's thread, as problem events.

Confidence = (root-cause candidate's confidence) × (the runbook's success rate for this signature: a Beta posterior
that starts from the playbook rule's prior and learns from every verified or failed action).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from daemon.correlation.correlator import Details, ProblemCorrelator
from daemon.correlation.errors import CorrelationError
from daemon.domain import EntityRef, ProblemEvent, ProblemSnapshot
from daemon.knowledge import KnowledgeBase
from daemon.problems.repository import SqlProblemRepository
from daemon.settings.automation import AutomationSettings, PlaybookRule
from daemon.store import Store
from daemon.store.anomalies import list_anomalies
from daemon.topology import Topology
from remediations.errors import RemediationError
from remediations.executor import Executor, Verification
from remediations.model import ActionRecord, ActionResult, ActionStatus, Target, Verdict
from remediations.runbook import suggested_command

logger = logging.getLogger(__name__)
_SEVERITY = {"info": 0, "warning": 1, "critical": 2}


class RunbookConfidence(Protocol):
    """How often ``runbook`` fixed problems of ``signature``. Learning happens elsewhere: the knowledge base
    observes every problem event (action outcomes, a person's resolution)."""

    def success_rate(self, signature: str, runbook: str, prior: tuple[float, float]) -> float: ...


class PriorOnly:
    """No learning: the playbook rule's prior mean (used when no knowledge base is wired)."""

    def success_rate(self, signature: str, runbook: str, prior: tuple[float, float]) -> float:
        successes, failures = prior
        return successes / (successes + failures) if successes + failures else 0.5


class LearntConfidence:
    """The rule's prior Beta(successes, failures) updated with the outcomes the knowledge base has seen."""

    def __init__(self, knowledge: KnowledgeBase) -> None:
        self.knowledge = knowledge

    def success_rate(self, signature: str, runbook: str, prior: tuple[float, float]) -> float:
        learnt = self.knowledge.confidence(signature, runbook)
        alpha, beta = prior[0] + learnt.successes, prior[1] + learnt.failures
        return alpha / (alpha + beta) if alpha + beta else 0.5


class ProblemRecovery:
    """Verification: the problem's entities show no anomaly for ``quiet`` seconds after the action settled."""

    def __init__(self, store: Store, entities: set[str], quiet: float, clock: Callable[[], float] = time.time):
        self.store, self.entities, self.quiet, self.clock = store, entities, quiet, clock
        self._since: dict[str, float] = {}

    def check(self, record: ActionRecord) -> Verification:
        now = self.clock()
        since = self._since.setdefault(record.id, now)
        with self.store.session() as session:
            recent = list_anomalies(session, since=since, limit=10_000)
        entities = self.entities or {record.target.key}
        # a metric coming back down after the fix is recovery, not a new symptom: only anomalies above (or
        # forecasts of exhaustion) keep it unverified
        touching = [
            a.ts for a in recent if entities & set(a.entities.values()) and (a.direction >= 0 or a.kind == "forecast")
        ]
        quiet_since = max([since, *touching])
        if now - quiet_since >= self.quiet:
            return Verification(True, f"no anomaly on {', '.join(sorted(entities))} for {now - quiet_since:.0f}s")
        return Verification(None, f"last anomaly {now - quiet_since:.0f}s ago")


@dataclass
class _Running:
    problem_id: str
    runbook: str
    params: dict[str, Any]
    target: str
    confidence: float
    future: Future[ActionResult]


def escalation_reason(result: ActionResult) -> str:
    """Why automation did not act: the first guard that did not simply allow it."""
    for decision in result.record.decisions:
        if decision.verdict is Verdict.needs_approval:
            return "needs_approval"
        if decision.verdict is not Verdict.allow:
            guard = decision.guard.replace("-", "_")
            if guard in ("gitops", "storm_breaker", "kill_switch"):
                return guard
            return f"guard:{decision.guard}"
    return "runbook"


class RemediationStage:
    """Decides on problem events and carries out actions; ``decide`` and ``collect`` run in the loop's thread."""

    def __init__(
        self,
        settings: AutomationSettings,
        correlator: ProblemCorrelator,
        topology: Topology,
        store: Store,
        executor: Executor | None,
        *,
        instance: str,
        knowledge: RunbookConfidence | None = None,
        clock: Callable[[], float] = time.time,
        unavailable_reason: str = "no Kubernetes cluster is configured",
    ) -> None:
        self.settings = settings
        self.correlator = correlator
        self.topology = topology
        self.store = store
        self.executor = executor
        self.instance = instance
        self.knowledge: RunbookConfidence = knowledge or PriorOnly()
        self.clock = clock
        self.unavailable_reason = unavailable_reason
        self._pool = ThreadPoolExecutor(max_workers=settings.max_parallel, thread_name_prefix="aiopsd-act")
        self._running: list[_Running] = []
        # problem id -> (reopen count, symptoms) it was last decided at, and whether an action was started
        self._decided: dict[str, tuple[int, frozenset[str], bool]] = {}
        self._waiting: dict[str, float] = {}  # problem id -> since when no rule matches it (see no_runbook_grace)
        self._lock = threading.Lock()

    # -- deciding -------------------------------------------------------------------------------------------
    def decide(self, events: Sequence[ProblemEvent], now: float) -> list[ProblemEvent]:
        out: list[ProblemEvent] = []
        if not self.settings.enabled:
            return out
        latest: dict[str, ProblemSnapshot] = {}
        for event in events:
            if event.kind in ("opened", "updated", "reopened"):
                latest[event.problem.id] = event.problem
        for problem_id in list(self._waiting):  # no rule matched yet: decide again once the grace is over
            if problem_id in latest:
                continue
            try:
                latest[problem_id] = self.correlator.get(problem_id).snapshot()
            except CorrelationError:
                del self._waiting[problem_id]
        for problem in latest.values():
            if problem.status != "open" or _SEVERITY[problem.severity] < _SEVERITY[self.settings.min_severity]:
                continue
            symptoms = frozenset(problem.symptoms)
            previous = self._decided.get(problem.id)
            if (
                previous is not None
                and previous[0] == problem.reopen_count
                and (previous[2] or previous[1] == symptoms)
            ):
                continue  # acted already, or nothing new to decide on (a new symptom may match another rule)
            if self._wait_for_symptoms(problem, now):
                continue
            decided = self._decide_one(problem, now)
            acted = any(e.kind == "mitigating" for e in decided)
            self._decided[problem.id] = (problem.reopen_count, symptoms, acted)
            if previous is not None and previous[0] == problem.reopen_count and not acted:
                continue  # still no way to act: the ticket already says so
            out += decided
        return out

    def _wait_for_symptoms(self, problem: ProblemSnapshot, now: float) -> bool:
        """True while a problem no rule matches is younger than the grace (a later symptom may match one)."""
        cause = problem.root_causes[0].entity if problem.root_causes else None
        if cause is not None and self._rule_for(problem, cause) is not None:
            self._waiting.pop(problem.id, None)
            return False
        since = self._waiting.setdefault(problem.id, problem.opened_at)
        if now - since < self.settings.no_runbook_grace.total_seconds():
            return True
        self._waiting.pop(problem.id, None)
        return False

    def _decide_one(self, problem: ProblemSnapshot, now: float) -> list[ProblemEvent]:
        if not problem.root_causes:
            return []
        cause = problem.root_causes[0]
        rule = self._rule_for(problem, cause.entity)
        if rule is None:
            return [self._escalate(problem, now, "no_runbook", f"no runbook in the playbook for {problem.signature}")]
        target = self._target(rule, cause.entity)
        if target is None:
            return [self._escalate(problem, now, "no_runbook", f"{rule.runbook}: no target for {cause.entity}")]
        rate = self.knowledge.success_rate(problem.signature, rule.runbook, (rule.prior_successes, rule.prior_failures))
        confidence = cause.confidence * rate
        command = suggested_command(rule.runbook, target, rule.params)
        details: Details = {"runbook": rule.runbook, "target": target, "confidence": round(confidence, 4)}
        if confidence < self.settings.min_confidence:
            why = (
                f"confidence {confidence:.0%} (root cause {cause.confidence:.0%} × runbook success {rate:.0%}) is "
                f"below {self.settings.min_confidence:.0%}: suggested fix, run by a person: {command}"
            )
            return [self._escalate(problem, now, "low_confidence", why, details)]
        if self.executor is None:
            why = f"{self.unavailable_reason}; suggested fix: {command}"
            return [self._escalate(problem, now, "guard:no_cluster", why, details)]
        reason = f"problem {problem.id} ({problem.title}); root cause {cause.entity} at {cause.confidence:.0%}"
        key = f"{problem.fingerprint}:{rule.runbook}:{target}:{problem.reopen_count}"
        verify = self._recovery(target, cause.entity)
        future = self._pool.submit(
            self.executor.run, rule.runbook, Target.parse(target), rule.params, reason, f"daemon:{self.instance}",
            False, verify, idempotency_key=key, open_problems=len(self.correlator.problems()),
        )  # fmt: skip
        with self._lock:
            self._running.append(_Running(problem.id, rule.runbook, rule.params, target, confidence, future))
        message = f"running {rule.runbook} on {target} (confidence {confidence:.0%})"
        return [self.correlator.mark_mitigating(problem.id, now, rule.runbook, details | {"message": message})]

    def _rule_for(self, problem: ProblemSnapshot, entity: str) -> PlaybookRule | None:
        kind = EntityRef.parse(entity).kind
        workload = self.topology.workload_of(entity) if kind == "pod" else None
        kinds = {kind} | ({EntityRef.parse(workload).kind} if workload else set())
        for rule in self.settings.playbook:
            if rule.kind not in kinds or not set(rule.symptoms) & set(problem.symptoms):
                continue
            if rule.requires_recent_change and not self._changed_recently(entity, problem):
                continue
            return rule
        return None

    def _changed_recently(self, entity: str, problem: ProblemSnapshot) -> bool:
        since = problem.opened_at - self.settings.recent_change_window.total_seconds()
        return bool(self.topology.recent_changes(entity, since, problem.updated_at + 1))

    def _target(self, rule: PlaybookRule, entity: str) -> str | None:
        ref = EntityRef.parse(entity)
        if rule.target == "node_of_root_cause":
            return self.topology.node_of(entity) if ref.kind != "node" else entity
        if rule.target != "root_cause":
            return rule.target.format(namespace=ref.namespace, name=ref.name)
        if ref.kind != rule.kind:  # a pod's workload
            return self.topology.workload_of(entity)
        return entity

    def _escalate(
        self, problem: ProblemSnapshot, now: float, reason: str, message: str, details: Details | None = None
    ) -> ProblemEvent:
        payload: Details = {"reason": reason, **(details or {})}
        return self.correlator.escalate(problem.id, now, message, payload)

    # -- outcomes -------------------------------------------------------------------------------------------
    def collect(self, now: float) -> list[ProblemEvent]:
        with self._lock:
            done = [r for r in self._running if r.future.done()]
            self._running = [r for r in self._running if not r.future.done()]
        events: list[ProblemEvent] = []
        for item in done:
            try:
                result = item.future.result()
            except RemediationError as exc:
                logger.error("action %s on %s failed: %s", item.runbook, item.target, exc)
                events += self._failed(item, now, str(exc))
                continue
            events += self._outcome(item, result, now)
        return events

    def _outcome(self, item: _Running, result: ActionResult, now: float) -> list[ProblemEvent]:
        record = result.record
        status = record.status
        details: Details = {
            "runbook": item.runbook, "target": item.target, "status": status.value,
            "confidence": round(item.confidence, 4), "actor": record.actor, "action_id": record.id,
        }  # fmt: skip
        try:
            self.correlator.get(item.problem_id)
        except KeyError:
            logger.info("problem %s ended before its action finished", item.problem_id)
            return []
        text = f"{item.runbook} on {item.target}: {status.value}" + (
            f" ({record.verification})" if record.verification else ""
        )
        events = [self.correlator.record_action(item.problem_id, now, text, details)]
        command = suggested_command(item.runbook, item.target, item.params)
        if status is ActionStatus.verified:
            events.append(self.correlator.record_verification(item.problem_id, now, True, text))
        elif status in (ActionStatus.rolled_back, ActionStatus.failed):
            events.append(self.correlator.record_verification(item.problem_id, now, False, text))
            message = f"automation could not fix it ({text}); a person must. Tried: {command}"
            events.append(self._escalate_item(item, now, "verification_failed", message))
        elif status in (ActionStatus.refused, ActionStatus.dry_run):
            verdicts = "; ".join(
                f"{d.guard}: {d.verdict.value} ({d.reason})" for d in record.decisions if d.verdict is not Verdict.allow
            )
            message = f"automation may not act ({verdicts}); suggested fix: {command}"
            events.append(self._escalate_item(item, now, escalation_reason(result), message))
        return events

    def _failed(self, item: _Running, now: float, error: str) -> list[ProblemEvent]:
        command = suggested_command(item.runbook, item.target, item.params)
        message = f"{item.runbook} on {item.target} failed: {error}; suggested: {command}"
        return [self._escalate_item(item, now, "verification_failed", message)]

    def _escalate_item(self, item: _Running, now: float, reason: str, message: str) -> ProblemEvent:
        details: Details = {
            "reason": reason, "runbook": item.runbook, "target": item.target,
            "confidence": round(item.confidence, 4),
        }  # fmt: skip
        return self.correlator.escalate(item.problem_id, now, message, details)

    def recover(self) -> None:
        """Continue or roll back actions a crash interrupted (on start of a single replica)."""
        if self.executor is None:
            return
        self._pool.submit(self.executor.recover, self._recovery())

    def take_over(self, now: float) -> list[ProblemEvent]:
        """This replica became the leader; the correlator holds the store's unfinished problems. What the previous
        leader decided stands (a problem it acted on or escalated is not decided again), and its unfinished actions
        are continued here under their own idempotency keys (no second apply), their outcomes reported on the
        problem as if this replica had started them. Unfinished actions of no open problem are recovered as on a
        restart."""
        with self._lock:
            if self._running:
                logger.warning("taking over with %d actions of an earlier term still running", len(self._running))
        self._decided.clear()
        problems = {p.id: p.snapshot() for p in self.correlator.problems()}
        decisions = SqlProblemRepository(self.store).decisions(list(problems))
        for problem_id, decision in decisions.items():
            snapshot = problems[problem_id]
            self._decided[problem_id] = (snapshot.reopen_count, frozenset(snapshot.symptoms), decision.acted)
        if self.executor is None:
            return []
        by_fingerprint = {p.fingerprint: p for p in problems.values()}
        adopted: set[str] = set()
        events: list[ProblemEvent] = []
        for record in self.executor.journal.unfinished():
            problem = by_fingerprint.get(record.idempotency_key.split(":", 1)[0])
            if problem is None or not record.actor.startswith("daemon:"):
                continue
            adopted.add(record.id)
            target = str(record.target.key)
            causes = [problem.root_causes[0].entity] if problem.root_causes else []
            future = self._pool.submit(
                self.executor.run, record.runbook, record.target, record.params, record.reason, record.actor, False,
                self._recovery(target, *causes), idempotency_key=record.idempotency_key,
            )  # fmt: skip
            started = decisions.get(problem.id)
            confidence = started.confidence if started is not None and started.confidence is not None else 0.0
            with self._lock:
                self._running.append(
                    _Running(problem.id, record.runbook, dict(record.params), target, confidence, future)
                )
            self._decided[problem.id] = (problem.reopen_count, frozenset(problem.symptoms), True)
            message = f"continuing {record.runbook} on {target} (action {record.id}) after a leader change"
            events.append(self.correlator.record_action(problem.id, now, message, {"runbook": record.runbook}))
        self._pool.submit(self.executor.recover, self._recovery(), adopted)
        return events

    def _recovery(self, *entities: str) -> ProblemRecovery:
        """Verification of an action: ``entities`` quiet for verify_quiet (none given: the action's own target)."""
        return ProblemRecovery(self.store, set(entities), self.settings.verify_quiet.total_seconds(), self.clock)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
