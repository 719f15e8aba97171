"""The correlator's state in the store: unfinished problems are loaded on start, so a restart changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import NamedTuple, cast

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from daemon.correlation.model import Member, Problem
from daemon.domain import ProblemEvent, ProblemSnapshot, ProblemStatus, RootCauseCandidate, Severity
from daemon.errors import StoreError
from daemon.problems.tables import ProblemEventRow, ProblemMemberRow, ProblemRow
from daemon.store.db import Store

logger = logging.getLogger(__name__)


class AutomationDecision(NamedTuple):
    acted: bool  # an action was started (else: escalated only)
    confidence: float | None  # the confidence the action was started at


class SqlProblemRepository:
    """Implements daemon.correlation.ProblemRepository on the daemon's store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load_unfinished(self) -> list[Problem]:
        try:
            with self.store.session() as session:
                rows = session.scalars(
                    select(ProblemRow).where(ProblemRow.status != "closed", ProblemRow.merged_into.is_(None))
                ).all()
                members: dict[str, list[Member]] = {row.id: [] for row in rows}
                if rows:
                    for m in session.scalars(
                        select(ProblemMemberRow)
                        .where(ProblemMemberRow.problem_id.in_(list(members)))
                        .order_by(ProblemMemberRow.ts, ProblemMemberRow.anomaly_key)
                    ):
                        members[m.problem_id].append(Member.from_json(m.member))
                return [_problem(row, members[row.id]) for row in rows]
        except SQLAlchemyError as exc:
            raise StoreError(f"loading problems from {self.store.redacted_url} failed: {exc}") from exc

    def save(self, problems: list[Problem], events: list[ProblemEvent]) -> None:
        try:
            with self.store.session() as session:
                for problem in problems:
                    row = session.get(ProblemRow, problem.id) or ProblemRow(id=problem.id)
                    _fill(row, problem)
                    session.add(row)
                session.flush()
                for problem in problems:
                    known = set(
                        session.scalars(
                            select(ProblemMemberRow.anomaly_key).where(ProblemMemberRow.problem_id == problem.id)
                        )
                    )
                    for member in problem.members:
                        if member.key in known:
                            continue
                        existing = session.get(ProblemMemberRow, member.key)
                        if existing is not None:  # moved by a merge
                            existing.problem_id = problem.id
                        else:
                            session.add(
                                ProblemMemberRow(
                                    anomaly_key=member.key, problem_id=problem.id, ts=member.ts, member=member.to_json()
                                )
                            )
                for event in events:
                    session.add(
                        ProblemEventRow(
                            problem_id=event.problem.id,
                            ts=event.ts,
                            kind=event.kind,
                            message=event.message,
                            details=dict(event.details),
                        )
                    )
        except SQLAlchemyError as exc:
            raise StoreError(f"saving problems to {self.store.redacted_url} failed: {exc}") from exc

    def history(self, base_key: str) -> tuple[int, str | None]:
        with self.store.session() as session:
            count = session.scalar(select(func.count()).select_from(ProblemRow).where(ProblemRow.base_key == base_key))
            latest = session.scalar(
                select(ProblemRow.id)
                .where(ProblemRow.base_key == base_key)
                .order_by(ProblemRow.opened_at.desc(), ProblemRow.id.desc())
                .limit(1)
            )
        return int(count or 0), latest

    # -- hand-over between replicas -------------------------------------------------------------------------------
    def assigned(self, keys: Collection[str]) -> set[str]:
        """Which of these anomaly keys already belong to a problem (any problem, finished or not)."""
        found: set[str] = set()
        ordered = list(keys)
        with self.store.session() as session:
            for i in range(0, len(ordered), 500):
                chunk = ordered[i : i + 500]
                found.update(
                    session.scalars(select(ProblemMemberRow.anomaly_key).where(ProblemMemberRow.anomaly_key.in_(chunk)))
                )
        return found

    def decisions(self, problem_ids: Collection[str]) -> dict[str, AutomationDecision]:
        """What automation decided on each problem since it last (re)opened: an action started (with the confidence
        it was started at), or only escalations; problems not decided on yet are absent."""
        if not problem_ids:
            return {}
        out: dict[str, AutomationDecision] = {}
        with self.store.session() as session:
            rows = session.execute(
                select(ProblemEventRow.problem_id, ProblemEventRow.kind, ProblemEventRow.details)
                .where(
                    ProblemEventRow.problem_id.in_(list(problem_ids)),
                    ProblemEventRow.kind.in_(["opened", "reopened", "mitigating", "escalated"]),
                )
                .order_by(ProblemEventRow.ts, ProblemEventRow.id)
            ).all()
        for problem_id, kind, details in rows:
            if kind in ("opened", "reopened"):
                out.pop(problem_id, None)
            elif kind == "mitigating":
                confidence = (details or {}).get("confidence")
                out[problem_id] = AutomationDecision(True, float(confidence) if confidence is not None else None)
            elif problem_id not in out:
                out[problem_id] = AutomationDecision(False, None)
        return out

    # -- for people (CLI, API) ------------------------------------------------------------------------------------
    def list_snapshots(self, status: str | None = None, limit: int = 100) -> list[ProblemSnapshot]:
        query = select(ProblemRow).where(ProblemRow.merged_into.is_(None))
        if status:
            query = query.where(ProblemRow.status == status)
        with self.store.session() as session:
            rows = session.scalars(query.order_by(ProblemRow.opened_at.desc()).limit(limit)).all()
            return [ProblemSnapshot.model_validate(row.snapshot) for row in rows]

    def find(self, problem_id_or_fingerprint: str) -> ProblemSnapshot | None:
        with self.store.session() as session:
            row = session.get(ProblemRow, problem_id_or_fingerprint) or session.scalar(
                select(ProblemRow).where(ProblemRow.fingerprint == problem_id_or_fingerprint)
            )
            return ProblemSnapshot.model_validate(row.snapshot) if row else None

    def timeline(self, problem_id: str) -> list[ProblemEventRow]:
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(ProblemEventRow)
                    .where(ProblemEventRow.problem_id == problem_id)
                    .order_by(ProblemEventRow.ts, ProblemEventRow.id)
                )
            )

    def members(self, problem_id: str) -> list[Member]:
        with self.store.session() as session:
            rows = session.scalars(
                select(ProblemMemberRow).where(ProblemMemberRow.problem_id == problem_id).order_by(ProblemMemberRow.ts)
            )
            return [Member.from_json(r.member) for r in rows]

    def acknowledged_by(self, problem_id: str) -> str | None:
        with self.store.session() as session:
            row = session.get(ProblemRow, problem_id)
            return row.acknowledged_by if row else None


