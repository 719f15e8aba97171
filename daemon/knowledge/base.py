"""The knowledge flywheel: every outcome of a fix updates the article of the problem's signature and the success
posterior of the runbook used, which becomes the confidence the acting policy uses.

The posterior of "runbook R fixes problems of signature S" is Beta(α, β) with

    α = PRIOR_ALPHA + successes,   β = PRIOR_BETA + failures,   confidence = mean = α / (α + β)

The prior is Beta(1, 2): one imagined success and two imagined failures — deliberately sceptical, so an untried
runbook starts at 1/3 (below any sensible acting threshold) and must earn trust: 3 verified fixes give 4/6 ≈ 0.67,
8 give 9/11 ≈ 0.82, and one failure after 8 successes drops it to 9/12 = 0.75. ``lower(q)`` gives the posterior's
q-quantile for a policy that wants to act on a pessimistic bound instead of the mean.

Outcomes: ``verified`` (metrics recovered after the runbook) is a success; ``rolled_back`` and ``failed`` are
failures; ``manual`` means a person resolved it — with a runbook named it counts as a success of that runbook (it is
evidence the runbook fixes the signature), without one it only counts on the article.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, get_args

from pydantic import Field
from scipy.special import betaincinv
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from daemon.domain import Frozen, ProblemEvent, ProblemSnapshot
from daemon.errors import StoreError
from daemon.knowledge.errors import InvalidOutcome, UnknownArticle
from daemon.knowledge.tables import KnowledgeArticleRow, KnowledgeOutcomeRow, RunbookPosteriorRow
from daemon.store.db import Store

logger = logging.getLogger(__name__)

PRIOR_ALPHA = 1.0
PRIOR_BETA = 2.0
Outcome = Literal["verified", "rolled_back", "failed", "manual"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
_SUCCESS = frozenset({"verified", "manual"})


class RunbookConfidence(Frozen):
    """How much a runbook is trusted for one signature: the Beta posterior of its success probability."""

    signature: str
    runbook: str
    mean: float = Field(ge=0, le=1, description="α / (α + β): the confidence the policy compares to its threshold.")
    alpha: float
    beta: float
    successes: int = 0
    failures: int = 0
    last_validated: float | None = Field(None, description="Unix seconds of its latest verified fix.")

    def lower(self, q: float = 0.05) -> float:
        """The posterior's q-quantile: a pessimistic confidence."""
        return float(betaincinv(self.alpha, self.beta, q))


class OutcomeRecord(Frozen):
    problem_id: str
    runbook: str | None
    target: str | None
    outcome: Outcome
    ts: float


class KnowledgeArticle(Frozen):
    signature: str
    symptom: str
    root_cause: str
    title: str
    problems: int
    manual_resolutions: int
    created_at: float
    updated_at: float
    last_validated: float | None
    last_problem_id: str
    runbooks: list[RunbookConfidence] = Field(default_factory=list, description="Best first.")
    history: list[OutcomeRecord] = Field(default_factory=list, description="Newest first.")

    @property
    def best_runbook(self) -> RunbookConfidence | None:
        return self.runbooks[0] if self.runbooks else None


def _confidence(
    signature: str, runbook: str, successes: int, failures: int, validated: float | None
) -> RunbookConfidence:
    alpha, beta = PRIOR_ALPHA + successes, PRIOR_BETA + failures
    return RunbookConfidence(
        signature=signature,
        runbook=runbook,
        mean=alpha / (alpha + beta),
        alpha=alpha,
        beta=beta,
        successes=successes,
        failures=failures,
        last_validated=validated,
    )


def _ranked(rows: list[RunbookPosteriorRow]) -> list[RunbookConfidence]:
    out = [_confidence(r.signature, r.runbook, r.successes, r.failures, r.last_validated) for r in rows]
    return sorted(out, key=lambda c: (-c.mean, -c.successes, c.runbook))


