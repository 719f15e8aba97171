"""Store tables of problems: the problem, its anomalies (members) and its timeline of events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from daemon.store.db import Base


class ProblemRow(Base):
    __tablename__ = "problems"
    __table_args__ = (Index("ix_problems_status", "status"), Index("ix_problems_base_key", "base_key"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(32), unique=True)
    base_key: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    linked_to: Mapped[str | None] = mapped_column(String(32), nullable=True)
    merged_into: Mapped[str | None] = mapped_column(String(32), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProblemMemberRow(Base):
    __tablename__ = "problem_members"
    __table_args__ = (Index("ix_problem_members_problem", "problem_id"),)

    anomaly_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    problem_id: Mapped[str] = mapped_column(String(32), ForeignKey("problems.id"))
    ts: Mapped[float] = mapped_column(Float)
    member: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProblemEventRow(Base):
    __tablename__ = "problem_events"
    __table_args__ = (Index("ix_problem_events_problem", "problem_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    problem_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProblemCommandRow(Base):
    """A person's request on a problem (acknowledge, resolve) from the CLI or the API, applied by the daemon that
    correlates (the leader) at its next tick, so its in-memory problems and the tickets follow."""

    __tablename__ = "problem_commands"
    __table_args__ = (Index("ix_problem_commands_pending", "applied_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    problem_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # ack | resolve
    by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[float] = mapped_column(Float)
    applied_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
