"""What the store says about each problem, reduced to the facts KPIs are made of (one pass over its events)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from daemon.errors import StoreError
from daemon.problems.tables import ProblemEventRow, ProblemMemberRow, ProblemRow
from daemon.store.db import Store

EXECUTED = frozenset({"verified", "rolled_back", "failed"})
_TOKEN = re.compile(r"[a-z][a-z0-9_]*(:[A-Za-z0-9_.-]+)?")
_CHUNK = 500  # ids per IN (...) clause: well under every database's parameter limit


@dataclass
class ProblemFacts:
    id: str
    signature: str
    opened_at: float
    resolved_at: float | None
    first_anomaly_ts: float | None = None
    escalated: bool = False
    acknowledged: bool = False
    resolved_by_person: bool = False
    person_acted: bool = False
    verified_by_daemon: bool = False
    daemon_actions: int = 0
    escalation_reasons: list[str] = field(default_factory=list)
    action_confidences: list[float] = field(default_factory=list)
    escalation_confidences: list[float] = field(default_factory=list)

    @property
    def category(self) -> str:
        return self.signature.partition(":")[2] or self.signature or "unknown"

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def human(self) -> bool:
        return self.escalated or self.acknowledged or self.resolved_by_person or self.person_acted

    @property
    def manual(self) -> bool:
        return self.resolved_by_person or self.person_acted

    @property
    def auto_resolved(self) -> bool:
        return self.resolved and not self.human and self.verified_by_daemon


def _is_daemon(actor: Any) -> bool:
    return isinstance(actor, str) and actor.startswith("daemon:")


def _confidence(details: dict[str, Any]) -> float | None:
    value = details.get("confidence")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return None


def escalation_reason(details: dict[str, Any], message: str) -> str:
    """The policy puts the reason in details; ``ProblemCorrelator.escalate(id, now, reason)`` in the message. A
    message that is not a single token (free text) is not used, to keep the label set of the gauge small."""
    reason = details.get("reason")
    if isinstance(reason, str) and reason:
        return reason
    return message if _TOKEN.fullmatch(message or "") else "unspecified"


def apply_event(facts: ProblemFacts, kind: str, details: dict[str, Any], message: str) -> None:
    if kind == "escalated":
        facts.escalated = True
        facts.escalation_reasons.append(escalation_reason(details, message))
        confidence = _confidence(details)
        if confidence is not None:
            facts.escalation_confidences.append(confidence)
    elif kind == "updated" and details.get("acknowledged_by"):
        facts.acknowledged = True
    elif kind == "resolved" and details.get("by") and not _is_daemon(details.get("by")):
        facts.resolved_by_person = True
    elif kind == "action":
        actor, status = details.get("actor"), details.get("status")
        if actor is not None and not _is_daemon(actor):
            facts.person_acted = True
            return
        if status in EXECUTED:
            facts.daemon_actions += 1
            facts.verified_by_daemon |= status == "verified"
            confidence = _confidence(details)
            if confidence is not None:
                facts.action_confidences.append(confidence)


def _chunks(ids: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def load_facts(store: Store, since: float, until: float) -> list[ProblemFacts]:
    """Problems opened in [since, until), not merged away, with their events and first anomaly."""
    try:
        with store.session() as session:
            rows = session.execute(
                select(ProblemRow.id, ProblemRow.snapshot, ProblemRow.opened_at, ProblemRow.resolved_at)
                .where(ProblemRow.opened_at >= since, ProblemRow.opened_at < until, ProblemRow.merged_into.is_(None))
                .order_by(ProblemRow.opened_at, ProblemRow.id)
            ).all()
            facts = {
                pid: ProblemFacts(pid, str(snapshot.get("signature") or ""), opened, resolved)
                for pid, snapshot, opened, resolved in rows
            }
            ids = list(facts)
            for chunk in _chunks(ids):
                first = session.execute(
                    select(ProblemMemberRow.problem_id, func.min(ProblemMemberRow.ts))
                    .where(ProblemMemberRow.problem_id.in_(chunk))
                    .group_by(ProblemMemberRow.problem_id)
                )
                for pid, ts in first:
                    facts[pid].first_anomaly_ts = ts
                events = session.execute(
                    select(
                        ProblemEventRow.problem_id,
                        ProblemEventRow.kind,
                        ProblemEventRow.details,
                        ProblemEventRow.message,
                    )
                    .where(ProblemEventRow.problem_id.in_(chunk))
                    .order_by(ProblemEventRow.ts, ProblemEventRow.id)
                )
                for pid, kind, details, message in events:
                    apply_event(facts[pid], kind, details or {}, message)
            return list(facts.values())
    except SQLAlchemyError as exc:
        raise StoreError(f"reading problems for KPIs from {store.redacted_url} failed: {exc}") from exc