class KnowledgeBase:
    """Articles and runbook posteriors in the daemon's store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- the policy's questions -----------------------------------------------------------------------------------
    def confidence(self, signature: str, runbook: str) -> RunbookConfidence:
        """The posterior for this pair; the prior when nothing was learnt yet."""
        with self._session("reading runbook confidence") as session:
            row = session.get(RunbookPosteriorRow, (signature, runbook))
            if row is None:
                return _confidence(signature, runbook, 0, 0, None)
            return _confidence(signature, runbook, row.successes, row.failures, row.last_validated)

    def best_runbooks(self, signature: str) -> list[RunbookConfidence]:
        """Runbooks tried on this signature, most trusted first (empty when none was)."""
        with self._session("reading runbook confidence") as session:
            rows = session.scalars(select(RunbookPosteriorRow).where(RunbookPosteriorRow.signature == signature))
            return _ranked(list(rows))

    # -- learning -------------------------------------------------------------------------------------------------
    def record_outcome(
        self, problem: ProblemSnapshot, runbook: str | None, target: str | None, outcome: Outcome, ts: float
    ) -> bool:
        """Learn from one outcome. Returns False when it was already recorded (same problem, runbook, outcome, ts)."""
        if outcome not in OUTCOMES:
            raise InvalidOutcome(f"outcome of problem {problem.id}: expected one of {list(OUTCOMES)}, got {outcome!r}")
        if outcome != "manual" and not runbook:
            raise InvalidOutcome(f"outcome {outcome!r} of problem {problem.id} needs the runbook that ran")
        signature = problem.signature or "unknown:unknown"
        for attempt in range(2):
            try:
                self._record(problem, signature, runbook, target, outcome, ts)
                break
            except IntegrityError as exc:
                if self._recorded(problem.id, runbook, outcome, ts):
                    logger.debug("outcome of %s by %s at %s already recorded", problem.id, runbook, ts)
                    return False
                if attempt:  # another writer created the article or posterior row at the same moment: retried once
                    raise StoreError(f"recording the outcome of problem {problem.id} failed: {exc}") from exc
            except SQLAlchemyError as exc:
                raise StoreError(f"recording the outcome of problem {problem.id} failed: {exc}") from exc
        logger.info(
            "knowledge: %s %s on %s", runbook or "a person", outcome, signature, extra={"ctx_problem": problem.id}
        )
        return True

    def _record(
        self, problem: ProblemSnapshot, signature: str, runbook: str | None, target: str | None, outcome: str, ts: float
    ) -> None:
        """One transaction: the outcome (its unique key refuses a repeat), the article and the posterior."""
        with self.store.session() as session:
            known = session.scalar(
                select(KnowledgeOutcomeRow.id).where(KnowledgeOutcomeRow.problem_id == problem.id).limit(1)
            )
            session.add(
                KnowledgeOutcomeRow(
                    signature=signature,
                    problem_id=problem.id,
                    runbook=runbook or "",
                    target=target,
                    outcome=outcome,
                    ts=ts,
                )
            )
            session.flush()
            self._update_article(session, problem, signature, outcome, ts, new_problem=known is None)
            if runbook:
                self._update_runbook(session, signature, runbook, target, outcome, ts)

    def _recorded(self, problem_id: str, runbook: str | None, outcome: str, ts: float) -> bool:
        with self._session("reading knowledge outcomes") as session:
            found = session.scalar(
                select(KnowledgeOutcomeRow.id).where(
                    KnowledgeOutcomeRow.problem_id == problem_id,
                    KnowledgeOutcomeRow.runbook == (runbook or ""),
                    KnowledgeOutcomeRow.outcome == outcome,
                    KnowledgeOutcomeRow.ts == ts,
                )
            )
            return found is not None

    def observe(self, event: ProblemEvent) -> bool:
        """Learn from a problem event if it carries an outcome (the policy's "action" events and a person's
        resolution); other events are ignored. Idempotent, so replaying the event log is safe."""
        details = event.details
        if event.kind == "action" and details.get("status") in ("verified", "rolled_back", "failed"):
            outcome: Outcome = details["status"]  # type: ignore[assignment]
            runbook, target = details.get("runbook"), details.get("target")
            return self.record_outcome(
                event.problem, str(runbook) if runbook else None, str(target) if target else None, outcome, event.ts
            )
        by = details.get("by")
        if event.kind == "resolved" and isinstance(by, str) and by.startswith("user:"):
            return self.record_outcome(event.problem, None, None, "manual", event.ts)
        return False

    def _update_article(
        self, session: Session, problem: ProblemSnapshot, signature: str, outcome: str, ts: float, new_problem: bool
    ) -> None:
        row = session.get(KnowledgeArticleRow, signature)
        if row is None:
            row = KnowledgeArticleRow(
                signature=signature, problems=0, manual_resolutions=0, created_at=ts, last_validated=None
            )
            session.add(row)
        row.symptom = signature.partition(":")[2] or (problem.symptoms[0] if problem.symptoms else "unknown")
        row.root_cause = problem.root_causes[0].entity if problem.root_causes else ""
        row.title = problem.title
        row.problems = (row.problems or 0) + (1 if new_problem else 0)
        row.manual_resolutions = (row.manual_resolutions or 0) + (1 if outcome == "manual" else 0)
        row.updated_at = max(ts, row.updated_at or ts)
        row.last_problem_id = problem.id
        if outcome in _SUCCESS:
            row.last_validated = max(ts, row.last_validated or ts)

    def _update_runbook(
        self, session: Session, signature: str, runbook: str, target: str | None, outcome: str, ts: float
    ) -> None:
        row = session.get(RunbookPosteriorRow, (signature, runbook))
        if row is None:
            row = RunbookPosteriorRow(signature=signature, runbook=runbook, successes=0, failures=0)
            session.add(row)
        if outcome in _SUCCESS:
            row.successes = (row.successes or 0) + 1
            row.last_validated = max(ts, row.last_validated or ts)
        else:
            row.failures = (row.failures or 0) + 1
        row.last_outcome = outcome
        row.last_target = target
        row.updated_at = ts

    # -- reading articles -----------------------------------------------------------------------------------------
    def articles(self) -> list[KnowledgeArticle]:
        """Every article, most recently updated first (without history)."""
        with self._session("listing knowledge articles") as session:
            rows = session.scalars(select(KnowledgeArticleRow).order_by(KnowledgeArticleRow.updated_at.desc())).all()
            posteriors: dict[str, list[RunbookPosteriorRow]] = {}
            for p in session.scalars(select(RunbookPosteriorRow)):
                posteriors.setdefault(p.signature, []).append(p)
            return [_article(row, _ranked(posteriors.get(row.signature, [])), []) for row in rows]

    def article(self, signature: str, history: int = 50) -> KnowledgeArticle:
        with self._session("reading a knowledge article") as session:
            row = session.get(KnowledgeArticleRow, signature)
            if row is None:
                raise UnknownArticle(signature)
            runbooks = session.scalars(select(RunbookPosteriorRow).where(RunbookPosteriorRow.signature == signature))
            outcomes = session.scalars(
                select(KnowledgeOutcomeRow)
                .where(KnowledgeOutcomeRow.signature == signature)
                .order_by(KnowledgeOutcomeRow.ts.desc(), KnowledgeOutcomeRow.id.desc())
                .limit(history)
            )
            records = [
                OutcomeRecord(
                    problem_id=o.problem_id,
                    runbook=o.runbook or None,
                    target=o.target,
                    outcome=o.outcome,  # type: ignore[arg-type]
                    ts=o.ts,
                )
                for o in outcomes
            ]
            return _article(row, _ranked(list(runbooks)), records)

    @contextmanager
    def _session(self, what: str) -> Iterator[Session]:
        """A store session whose database errors become a StoreError saying what was being done."""
        try:
            with self.store.session() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"{what} from {self.store.redacted_url} failed: {exc}") from exc


def _article(
    row: KnowledgeArticleRow, runbooks: list[RunbookConfidence], history: list[OutcomeRecord]
) -> KnowledgeArticle:
    return KnowledgeArticle(
        signature=row.signature,
        symptom=row.symptom,
        root_cause=row.root_cause,
        title=row.title,
        problems=row.problems,
        manual_resolutions=row.manual_resolutions,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_validated=row.last_validated,
        last_problem_id=row.last_problem_id,
        runbooks=runbooks,
        history=history,
    )
