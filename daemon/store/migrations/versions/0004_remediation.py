"""remediation: action journal and append-only, hash-chained audit log

Revision ID: 0004
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remediation_actions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("runbook", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_remediation_actions_status", "remediation_actions", ["status"])
    op.create_index("ix_remediation_actions_created", "remediation_actions", ["created_at"])
    op.create_table(
        "remediation_audit",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("action_id", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_remediation_audit_action", "remediation_audit", ["action_id"])
    # the audit log is append-only: the database itself refuses to change or remove a row
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER remediation_audit_no_{verb.lower()} BEFORE {verb} ON remediation_audit "
                "BEGIN SELECT RAISE(ABORT, 'remediation_audit is append-only'); END"
            )
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION remediation_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'remediation_audit is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER remediation_audit_append_only BEFORE UPDATE OR DELETE ON remediation_audit "
            "FOR EACH ROW EXECUTE FUNCTION remediation_audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS remediation_audit_append_only ON remediation_audit")
        op.execute("DROP FUNCTION IF EXISTS remediation_audit_append_only()")
    op.drop_index("ix_remediation_audit_action", "remediation_audit")
    op.drop_table("remediation_audit")
    op.drop_index("ix_remediation_actions_created", "remediation_actions")
    op.drop_index("ix_remediation_actions_status", "remediation_actions")
    op.drop_table("remediation_actions")
