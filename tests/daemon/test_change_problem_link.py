"""Problems and changes meet in the store: an open problem shows in a change's live context, and a problem that
starts on a change's targets soon after the change marks it failed (the outcome the risk model learns from)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from change_advisor.request import ChangeWindow, load_change_request
from daemon.app import open_store
from daemon.changes import score_and_record
from daemon.changes.context import StoreChangeContext
from daemon.changes.models import ChangeOutcomeRow
from daemon.domain import Anomaly
from daemon.operations import ProblemStage
from daemon.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "changes"


def checkout_anomalies(now: float) -> list[Anomaly]:
    return [
        Anomaly(
            source="p",
            query="errors",
            series_key=f"e{i}",
            labels={"deployment": "checkout"},
            entities={"namespace": "namespace//shop", "deployment": "deployment/shop/checkout"},
            ts=now,
            value=0.12,
            score=0.99,
            expected=0.001,
            direction=1,
            detector="t",
            symptom="errors",
        )
        for i in range(2)
    ]


def test_problem_after_a_change_fails_it_and_shows_in_the_context(tmp_path: Path) -> None:
    settings = Settings(daemon={"state_dir": str(tmp_path)})
    store = open_store(settings)
    now = datetime.now(UTC)
    request = load_change_request(EXAMPLES / "deploy-checkout.yaml")
    request = request.model_copy(
        update={"window": ChangeWindow(start=now - timedelta(minutes=40), end=now - timedelta(minutes=10))}
    )
    score_and_record(store, settings.changes, request)
    other = request.model_copy(update={"id": "CHG-OLD", "window": ChangeWindow(
        start=now - timedelta(days=3, minutes=30), end=now - timedelta(days=3))})  # fmt: skip
    score_and_record(store, settings.changes, other)

    stage = ProblemStage(settings, store)
    try:
        stage.on_tick(checkout_anomalies(now.timestamp()), now.timestamp())
        (problem,) = stage.correlator.problems()
        with store.session() as session:
            outcomes = {row.change_id: row for row in session.scalars(select(ChangeOutcomeRow))}
        assert set(outcomes) == {request.id}  # the old change is outside the link window
        assert outcomes[request.id].result == "failed" and outcomes[request.id].incident == problem.id
        context = StoreChangeContext(store, settings.changes.calendar, settings.changes.health_window,
                                     settings.changes.incident_window)  # fmt: skip
        assert context.open_problems(request.targets) == [problem.id]
        assert context.open_problems(other.targets[:0]) == []
    finally:
        stage.close()
