"""The durable outbox: external calls are written to the store in the caller's transaction and made later.

Calls of one (channel, fingerprint) run strictly in order: only the oldest pending call of each is ever due, so a
failing call holds back the ones behind it instead of letting them overtake. Failures back off exponentially.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from daemon.store import Store
from daemon.tickets.models import OutboxRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial``, doubled per failure, capped at ``maximum`` (seconds)."""

    initial: float = 5.0
    maximum: float = 600.0

    def delay(self, attempts: int) -> float:
        return float(min(self.initial * 2 ** max(attempts - 1, 0), self.maximum))


class Outbox:
    def __init__(self, store: Store, clock: Callable[[], float], backoff: Backoff) -> None:
        self._store = store
        self._clock = clock
        self._backoff = backoff

    @staticmethod
    def exists(session: Session, op_key: str) -> bool:
        return session.scalar(select(OutboxRow.id).where(OutboxRow.op_key == op_key)) is not None

    def enqueue(
        self,
        session: Session,
        channel: str,
        fingerprint: str,
        kind: str,
        payload: dict[str, Any],
        op_key: str,
        state: str = "pending",
    ) -> bool:
        """Add a call unless one with this key is already there (a re-delivered event); True if added.

        ``state="done"`` records a key only (that an event was handled) without anything to call."""
        if self.exists(session, op_key):
            return False
        now = self._clock()
        session.add(
            OutboxRow(
                channel=channel,
                fingerprint=fingerprint,
                kind=kind,
                payload=payload,
                op_key=op_key,
                state=state,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                done_at=now if state == "done" else None,
            )
        )
        session.flush()
        return True

    def due(self, channel: str) -> list[OutboxRow]:
        """The oldest pending call of each fingerprint of the channel, if its time has come; oldest first."""
        now = self._clock()
        with self._store.session() as session:
            heads = (
                select(func.min(OutboxRow.id))
                .where(OutboxRow.channel == channel, OutboxRow.state == "pending")
                .group_by(OutboxRow.fingerprint)
            )
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.id.in_(heads), OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.id)
            )
            return list(rows)

    def pending(self, channel: str | None = None) -> int:
        with self._store.session() as session:
            query = select(func.count(OutboxRow.id)).where(OutboxRow.state == "pending")
            if channel is not None:
                query = query.where(OutboxRow.channel == channel)
            return int(session.scalar(query) or 0)

    def mark_done(self, row_id: int) -> None:
        with self._store.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.state, row.done_at, row.last_error = "done", self._clock(), None

    def begin_attempt(self, row_id: int) -> None:
        """Count the attempt before the call is made: if the process dies during or right after the call, the next
        run sees ``attempts > 0`` and checks whether the call took effect instead of repeating it blindly."""
        with self._store.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.attempts += 1

    def mark_retry(self, row_id: int, error: str, give_up_after: int | None = None) -> bool:
        """Record a failed attempt (counted by `begin_attempt`) and schedule the next; give up (state failed) after
        ``give_up_after`` attempts. Returns True if it will be retried."""
        with self._store.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is None:
                return False
            row.last_error = error[:2000]
            if give_up_after is not None and row.attempts >= give_up_after:
                row.state = "failed"
                logger.error("giving up on %s %s after %d attempts: %s", row.channel, row.kind, row.attempts, error)
                return False
            row.next_attempt_at = self._clock() + self._backoff.delay(row.attempts)
            return True

    def defer(self, row_id: int, until: float) -> None:
        """Not a failure: the call waits for something else first (e.g. a rate limit)."""
        with self._store.session() as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.next_attempt_at = until

    def prune(self, before: float) -> int:
        """Forget finished calls older than ``before`` (and their event keys: events that old are not re-delivered).
        Calls still pending or failed stay for people to see."""
        with self._store.session() as session:
            result = session.execute(delete(OutboxRow).where(OutboxRow.state == "done", OutboxRow.done_at < before))
            return int(getattr(result, "rowcount", 0) or 0)
