"""knowledge: articles per signature, runbook posteriors, outcomes

Revision ID: 0006
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_articles",
        sa.Column("signature", sa.String(200), primary_key=True),
        sa.Column("symptom", sa.String(128), nullable=False),
        sa.Column("root_cause", sa.String(300), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("problems", sa.Integer, nullable=False),
        sa.Column("manual_resolutions", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("last_validated", sa.Float),
        sa.Column("last_problem_id", sa.String(32), nullable=False),
    )
    op.create_table(
        "knowledge_runbooks",
        sa.Column("signature", sa.String(200), primary_key=True),
        sa.Column("runbook", sa.String(64), primary_key=True),
        sa.Column("successes", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_outcome", sa.String(16), nullable=False),
        sa.Column("last_target", sa.String(300)),
        sa.Column("last_validated", sa.Float),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "knowledge_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("signature", sa.String(200), nullable=False),
        sa.Column("problem_id", sa.String(32), nullable=False),
        sa.Column("runbook", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.UniqueConstraint("problem_id", "runbook", "outcome", "ts", name="uq_knowledge_outcome"),
    )
    op.create_index("ix_knowledge_outcomes_signature", "knowledge_outcomes", ["signature", "ts"])


def downgrade() -> None:
    op.drop_index("ix_knowledge_outcomes_signature", "knowledge_outcomes")
    op.drop_table("knowledge_outcomes")
    op.drop_table("knowledge_runbooks")
    op.drop_table("knowledge_articles")
