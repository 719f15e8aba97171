"""Store tables of the change advisor: change requests (scored or imported history), outcomes, model state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from change_advisor.request import Target
from daemon.store.db import Base


class ChangeRequestRow(Base):
    __tablename__ = "change_requests"
    __table_args__ = (Index("ix_change_requests_window_start", "window_start"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    author: Mapped[str] = mapped_column(String(200))
    targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # Target.model_dump() of each
    window_start: Mapped[float] = mapped_column(Float)
    window_end: Mapped[float] = mapped_column(Float)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    origin: Mapped[str] = mapped_column(String(16))  # request | history
    created_at: Mapped[float] = mapped_column(Float)


class ChangeOutcomeRow(Base):
    __tablename__ = "change_outcomes"

    change_id: Mapped[str] = mapped_column(String(64), ForeignKey("change_requests.id"), primary_key=True)
    result: Mapped[str] = mapped_column(String(16))  # success | failed | rolled-back
    incident: Mapped[str | None] = mapped_column(String(128), nullable=True)
    recorded_at: Mapped[float] = mapped_column(Float)


class ChangeModelRow(Base):
    __tablename__ = "change_model_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(Text)
    trained_at: Mapped[float] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)


def stored_targets(targets: list[dict[str, Any]]) -> list[Target]:
    return [Target.model_validate(t) for t in targets]


def target_keys(targets: list[dict[str, Any]]) -> set[str]:
    return {t.key for t in stored_targets(targets)}
