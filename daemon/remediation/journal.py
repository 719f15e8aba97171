"""``ActionJournal`` and ``AuditLog`` of the remediations library, kept in the daemon's store.

The journal row of an action is written before its API call; the idempotency key is unique, so two replicas (or a
retry after a crash) can never journal the same action twice. The audit log is a hash chain: each row's hash covers
the previous hash, its sequence number and its canonical JSON, so an edited, removed or reordered row breaks the
chain at that point (``verify()``); the database also refuses UPDATE and DELETE on it (triggers, migration 0004).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from daemon.errors import StoreError
from daemon.remediation.tables import ActionRow, AuditRow
from daemon.store.db import Store
from remediations.journal import GENESIS, ChainLink, ChainReport, chain_hash, entry_payload, verify_chain
from remediations.model import ActionRecord, ActionStatus, AuditEntry

logger = logging.getLogger(__name__)
_UNFINISHED = [ActionStatus.planned.value, ActionStatus.running.value, ActionStatus.verifying.value]


def _row_values(record: ActionRecord) -> dict[str, Any]:
    return {
        "runbook": record.runbook,
        "target": record.target.key,
        "actor": record.actor,
        "status": record.status.value,
        "step": record.step.value,
        "dry_run": record.dry_run,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "record": record.model_dump(mode="json"),
    }


class StoreActionJournal:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, record: ActionRecord) -> ActionRecord:
        try:
            with self.store.session() as session:
                session.add(ActionRow(id=record.id, idempotency_key=record.idempotency_key, **_row_values(record)))
            return record
        except IntegrityError:
            existing = self.by_key(record.idempotency_key)
            if existing is None:
                raise StoreError(f"journaling action {record.id} failed: duplicate id") from None
            logger.info("action key %s already journaled as %s", record.idempotency_key, existing.id)
            return existing
        except SQLAlchemyError as exc:
            raise StoreError(f"journaling action {record.id} failed: {exc}") from exc

    def update(self, record: ActionRecord) -> None:
        try:
            with self.store.session() as session:
                row = session.get(ActionRow, record.id)
                if row is None:
                    session.add(ActionRow(id=record.id, idempotency_key=record.idempotency_key, **_row_values(record)))
                    return
                for key, value in _row_values(record).items():
                    setattr(row, key, value)
        except SQLAlchemyError as exc:
            raise StoreError(f"updating action {record.id} failed: {exc}") from exc

    def _select(self, *where: Any) -> list[ActionRecord]:
        try:
            with self.store.session() as session:
                rows = session.scalars(select(ActionRow).where(*where).order_by(ActionRow.created_at)).all()
                return [ActionRecord.model_validate(row.record) for row in rows]
        except SQLAlchemyError as exc:
            raise StoreError(f"reading the action journal failed: {exc}") from exc

    def by_key(self, idempotency_key: str) -> ActionRecord | None:
        found = self._select(ActionRow.idempotency_key == idempotency_key)
        return found[0] if found else None

    def get(self, action_id: str) -> ActionRecord | None:
        found = self._select(ActionRow.id == action_id)
        return found[0] if found else None

    def unfinished(self) -> list[ActionRecord]:
        return self._select(ActionRow.status.in_(_UNFINISHED))

    def since(self, ts: float) -> list[ActionRecord]:
        return self._select(ActionRow.created_at >= ts)

    def latest(self, limit: int = 50) -> list[ActionRecord]:
        try:
            with self.store.session() as session:
                rows = session.scalars(select(ActionRow).order_by(ActionRow.created_at.desc()).limit(limit)).all()
                return [ActionRecord.model_validate(row.record) for row in rows]
        except SQLAlchemyError as exc:
            raise StoreError(f"reading the action journal failed: {exc}") from exc


class StoreAuditLog:
    def __init__(self, store: Store, attempts: int = 5) -> None:
        self.store = store
        self.attempts = attempts

    def append(self, entry: AuditEntry) -> None:
        payload = entry_payload(entry)
        for _attempt in range(self.attempts):
            try:
                with self.store.session() as session:
                    last = session.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
                    previous, seq = (last.hash, last.seq + 1) if last is not None else (GENESIS, 1)
                    session.add(
                        AuditRow(
                            seq=seq,
                            ts=entry.ts,
                            actor=entry.actor,
                            event=entry.event,
                            action_id=entry.action_id,
                            payload=payload,
                            prev_hash=previous,
                            hash=chain_hash(previous, seq, payload),
                        )
                    )
                return
            except IntegrityError:
                # another writer took this sequence number first: read the new end of the chain and try again
                continue
            except SQLAlchemyError as exc:
                raise StoreError(f"appending to the audit log failed: {exc}") from exc
        raise StoreError(f"appending to the audit log failed: the chain end kept moving ({self.attempts} attempts)")

    def links(self) -> list[ChainLink]:
        try:
            with self.store.session() as session:
                rows = session.scalars(select(AuditRow).order_by(AuditRow.seq)).all()
                return [ChainLink(r.seq, r.payload, r.prev_hash, r.hash) for r in rows]
        except SQLAlchemyError as exc:
            raise StoreError(f"reading the audit log failed: {exc}") from exc

    def entries(self, action_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        out = []
        for link in self.links():
            data = json.loads(link.payload)
            if action_id is None or data.get("action_id") == action_id:
                out.append({"seq": link.seq, **data})
        return out[-limit:] if limit else out

    def verify(self) -> ChainReport:
        return verify_chain(self.links())
