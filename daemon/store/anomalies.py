"""Reading and writing anomalies, pipeline checkpoints and the run log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daemon.domain import Anomaly
from daemon.pipeline import PipelineCheckpoint
from daemon.store.models import AnomalyRow, QueryStateRow, RunLogRow


# PostgreSQL enforces the VARCHAR widths that SQLite ignores: text longer than its column (a long alert name used as
# the symptom, a symptom from the settings, a long instance name) is shortened to the width, the same on both,
# instead of failing the tick
def _widths(table: Any) -> dict[str, int]:
    return {c.name: int(c.type.length) for c in table.columns if isinstance(c.type, String) and c.type.length}


_ANOMALY_WIDTHS, _RUN_WIDTHS = _widths(AnomalyRow.__table__), _widths(RunLogRow.__table__)


def _fit(row: dict[str, Any], widths: dict[str, int]) -> dict[str, Any]:
    for name, width in widths.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > width:
            row[name] = value[:width]
    return row


def _insert(session: Session, model: Any = AnomalyRow) -> Any:
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(model)


def record_anomalies(session: Session, anomalies: Sequence[Anomaly], detected_at: float | None = None) -> int:
    """Insert anomalies; a point already recorded (same series, time and kind) is left alone. Returns new rows.
    ``detected_at`` (default: now) is when this replica found them, on the daemon's clock."""
    if not anomalies:
        return 0
    now = time.time() if detected_at is None else detected_at
    rows = [_fit(a.model_dump() | {"detected_at": now}, _ANOMALY_WIDTHS) for a in anomalies]
    stmt = _insert(session).on_conflict_do_nothing(index_elements=["source", "query", "series_key", "ts", "kind"])
    return len(session.execute(stmt.returning(AnomalyRow.id), rows).all())


def list_anomalies(
    session: Session,
    since: float | None = None,
    until: float | None = None,
    query: str | None = None,
    min_score: float = 0.0,
    limit: int = 200,
    detected_since: float | None = None,
    kinds: Sequence[str] | None = None,
) -> list[Anomaly]:
    """Newest first. ``detected_since`` filters on when a replica recorded it (not the data's timestamp)."""
    stmt = select(AnomalyRow).where(AnomalyRow.score >= min_score)
    if detected_since is not None:
        stmt = stmt.where(AnomalyRow.detected_at >= detected_since)
    if kinds is not None:
        stmt = stmt.where(AnomalyRow.kind.in_(list(kinds)))
    if since is not None:
        stmt = stmt.where(AnomalyRow.ts >= since)
    if until is not None:
        stmt = stmt.where(AnomalyRow.ts <= until)
    if query is not None:
        stmt = stmt.where(AnomalyRow.query == query)
    stmt = stmt.order_by(AnomalyRow.ts.desc(), AnomalyRow.id.desc()).limit(limit)
    fields = set(Anomaly.model_fields)
    return [
        Anomaly.model_validate({k: v for k, v in vars(row).items() if k in fields}) for row in session.scalars(stmt)
    ]


def prune_anomalies(session: Session, older_than: float) -> int:
    result = session.execute(delete(AnomalyRow).where(AnomalyRow.ts < older_than))
    return int(getattr(result, "rowcount", 0) or 0)


def load_checkpoint(session: Session, source: str, query: str) -> PipelineCheckpoint | None:
    row = session.get(QueryStateRow, (source, query))
    if row is None:
        return None
    return PipelineCheckpoint(row.detector, row.config_hash, row.state_ts, row.processed_ts, row.series, row.state)


def save_cursor(session: Session, source: str, query: str, processed_ts: float) -> None:
    """Advance only the alerting cursor (between full checkpoints)."""
    row = session.get(QueryStateRow, (source, query))
    if row is not None and processed_ts > row.processed_ts:
        row.processed_ts = processed_ts
        row.updated_at = time.time()


def save_checkpoint(session: Session, source: str, query: str, cp: PipelineCheckpoint) -> None:
    """Insert or replace the query's checkpoint in one statement: two replicas sharing the store may write the first
    checkpoint of a query at the same moment, and a get-then-insert would fail one tick (and its anomalies)."""
    values = {
        "detector": cp.detector,
        "config_hash": cp.config_hash,
        "state_ts": cp.state_ts,
        "processed_ts": cp.processed_ts,
        "series": cp.series,
        "state": cp.state,
        "updated_at": time.time(),
    }
    stmt = _insert(session, QueryStateRow).values(source=source, query=query, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["source", "query"], set_=values))
    loaded = session.identity_map.get(session.identity_key(QueryStateRow, (source, query)))
    if loaded is not None:  # the row this session read earlier is stale now
        session.expire(loaded)


def log_run(session: Session, **fields: Any) -> None:
    session.add(RunLogRow(**_fit(dict(fields), _RUN_WIDTHS)))


def recent_runs(session: Session, limit: int = 20) -> list[RunLogRow]:
    return list(session.scalars(select(RunLogRow).order_by(RunLogRow.id.desc()).limit(limit)))
