"""The daemon's implementation of the change advisor's `ChangeContext`, reading the store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from change_advisor.context import CalendarVerdict, ChangeCalendar, PastChange, TargetHealth
from change_advisor.request import ChangeRequest, ChangeWindow, Target
from daemon.changes.matching import entity_sets, touches
from daemon.changes.models import ChangeOutcomeRow, ChangeRequestRow, target_keys
from daemon.problems.repository import SqlProblemRepository
from daemon.store.db import Store
from daemon.store.models import AnomalyRow

logger = logging.getLogger(__name__)


class StoreChangeContext:
    def __init__(
        self,
        store: Store,
        calendar: ChangeCalendar,
        health_window: timedelta = timedelta(hours=1),
        incident_window: timedelta = timedelta(days=30),
    ) -> None:
        self.store = store
        self._calendar = calendar
        self.health_window = health_window
        self.incident_window = incident_window

    def target_health(self, targets: Sequence[Target], at: datetime) -> TargetHealth:
        since = (at - self.health_window).timestamp()
        with self.store.session() as session:
            rows = session.execute(
                select(AnomalyRow.entities, AnomalyRow.score).where(
                    AnomalyRow.ts >= since, AnomalyRow.ts <= at.timestamp()
                )
            ).all()
        scores = [score for entities, score in rows if any(touches(t, entities) for t in targets)]
        return TargetHealth(
            anomaly_level=max(scores, default=0.0),
            anomalies=len(scores),
            open_problems=self.open_problems(targets),
            recent_incidents=self._recent_incidents(targets, at),
        )

    def open_problems(self, targets: Sequence[Target]) -> list[str]:
        """Ids of open or mitigating problems whose entities touch the targets."""
        found = []
        for problem in SqlProblemRepository(self.store).load_unfinished():
            snapshot = problem.snapshot()
            if snapshot.status not in ("open", "mitigating"):
                continue
            sets = entity_sets(snapshot.entities)
            if any(touches(t, e) for t in targets for e in sets):
                found.append(snapshot.id)
        return found

    def _recent_incidents(self, targets: Sequence[Target], at: datetime) -> list[str]:
        keys = {t.key for t in targets}
        since = (at - self.incident_window).timestamp()
        with self.store.session() as session:
            rows = session.execute(
                select(ChangeOutcomeRow.incident, ChangeRequestRow.targets)
                .join(ChangeRequestRow, ChangeRequestRow.id == ChangeOutcomeRow.change_id)
                .where(ChangeOutcomeRow.incident.is_not(None), ChangeOutcomeRow.recorded_at >= since)
            ).all()
        return sorted({str(incident) for incident, row_targets in rows if keys.intersection(target_keys(row_targets))})

    def similar_changes(self, request: ChangeRequest, limit: int) -> list[PastChange]:
        """Past changes with an outcome, other than this one, of the same type or on one of the same targets."""
        keys = {t.key for t in request.targets}
        with self.store.session() as session:
            rows = session.execute(
                select(ChangeRequestRow, ChangeOutcomeRow.result)
                .join(ChangeOutcomeRow, ChangeOutcomeRow.change_id == ChangeRequestRow.id)
                .where(ChangeRequestRow.origin == "request", ChangeRequestRow.id != request.id)
                .order_by(ChangeRequestRow.window_start.desc())
            ).all()
        similar = []
        for row, result in rows:
            if row.type == request.type.value or keys.intersection(target_keys(row.targets)):
                similar.append(
                    PastChange(
                        id=row.id,
                        title=row.title,
                        type=row.type,
                        result=result,
                        at=datetime.fromtimestamp(row.window_start, UTC),
                        probability=row.probability,
                    )
                )
            if len(similar) >= limit:
                break
        return similar

    def calendar(self, window: ChangeWindow) -> CalendarVerdict:
        return self._calendar.verdict(window)
