"""foundation: anomalies, query state, run log

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "anomalies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("query", sa.String(64), nullable=False),
        sa.Column("series_key", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("entities", sa.JSON, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("expected", sa.Float),
        sa.Column("lower", sa.Float),
        sa.Column("upper", sa.Float),
        sa.Column("direction", sa.Integer, nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("symptom", sa.String(64)),
        sa.Column("time_to_exhaustion", sa.Float),
        sa.Column("detected_at", sa.Float, nullable=False),
        sa.UniqueConstraint("source", "query", "series_key", "ts", "kind", name="uq_anomaly_point"),
    )
    op.create_index("ix_anomalies_ts", "anomalies", ["ts"])
    op.create_table(
        "query_state",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("query", sa.String(64), primary_key=True),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("state_ts", sa.Float, nullable=False),
        sa.Column("processed_ts", sa.Float, nullable=False),
        sa.Column("series", sa.JSON, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "run_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("series", sa.Integer, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("anomalies", sa.Integer, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_run_log_started", "run_log", ["started_at"])


def downgrade() -> None:
    op.drop_table("run_log")
    op.drop_table("query_state")
    op.drop_index("ix_anomalies_ts", "anomalies")
    op.drop_table("anomalies")
