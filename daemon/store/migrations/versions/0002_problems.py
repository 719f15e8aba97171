"""problems: problems, their member anomalies and their event timeline

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "problems",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(32), nullable=False, unique=True),
        sa.Column("base_key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("closed_at", sa.Float),
        sa.Column("reopen_count", sa.Integer, nullable=False),
        sa.Column("linked_to", sa.String(32)),
        sa.Column("merged_into", sa.String(32)),
        sa.Column("acknowledged_by", sa.String(128)),
        sa.Column("candidates", sa.JSON, nullable=False),
        sa.Column("snapshot", sa.JSON, nullable=False),
    )
    op.create_index("ix_problems_status", "problems", ["status"])
    op.create_index("ix_problems_base_key", "problems", ["base_key"])
    op.create_table(
        "problem_members",
        sa.Column("anomaly_key", sa.String(32), primary_key=True),
        sa.Column("problem_id", sa.String(32), sa.ForeignKey("problems.id"), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("member", sa.JSON, nullable=False),
    )
    op.create_index("ix_problem_members_problem", "problem_members", ["problem_id"])
    op.create_table(
        "problem_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("problem_id", sa.String(32), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_problem_events_problem", "problem_events", ["problem_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_problem_events_problem", "problem_events")
    op.drop_table("problem_events")
    op.drop_index("ix_problem_members_problem", "problem_members")
    op.drop_table("problem_members")
    op.drop_index("ix_problems_base_key", "problems")
    op.drop_index("ix_problems_status", "problems")
    op.drop_table("problems")