def _fill(row: ProblemRow, problem: Problem) -> None:
    snapshot = problem.snapshot()
    row.fingerprint = problem.fingerprint
    row.base_key = problem.base_key
    row.status = problem.status
    row.severity = problem.severity
    row.title = problem.title
    row.opened_at = problem.opened_at
    row.updated_at = problem.updated_at
    row.resolved_at = problem.resolved_at
    row.closed_at = problem.closed_at
    row.reopen_count = problem.reopen_count
    row.linked_to = problem.linked_to
    row.merged_into = problem.merged_into
    row.acknowledged_by = problem.acknowledged_by
    row.candidates = [c.model_dump(mode="json") for c in problem.candidates]
    row.snapshot = snapshot.model_dump(mode="json")


def _problem(row: ProblemRow, members: list[Member]) -> Problem:
    return Problem(
        id=row.id,
        fingerprint=row.fingerprint,
        base_key=row.base_key,
        status=cast(ProblemStatus, row.status),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        severity=cast(Severity, row.severity),
        title=row.title,
        resolved_at=row.resolved_at,
        closed_at=row.closed_at,
        reopen_count=row.reopen_count,
        linked_to=row.linked_to,
        merged_into=row.merged_into,
        acknowledged_by=row.acknowledged_by,
        members=members,
        candidates=[RootCauseCandidate.model_validate(c) for c in row.candidates],
    )
