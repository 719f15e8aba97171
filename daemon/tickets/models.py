"""Tables of ticketing: the problem → ticket mapping, the durable outbox, and the built-in ticket store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from daemon.store.db import Base


class TicketLinkRow(Base):
    """One problem's ticket in one system: the fingerprint → external id mapping, and what the manager intends."""

    __tablename__ = "ticket_links"

    system: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), primary_key=True)
    problem_id: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # watching (no ticket yet) | open | resolved: as asked for
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # None until created and seen
    url: Mapped[str] = mapped_column(Text, default="")
    seq: Mapped[int] = mapped_column(Integer, default=0)  # numbers this problem's operations
    story: Mapped[list[str]] = mapped_column(JSON, default=list)  # events seen before the ticket opened
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class OutboxRow(Base):
    """An external call to make: kept until done, retried with backoff, in order per (channel, fingerprint)."""

    __tablename__ = "ticket_outbox"
    __table_args__ = (Index("ix_ticket_outbox_due", "state", "channel", "fingerprint", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))  # ticket system name, or notify:<channel>
    fingerprint: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # create | comment | status | escalate | notify
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    op_key: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class BuiltinTicketRow(Base):
    """Tickets of the built-in system (the embedded default when no external system is configured)."""

    __tablename__ = "builtin_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(32), nullable=True)
    queue: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class BuiltinCommentRow(Base):
    __tablename__ = "builtin_ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("builtin_tickets.id", ondelete="CASCADE"), index=True)
    op_key: Mapped[str] = mapped_column(String(255), unique=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
