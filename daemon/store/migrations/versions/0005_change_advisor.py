"""change advisor: change requests, outcomes, model state

Revision ID: 0005
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("window_end", sa.Float, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("probability", sa.Float),
        sa.Column("tier", sa.String(16)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_change_requests_window_start", "change_requests", ["window_start"])
    op.create_table(
        "change_outcomes",
        sa.Column("change_id", sa.String(64), sa.ForeignKey("change_requests.id"), primary_key=True),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("incident", sa.String(128)),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_table(
        "change_model_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("trained_at", sa.Float, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("change_model_state")
    op.drop_table("change_outcomes")
    op.drop_index("ix_change_requests_window_start", "change_requests")
    op.drop_table("change_requests")
