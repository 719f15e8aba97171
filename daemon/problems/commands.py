"""Acknowledge and resolve, as requests in the store: the CLI and the API write them, the correlating daemon (the
leader) applies them at its next tick through its own correlator, so the problem in memory, its ticket, the knowledge
base and the KPIs all see a person's decision. Writing the problem row directly would be overwritten by the running
daemon's next save and would never reach the ticket."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from sqlalchemy import select

from daemon.correlation import ProblemCorrelator
from daemon.correlation.errors import CorrelationError
from daemon.domain import Frozen, ProblemEvent
from daemon.problems.tables import ProblemCommandRow
from daemon.store.db import Store

Action = Literal["ack", "resolve"]


class CommandStatus(Frozen):
    id: int
    problem_id: str
    action: str
    by: str
    reason: str
    requested_at: float
    state: Literal["queued", "applied", "rejected"]
    result: str | None


def _status(row: ProblemCommandRow) -> CommandStatus:
    state = "queued" if row.applied_at is None else ("applied" if row.ok else "rejected")
    return CommandStatus(
        id=row.id, problem_id=row.problem_id, action=row.action, by=row.by, reason=row.reason,
        requested_at=row.requested_at, state=state, result=row.result,
    )  # fmt: skip


def request(store: Store, problem_id: str, action: Action, by: str, reason: str = "") -> CommandStatus:
    if not by.strip():
        raise ValueError("'by' must name who acts")
    with store.session() as session:
        row = ProblemCommandRow(
            problem_id=problem_id, action=action, by=by.strip(), reason=reason, requested_at=time.time()
        )
        session.add(row)
        session.flush()
        return _status(row)


def status(store: Store, command_id: int) -> CommandStatus | None:
    with store.session() as session:
        row = session.get(ProblemCommandRow, command_id)
        return _status(row) if row is not None else None


def wait_for(
    store: Store, command_id: int, timeout: float, sleep: Callable[[float], None] = time.sleep
) -> CommandStatus:
    """Poll until the daemon applied or rejected the command, or ``timeout`` seconds passed (still queued)."""
    deadline = time.monotonic() + timeout
    while True:
        current = status(store, command_id)
        assert current is not None
        if current.state != "queued" or time.monotonic() >= deadline:
            return current
        sleep(min(0.5, max(0.0, deadline - time.monotonic())))


def apply_pending(store: Store, correlator: ProblemCorrelator, now: float) -> list[ProblemEvent]:
    """Apply every queued command in order through ``correlator``; each gets its outcome recorded."""
    with store.session() as session:
        queued = [
            _status(row)
            for row in session.scalars(
                select(ProblemCommandRow).where(ProblemCommandRow.applied_at.is_(None)).order_by(ProblemCommandRow.id)
            )
        ]
    events: list[ProblemEvent] = []
    for command in queued:
        try:
            if command.action == "ack":
                event = correlator.acknowledge(command.problem_id, now, command.by)
            else:
                event = correlator.resolve(command.problem_id, now, command.by, command.reason)
        except CorrelationError as exc:
            ok, result = False, str(exc)
        else:
            events.append(event)
            ok, result = True, event.message
        with store.session() as session:
            row = session.get(ProblemCommandRow, command.id)
            if row is not None:
                row.ok, row.result, row.applied_at = ok, result, now
    return events
