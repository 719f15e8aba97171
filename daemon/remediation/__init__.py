"""The daemon's side of remediation: the store-backed action journal and the hash-chained audit log."""

from daemon.remediation.journal import StoreActionJournal, StoreAuditLog

__all__ = ["StoreActionJournal", "StoreAuditLog"]
