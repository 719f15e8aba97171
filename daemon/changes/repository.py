"""Change requests, outcomes and the model state in the daemon's store; retraining from the store."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import select

from change_advisor.advisor import RiskReport
from change_advisor.context import Outcome
from change_advisor.features import FEATURE_NAMES
from change_advisor.model import ModelSettings, RiskModel
from change_advisor.request import ChangeRequest
from daemon.changes.models import ChangeModelRow, ChangeOutcomeRow, ChangeRequestRow
from daemon.errors import InputError
from daemon.store.db import Store

logger = logging.getLogger(__name__)
OUTCOMES: tuple[Outcome, ...] = ("success", "failed", "rolled-back")
MODEL_NAME = "default"


def _clean(features: dict[str, float | None]) -> dict[str, float | None]:
    return {
        k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)) for k, v in features.items()
    }


class ChangeRepository:
    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock

    def save_scored(self, request: ChangeRequest, report: RiskReport) -> None:
        """Remember a scored request (re-scoring the same id replaces it; an outcome already recorded stays)."""
        with self.store.session() as session:
            row = session.get(ChangeRequestRow, request.id) or ChangeRequestRow(id=request.id, origin="request")
            row.title, row.type, row.author = request.title, request.type.value, request.author
            row.targets = [t.key for t in request.targets]
            row.window_start, row.window_end = request.window.start.timestamp(), request.window.end.timestamp()
            row.features, row.probability, row.tier = _clean(report.features), report.probability, report.tier
            row.created_at = self.clock().timestamp()
            session.add(row)

    def record_outcome(self, change_id: str, result: str, incident: str | None = None) -> None:
        if result not in OUTCOMES:
            raise InputError(f"outcome {result!r}: expected one of {list(OUTCOMES)}")
        with self.store.session() as session:
            if session.get(ChangeRequestRow, change_id) is None:
                raise InputError(f"change {change_id!r} is unknown: score it first (aiopsd change score) or import it")
            row = session.get(ChangeOutcomeRow, change_id) or ChangeOutcomeRow(change_id=change_id)
            row.result, row.incident, row.recorded_at = result, incident, self.clock().timestamp()
            session.add(row)

    def import_history(self, ids: Sequence[str], times: np.ndarray, failed: np.ndarray, features: pd.DataFrame) -> int:
        """Past changes with outcomes (``aiopsd change learn``); all rows in one transaction, ids replace."""
        now = self.clock().timestamp()
        logger.info("importing %d past changes", len(ids))
        with self.store.session() as session:
            for i, change_id in enumerate(ids):
                row = session.get(ChangeRequestRow, str(change_id)) or ChangeRequestRow(id=str(change_id))
                row.title, row.type, row.author, row.targets = f"imported change {change_id}", "deploy", "unknown", []
                row.window_start = row.window_end = float(times[i])
                row.features = _clean({name: float(features[name].iloc[i]) for name in FEATURE_NAMES})
                row.probability, row.tier, row.origin, row.created_at = None, None, "history", now
                session.add(row)
                outcome = session.get(ChangeOutcomeRow, str(change_id)) or ChangeOutcomeRow(change_id=str(change_id))
                outcome.result = "failed" if failed[i] else "success"
                outcome.incident, outcome.recorded_at = None, now
                session.add(outcome)
        return len(ids)

    def training_set(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Every change with an outcome: features, failed (rolled back counts as failed), time."""
        with self.store.session() as session:
            rows = session.execute(
                select(ChangeRequestRow.features, ChangeRequestRow.window_start, ChangeOutcomeRow.result).join(
                    ChangeOutcomeRow, ChangeOutcomeRow.change_id == ChangeRequestRow.id
                )
            ).all()
        features = pd.DataFrame(
            [
                {name: (f.get(name) if f.get(name) is not None else math.nan) for name in FEATURE_NAMES}
                for f, _, _ in rows
            ],
            columns=list(FEATURE_NAMES),
            dtype=float,
        )
        failed = np.array([result != "success" for _, _, result in rows], dtype=float)
        times = np.array([t for _, t, _ in rows], dtype=float)
        return features, failed, times

    def retrain(self, settings: ModelSettings | None = None) -> RiskModel:
        features, failed, times = self.training_set()
        logger.info("retraining the change risk model on %d outcomes", len(failed))
        model = RiskModel.train(features, failed, times, settings)
        with self.store.session() as session:
            row = session.get(ChangeModelRow, MODEL_NAME) or ChangeModelRow(name=MODEL_NAME)
            row.state, row.trained_at = model.to_json(), self.clock().timestamp()
            row.rows, row.failures = len(failed), int(failed.sum())
            session.add(row)
        logger.info("change risk model retrained on %d outcomes (%s)", len(failed), model.state.kind)
        return model

    def model(self) -> RiskModel:
        """The saved model, or the cold-start prior when none was trained yet."""
        with self.store.session() as session:
            row = session.get(ChangeModelRow, MODEL_NAME)
            return RiskModel.from_json(row.state) if row is not None else RiskModel.prior()

    def link_incident(
        self, problem_id: str, target_keys: Sequence[str], started_at: datetime, within_s: float
    ) -> list[str]:
        """Mark changes whose window ended at most ``within_s`` before a problem started on one of their targets as
        failed with that problem as the incident. The correlation engine calls this when a problem opens."""
        start = started_at.timestamp()
        keys = set(target_keys)
        linked = []
        with self.store.session() as session:
            rows = session.scalars(
                select(ChangeRequestRow).where(
                    ChangeRequestRow.window_end <= start, ChangeRequestRow.window_end >= start - within_s
                )
            ).all()
            for row in rows:
                if not keys.intersection(row.targets):
                    continue
                outcome = session.get(ChangeOutcomeRow, row.id) or ChangeOutcomeRow(change_id=row.id)
                outcome.result, outcome.incident, outcome.recorded_at = "failed", problem_id, self.clock().timestamp()
                session.add(outcome)
                linked.append(row.id)
        return linked
