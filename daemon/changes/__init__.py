"""The daemon's side of the change advisor: store tables, the context over the store, scoring with persistence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from change_advisor.advisor import ChangeAdvisor, RiskReport
from change_advisor.request import ChangeRequest
from daemon.changes.context import StoreChangeContext
from daemon.changes.repository import ChangeRepository
from daemon.settings.changes import ChangeAdvisorSettings
from daemon.store.db import Store


def score_and_record(
    store: Store,
    settings: ChangeAdvisorSettings,
    request: ChangeRequest,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RiskReport:
    """Score a request with the stored model and live context, and remember it so its outcome can be recorded."""
    repository = ChangeRepository(store, clock)
    context = StoreChangeContext(store, settings.calendar, settings.health_window, settings.incident_window)
    report = ChangeAdvisor(repository.model(), context, clock).assess(request)
    repository.save_scored(request, report)
    return report


__all__ = ["ChangeRepository", "StoreChangeContext", "score_and_record"]
