"""problems.base_key: 512 characters (a workload name may have 253, its namespace 63, plus kind and symptom)

Revision ID: 0009
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":  # SQLite does not enforce VARCHAR lengths
        op.alter_column("problems", "base_key", type_=sa.String(512), existing_type=sa.String(300))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("problems", "base_key", type_=sa.String(300), existing_type=sa.String(512))
