"""Change requests, outcomes and the model state in the daemon's store; retraining from the store."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from change_advisor.advisor import RiskReport
from change_advisor.context import Outcome
from change_advisor.features import FEATURE_NAMES
from change_advisor.model import RiskModel
from change_advisor.model_settings import ModelSettings
from change_advisor.request import ChangeRequest
from daemon.changes.matching import touches
from daemon.changes.models import ChangeModelRow, ChangeOutcomeRow, ChangeRequestRow, stored_targets
from daemon.errors import InputError
from daemon.store.db import Store

logger = logging.getLogger(__name__)
OUTCOMES: tuple[Outcome, ...] = ("success", "failed", "rolled-back")
MODEL_NAME = "default"


# column widths: PostgreSQL enforces them (SQLite does not), so longer values get a clear error or are shortened here
_ID_LENGTH = 64
_AUTHOR_LENGTH = 200
_INCIDENT_LENGTH = 128


def _check_id(change_id: str, where: str) -> None:
    if len(change_id) > _ID_LENGTH:
        raise InputError(
            f"{where}: change id {change_id[:20]!r}… is {len(change_id)} long; at most {_ID_LENGTH} characters"
        )


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
        _check_id(request.id, "change request")
        with self.store.session() as session:
            row = session.get(ChangeRequestRow, request.id) or ChangeRequestRow(id=request.id, origin="request")
            row.title, row.type, row.author = request.title, request.type.value, request.author[:_AUTHOR_LENGTH]
            row.targets = [t.model_dump(mode="json") for t in request.targets]
            row.window_start, row.window_end = request.window.start.timestamp(), request.window.end.timestamp()
            row.features, row.probability, row.tier = _clean(report.features), report.probability, report.tier
            row.created_at = self.clock().timestamp()
            session.add(row)

    def record_outcome(self, change_id: str, result: str, incident: str | None = None) -> None:
        if result not in OUTCOMES:
            raise InputError(f"outcome {result!r}: expected one of {list(OUTCOMES)}")
        if incident is not None and len(incident) > _INCIDENT_LENGTH:
            raise InputError(
                f"incident {incident[:20]!r}… is {len(incident)} long; at most {_INCIDENT_LENGTH} characters"
            )
        with self.store.session() as session:
            if session.get(ChangeRequestRow, change_id) is None:
                raise InputError(f"change {change_id!r} is unknown: score it first (aiopsd change score) or import it")
            row = session.get(ChangeOutcomeRow, change_id) or ChangeOutcomeRow(change_id=change_id)
            row.result, row.incident, row.recorded_at = result, incident, self.clock().timestamp()
            session.add(row)

    def import_history(self, ids: Sequence[str], times: np.ndarray, failed: np.ndarray, features: pd.DataFrame) -> int:
        """Past changes with outcomes (``aiopsd change learn``); all rows in one transaction, ids replace."""
        now = self.clock().timestamp()
        keys = [str(change_id) for change_id in ids]
        if len(set(keys)) != len(keys):
            duplicate = next(k for k in keys if keys.count(k) > 1)
            raise InputError(f"change id {duplicate!r} appears more than once in the history")
        for key in keys:
            _check_id(key, "history")
        logger.info("importing %d past changes", len(keys))
        columns = {name: features[name].to_numpy(dtype=float) for name in FEATURE_NAMES}
        requests: list[dict[str, Any]] = [
            {
                "id": key,
                "title": f"imported change {key}",
                "type": "deploy",
                "author": "unknown",
                "targets": [],
                "window_start": float(times[i]),
                "window_end": float(times[i]),
                "features": {name: (None if np.isnan(v[i]) else float(v[i])) for name, v in columns.items()},
                "probability": None,
                "tier": None,
                "origin": "history",
                "created_at": now,
            }
            for i, key in enumerate(keys)
        ]
        outcomes = [
            {"change_id": key, "result": "failed" if failed[i] else "success", "incident": None, "recorded_at": now}
            for i, key in enumerate(keys)
        ]
        with self.store.session() as session:
            for start in range(0, len(keys), 500):  # stay below the bound-parameter limits of SQLite
                chunk = keys[start : start + 500]
                session.execute(delete(ChangeOutcomeRow).where(ChangeOutcomeRow.change_id.in_(chunk)))
                session.execute(delete(ChangeRequestRow).where(ChangeRequestRow.id.in_(chunk)))
            if requests:
                session.execute(insert(ChangeRequestRow), requests)
                session.execute(insert(ChangeOutcomeRow), outcomes)
        return len(keys)

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

    def link_problem(
        self, problem_id: str, entities: Sequence[Mapping[str, str]], started_at: datetime, within: timedelta
    ) -> list[str]:
        """Mark changes whose window ended at most ``within`` before a problem started, on a target one of the
        problem's entity sets touches (e.g. ``{"namespace": "shop", "pod": "checkout-7d9f-x"}``), as failed with the
        problem as their incident. The correlation engine calls this when a problem opens; returns the change ids."""
        start = started_at.timestamp()
        linked = []
        with self.store.session() as session:
            rows = session.scalars(
                select(ChangeRequestRow).where(
                    ChangeRequestRow.origin == "request",
                    ChangeRequestRow.window_end <= start,
                    ChangeRequestRow.window_end >= start - within.total_seconds(),
                )
            ).all()
            for row in rows:
                if not any(touches(t, e) for t in stored_targets(row.targets) for e in entities):
                    continue
                outcome = session.get(ChangeOutcomeRow, row.id) or ChangeOutcomeRow(change_id=row.id)
                outcome.result, outcome.incident, outcome.recorded_at = "failed", problem_id, self.clock().timestamp()
                session.add(outcome)
                linked.append(row.id)
        if linked:
            logger.info("problem %s linked to change(s) %s", problem_id, linked)
        return linked
