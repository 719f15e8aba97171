"""What the executor needs to remember: the action journal and the audit log (Protocols the daemon implements with
its store), in-memory versions for tests and one-shot use, and the hash chain that makes the audit log
tamper-evident."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from remediations.model import ActionRecord, AuditEntry

GENESIS = "0" * 64


class ActionJournal(Protocol):
    def record(self, record: ActionRecord) -> ActionRecord:
        """Insert a new record. If its idempotency key is already journaled, return that record unchanged."""
        ...

    def update(self, record: ActionRecord) -> None: ...

    def by_key(self, idempotency_key: str) -> ActionRecord | None: ...

    def unfinished(self) -> list[ActionRecord]:
        """Records not in a final status (planned, running, verifying), oldest first."""
        ...

    def since(self, ts: float) -> list[ActionRecord]:
        """Records created at or after ``ts``, oldest first."""
        ...


class AuditLog(Protocol):
    def append(self, entry: AuditEntry) -> None:
        """Add an entry at the end of the chain. Entries are never changed or removed."""
        ...


def entry_payload(entry: AuditEntry) -> str:
    """The canonical text of an entry that its hash covers."""
    return json.dumps(entry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def chain_hash(previous: str, seq: int, payload: str) -> str:
    return hashlib.sha256(f"{previous}\n{seq}\n{payload}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    seq: int
    payload: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify_chain(links: list[ChainLink]) -> ChainReport:
    """Walk the chain from the start; the first link whose hash or back-link does not match breaks it."""
    previous = GENESIS
    for index, link in enumerate(links):
        expected_seq = index + 1
        if link.seq != expected_seq:
            return ChainReport(False, len(links), link.seq, f"entry {link.seq}: expected sequence {expected_seq}")
        if link.prev_hash != previous:
            return ChainReport(False, len(links), link.seq, f"entry {link.seq}: back-link does not match entry before")
        if chain_hash(previous, link.seq, link.payload) != link.hash:
            return ChainReport(False, len(links), link.seq, f"entry {link.seq}: content does not match its hash")
        previous = link.hash
    return ChainReport(True, len(links))


class InMemoryJournal:
    """An ActionJournal in a dict: for tests and for one-shot CLI use without a store."""

    def __init__(self) -> None:
        self._records: dict[str, ActionRecord] = {}

    def record(self, record: ActionRecord) -> ActionRecord:
        existing = self.by_key(record.idempotency_key)
        if existing is not None:
            return existing
        self._records[record.id] = record
        return record

    def update(self, record: ActionRecord) -> None:
        self._records[record.id] = record

    def by_key(self, idempotency_key: str) -> ActionRecord | None:
        return next((r for r in self._records.values() if r.idempotency_key == idempotency_key), None)

    def unfinished(self) -> list[ActionRecord]:
        return sorted((r for r in self._records.values() if not r.status.finished), key=lambda r: r.created_at)

    def since(self, ts: float) -> list[ActionRecord]:
        return sorted((r for r in self._records.values() if r.created_at >= ts), key=lambda r: r.created_at)


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.links: list[ChainLink] = []

    def append(self, entry: AuditEntry) -> None:
        previous = self.links[-1].hash if self.links else GENESIS
        seq = len(self.links) + 1
        payload = entry_payload(entry)
        self.links.append(ChainLink(seq, payload, previous, chain_hash(previous, seq, payload)))

    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(link.payload) for link in self.links]
