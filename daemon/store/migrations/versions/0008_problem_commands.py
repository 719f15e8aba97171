"""problem_commands: acknowledge/resolve requests from the CLI and the API, applied by the leader's next tick

Revision ID: 0008
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "problem_commands",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("problem_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("applied_at", sa.Float),
        sa.Column("ok", sa.Boolean),
        sa.Column("result", sa.Text),
    )
    op.create_index("ix_problem_commands_pending", "problem_commands", ["applied_at"])


def downgrade() -> None:
    op.drop_index("ix_problem_commands_pending", table_name="problem_commands")
    op.drop_table("problem_commands")
