"""Tables of the foundation: anomalies, per-query detector state and cursor, and the run log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daemon.store.db import Base


class AnomalyRow(Base):
    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("source", "query", "series_key", "ts", "kind", name="uq_anomaly_point"),
        Index("ix_anomalies_ts", "ts"),
        Index("ix_anomalies_detected_at", "detected_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(String(64))
    series_key: Mapped[str] = mapped_column(String(64))
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    entities: Mapped[dict[str, str]] = mapped_column(JSON)
    ts: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float, nullable=True)
    lower: Mapped[float | None] = mapped_column(Float, nullable=True)
    upper: Mapped[float | None] = mapped_column(Float, nullable=True)
    direction: Mapped[int] = mapped_column(Integer)
    detector: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # point | forecast | alert
    symptom: Mapped[str | None] = mapped_column(String(64), nullable=True)
    time_to_exhaustion: Mapped[float | None] = mapped_column(Float, nullable=True)
    detected_at: Mapped[float] = mapped_column(Float)


class QueryStateRow(Base):
    """Where a query's pipeline stands: the last point processed, its series and the detector state."""

    __tablename__ = "query_state"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(String(64), primary_key=True)
    detector: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    state_ts: Mapped[float] = mapped_column(Float)  # the detector state below includes points up to here
    processed_ts: Mapped[float] = mapped_column(Float)  # anomalies are recorded up to here (never re-alerted)
    series: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[float] = mapped_column(Float)


class RunLogRow(Base):
    __tablename__ = "run_log"
    __table_args__ = (Index("ix_run_log_started", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # tick | backfill | replay
    instance: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float] = mapped_column(Float)
    series: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    anomalies: Mapped[int] = mapped_column(Integer)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
