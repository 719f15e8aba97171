"""The read API mounted in the daemon's real HTTP app (bearer auth, /metrics with the KPI collector), over a store
built through the real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daemon.api.read import build_read_router
from daemon.health import HealthState
from daemon.http import build_app
from daemon.kpi import KpiCollector
from daemon.metrics import DaemonMetrics
from daemon.settings.kpi import KpiSettings
from daemon.tickets.models import TicketLinkRow
from tests.daemon.kpi.conftest import S, U, build_week
from tests.daemon.kpi.scenario import Scenario

TOKEN = "t0ken-for-tests"
SETTINGS = KpiSettings(weeks=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build_week(tmp_path_factory.mktemp("read"))


@pytest.fixture(scope="module")
def client(built: Scenario) -> TestClient:
    with built.store.session() as session:
        problem = built.repository.list_snapshots("open")[0]
        session.add(
            TicketLinkRow(system="rt", fingerprint=problem.fingerprint, problem_id=problem.id, title=problem.title,
                          severity=problem.severity, state="open", external_id="42", url="http://127.0.0.1/Ticket/42",
                          seq=1, story=[], created_at=S + 20050, updated_at=S + 20050)
        )  # fmt: skip
    metrics = DaemonMetrics()
    metrics.registry.register(KpiCollector(built.store, SETTINGS, lambda: U))
    app = build_app(HealthState(), metrics, [build_read_router(built.store, SETTINGS, lambda: U)], api_token=TOKEN)
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def test_every_read_endpoint_needs_the_token(client: TestClient) -> None:
    for path in ["/api/v1/problems", "/api/v1/tickets", "/api/v1/actions", "/api/v1/kpis", "/api/v1/knowledge"]:
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        assert client.get(path).status_code == 200, path
    assert client.get("/metrics", headers={"Authorization": ""}).status_code == 200


def test_problems_list_and_detail(client: TestClient, built: Scenario) -> None:
    listed = client.get("/api/v1/problems").json()
    assert len(listed) == 6 and listed[0]["signature"].endswith(":disk_full")  # newest first
    assert [p["status"] for p in client.get("/api/v1/problems", params={"status": "open"}).json()] == ["open"]
    bad = client.get("/api/v1/problems", params={"status": "sleeping"})
    assert bad.status_code == 422 and "expected one of" in bad.json()["detail"]
    latency = [p for p in listed if p["signature"].endswith(":latency")]
    details = [client.get(f"/api/v1/problems/{p['fingerprint']}").json() for p in latency]  # by fingerprint
    (acked,) = [d for d in details if d["acknowledged_by"] == "user:bob"]  # C: escalated, acknowledged
    assert [e["kind"] for e in acked["timeline"]] == ["opened", "escalated", "updated", "resolved", "closed"]
    assert acked["timeline"][1]["details"]["reason"] == "guard:max_unavailable"
    assert acked["problem"]["status"] == "closed" and acked["tickets"] == []
    assert client.get("/api/v1/problems/p-nope").status_code == 404


def test_tickets_and_actions(client: TestClient, built: Scenario) -> None:
    tickets = client.get("/api/v1/tickets").json()
    assert [(t["system"], t["external_id"], t["state"]) for t in tickets] == [("rt", "42", "open")]
    assert client.get("/api/v1/tickets", params={"state": "resolved"}).json() == []
    open_problem = built.repository.list_snapshots("open")[0]
    assert client.get(f"/api/v1/problems/{open_problem.id}").json()["tickets"][0]["external_id"] == "42"
    actions = client.get("/api/v1/actions").json()
    assert [a["status"] for a in actions] == ["failed", "verified", "verified"]  # newest first
    assert len(client.get("/api/v1/actions", params={"status": "verified"}).json()) == 2
    assert client.get("/api/v1/actions", params={"status": "done"}).status_code == 422


def test_kpis_in_every_format(client: TestClient) -> None:
    report = client.get("/api/v1/kpis", params={"since": str(S), "until": str(U)}).json()
    assert report["summary"]["deflection_rate"] == 0.5 and report["summary"]["mttr_seconds"] == 885.0
    default = client.get("/api/v1/kpis").json()  # the last kpi.window (7 d) before now
    assert default["summary"]["since"] == U - 7 * 86400
    md = client.get("/api/v1/kpis", params={"format": "md", "since": str(S)})
    assert md.headers["content-type"].startswith("text/markdown") and "| Deflection rate | 50.0% |" in md.text
    html = client.get("/api/v1/kpis", params={"format": "html", "since": str(S)})
    assert html.headers["content-type"].startswith("text/html") and html.text.count("<svg") == 5
    bad = client.get("/api/v1/kpis", params={"since": "yesterday-ish"})
    assert bad.status_code == 422 and "RFC 3339" in bad.json()["detail"]
    assert client.get("/api/v1/kpis", params={"since": str(U), "until": str(S)}).status_code == 422


def test_knowledge(client: TestClient) -> None:
    articles = client.get("/api/v1/knowledge").json()
    assert len(articles) == 1 and articles[0]["runbooks"][0]["runbook"] == "rollout-restart"
    signature = articles[0]["signature"]
    one = client.get(f"/api/v1/knowledge/{signature}").json()
    assert one["runbooks"][0]["successes"] == 2 and one["runbooks"][0]["failures"] == 1
    assert [h["outcome"] for h in one["history"]] == ["manual", "failed", "verified", "verified"]
    md = client.get("/api/v1/knowledge", params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown") and f"## {signature}" in md.text
    html = client.get("/api/v1/knowledge", params={"format": "html"})
    assert html.text.startswith("<!DOCTYPE html>") and html.text.count("<svg") == 1
    missing = client.get("/api/v1/knowledge/pod:nothing")
    assert missing.status_code == 404 and "aiopsd kb list" in missing.json()["detail"]


def test_openapi_describes_the_read_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ["/api/v1/problems", "/api/v1/problems/{problem_id}", "/api/v1/tickets", "/api/v1/actions",
                 "/api/v1/kpis", "/api/v1/knowledge", "/api/v1/knowledge/{signature}"]:  # fmt: skip
        assert "get" in spec["paths"][path], path
    assert "KpiReport" in spec["components"]["schemas"]


def test_metrics_carry_the_kpis(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert "aiopsd_kpi_deflection_rate 0.5" in text
    assert 'aiopsd_kpi_escalations_total{reason="verification_failed"} 1.0' in text
    assert [line for line in text.splitlines() if line.startswith("aiopsd_kpi_auto_resolution_rate{")] == [
        'aiopsd_kpi_auto_resolution_rate{category="latency"} 0.0',
        'aiopsd_kpi_auto_resolution_rate{category="memory_leak"} 0.5',
    ]


def test_an_empty_store_answers_with_empty_lists(tmp_path: Path) -> None:
    empty = Scenario.create(tmp_path)
    app = build_app(HealthState(), DaemonMetrics(), [build_read_router(empty.store, SETTINGS, lambda: U)], TOKEN)
    c = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    assert c.get("/api/v1/problems").json() == [] and c.get("/api/v1/knowledge").json() == []
    assert c.get("/api/v1/kpis").json()["summary"]["deflection_rate"] is None
    with empty.store.session() as session:
        assert session.scalars(select(TicketLinkRow)).all() == []
