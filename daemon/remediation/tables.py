"""Tables of remediation: the action journal (one row per action) and the append-only audit chain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from daemon.store.db import Base


class ActionRow(Base):
    __tablename__ = "remediation_actions"
    __table_args__ = (
        Index("ix_remediation_actions_status", "status"),
        Index("ix_remediation_actions_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    runbook: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditRow(Base):
    """One link of the chain: ``hash = sha256(prev_hash, seq, payload)``; rows are never updated or deleted."""

    __tablename__ = "remediation_audit"
    __table_args__ = (Index("ix_remediation_audit_action", "action_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32))
    action_id: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
