"""anomalies: index on detected_at (the leader reads what other replicas recorded)

Revision ID: 0007
Revises: 0001
"""

from alembic import op

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_anomalies_detected_at", "anomalies", ["detected_at"])


def downgrade() -> None:
    op.drop_index("ix_anomalies_detected_at", table_name="anomalies")
