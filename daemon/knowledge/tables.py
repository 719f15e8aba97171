"""Store tables of knowledge: one article per problem signature, one posterior per signature × runbook, and the
outcomes they were learnt from (unique per problem, runbook, outcome and time, so replaying an event counts once)."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daemon.store.db import Base


class KnowledgeArticleRow(Base):
    __tablename__ = "knowledge_articles"

    signature: Mapped[str] = mapped_column(String(200), primary_key=True)
    symptom: Mapped[str] = mapped_column(String(128))
    root_cause: Mapped[str] = mapped_column(String(300))  # entity key of the latest problem's top candidate
    title: Mapped[str] = mapped_column(Text)
    problems: Mapped[int] = mapped_column(Integer, default=0)  # distinct problems it learnt from
    manual_resolutions: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    last_validated: Mapped[float | None] = mapped_column(Float, nullable=True)  # latest verified fix
    last_problem_id: Mapped[str] = mapped_column(String(32))


class RunbookPosteriorRow(Base):
    __tablename__ = "knowledge_runbooks"

    signature: Mapped[str] = mapped_column(String(200), primary_key=True)
    runbook: Mapped[str] = mapped_column(String(64), primary_key=True)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_outcome: Mapped[str] = mapped_column(String(16))
    last_target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_validated: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class KnowledgeOutcomeRow(Base):
    __tablename__ = "knowledge_outcomes"
    __table_args__ = (
        UniqueConstraint("problem_id", "runbook", "outcome", "ts", name="uq_knowledge_outcome"),
        Index("ix_knowledge_outcomes_signature", "signature", "ts"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    signature: Mapped[str] = mapped_column(String(200))
    problem_id: Mapped[str] = mapped_column(String(32))
    runbook: Mapped[str] = mapped_column(String(64), default="")  # "" when a person fixed it without a runbook
    target: Mapped[str | None] = mapped_column(String(300), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    ts: Mapped[float] = mapped_column(Float)
