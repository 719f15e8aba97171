"""Acknowledge and resolve through the daemon's HTTP API (real app, bearer auth): queued in the store, applied by the
problem stage at its next tick, and the built-in ticket follows the person's decision."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from daemon.api.commands import build_commands_router
from daemon.app import open_store
from daemon.health import HealthState
from daemon.http import build_app
from daemon.metrics import DaemonMetrics
from daemon.operations import ProblemStage
from daemon.settings import Settings
from daemon.tickets.models import TicketLinkRow
from tests.daemon.correlation.factory import T0, TICK, anomaly

TOKEN = "t0ken-for-tests"


def test_a_resolve_posted_to_the_api_is_applied_by_the_next_tick_and_reaches_the_ticket(tmp_path: Path) -> None:
    settings = Settings(daemon={"state_dir": str(tmp_path)})
    store = open_store(settings)
    stage = ProblemStage(settings, store)
    stage.on_tick([anomaly("redis-0", T0, 0.99, "errors")], T0)
    stage.settle()
    (problem,) = stage.correlator.problems()
    app = build_app(HealthState(), DaemonMetrics(), [build_commands_router(store)], api_token=TOKEN)
    client = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})

    assert (
        client.post(
            f"/api/v1/problems/{problem.id}/ack", json={"by": "alice"}, headers={"Authorization": ""}
        ).status_code
        == 401
    )
    assert client.post("/api/v1/problems/p-nope/ack", json={"by": "alice"}).status_code == 404
    bad = client.post(f"/api/v1/problems/{problem.id}/resolve", json={"reason": "x"})
    assert bad.status_code == 422 and "by" in bad.text
    queued = client.post(f"/api/v1/problems/{problem.fingerprint}/resolve", json={"by": "bob", "reason": "restarted"})
    assert queued.status_code == 202, queued.text
    request = queued.json()
    assert request["state"] == "queued" and request["problem_id"] == problem.id
    assert stage.correlator.get(problem.id).status == "open"  # nothing changed behind the daemon's back

    stage.on_tick([], T0 + TICK)
    stage.settle()
    done = client.get(f"/api/v1/problem-commands/{request['id']}").json()
    assert done["state"] == "applied" and done["result"] == "resolved by bob: restarted"
    assert stage.correlator.get(problem.id).status == "resolved"
    with store.session() as session:
        (link,) = session.scalars(select(TicketLinkRow).where(TicketLinkRow.problem_id == problem.id)).all()
        assert link.state == "resolved"

    again = client.post(f"/api/v1/problems/{problem.id}/resolve", json={"by": "bob"}).json()
    stage.on_tick([], T0 + 2 * TICK)
    rejected = client.get(f"/api/v1/problem-commands/{again['id']}").json()
    assert rejected["state"] == "rejected" and "already resolved" in rejected["result"]
    assert client.get("/api/v1/problem-commands/999").status_code == 404
