"""tickets: problem → ticket links, the durable outbox, the built-in ticket store

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_links",
        sa.Column("system", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(128), primary_key=True),
        sa.Column("problem_id", sa.String(128), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("story", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "ticket_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("op_key", sa.String(255), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("done_at", sa.Float),
    )
    op.create_index("ix_ticket_outbox_due", "ticket_outbox", ["state", "channel", "fingerprint", "id"])
    op.create_table(
        "builtin_tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(128), nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(32)),
        sa.Column("queue", sa.String(64)),
        sa.Column("assignee", sa.String(128)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "builtin_ticket_comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("builtin_tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("op_key", sa.String(255), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_builtin_ticket_comments_ticket_id", "builtin_ticket_comments", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_builtin_ticket_comments_ticket_id", "builtin_ticket_comments")
    op.drop_table("builtin_ticket_comments")
    op.drop_table("builtin_tickets")
    op.drop_index("ix_ticket_outbox_due", "ticket_outbox")
    op.drop_table("ticket_outbox")
    op.drop_table("ticket_links")
