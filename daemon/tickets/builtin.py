"""The built-in ticket system: tickets kept in aiopsd's own store (the embedded default)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from daemon.store import Store
from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus
from daemon.tickets.errors import TicketNotFound, TicketSystemUnavailable
from daemon.tickets.models import BuiltinCommentRow, BuiltinTicketRow

logger = logging.getLogger(__name__)


class BuiltinTicketSystem:
    """Tickets in the store; ``url`` is ``aiopsd://tickets/<id>`` (``aiopsd tickets show`` prints them)."""

    name = "builtin"

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @staticmethod
    def _external(row: BuiltinTicketRow) -> ExternalTicket:
        status: TicketStatus = "resolved" if row.status == "resolved" else "open"
        return ExternalTicket(external_id=str(row.id), url=f"aiopsd://tickets/{row.id}", status=status)

    def find(self, fingerprint: str) -> ExternalTicket | None:
        try:
            with self._store.session() as session:
                row = session.scalar(select(BuiltinTicketRow).where(BuiltinTicketRow.fingerprint == fingerprint))
                return self._external(row) if row is not None else None
        except SQLAlchemyError as exc:
            raise TicketSystemUnavailable(f"built-in tickets: store failed: {exc}") from exc

    def create(self, draft: TicketDraft) -> ExternalTicket:
        existing = self.find(draft.fingerprint)
        if existing is not None:
            return existing
        now = self._clock()
        try:
            with self._store.session() as session:
                row = BuiltinTicketRow(
                    fingerprint=draft.fingerprint,
                    title=draft.title,
                    body=draft.body,
                    severity=draft.severity,
                    status="open",
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                return self._external(row)
        except SQLAlchemyError as exc:
            raise TicketSystemUnavailable(f"built-in tickets: store failed: {exc}") from exc

    @staticmethod
    def _ticket(session: Session, external_id: str) -> BuiltinTicketRow:
        row = session.get(BuiltinTicketRow, int(external_id))
        if row is None:
            raise TicketNotFound(f"built-in ticket {external_id} does not exist")
        return row

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        if self.has_comment(external_id, op_key):
            return
        try:
            with self._store.session() as session:
                row = self._ticket(session, external_id)
                row.updated_at = self._clock()
                session.add(BuiltinCommentRow(ticket_id=row.id, op_key=op_key, body=body, created_at=self._clock()))
        except SQLAlchemyError as exc:
            raise TicketSystemUnavailable(f"built-in tickets: store failed: {exc}") from exc

    def has_comment(self, external_id: str, op_key: str) -> bool:
        with self._store.session() as session:
            return session.scalar(select(BuiltinCommentRow.id).where(BuiltinCommentRow.op_key == op_key)) is not None

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        with self._store.session() as session:
            row = self._ticket(session, external_id)
            row.status = status
            row.updated_at = self._clock()

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        with self._store.session() as session:
            row = self._ticket(session, external_id)
            row.priority = escalation.priority or row.priority
            row.queue = escalation.queue or row.queue
            row.assignee = escalation.assignee or row.assignee
            row.updated_at = self._clock()
