from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daemon.alerts import AlertInbox, parse_time
from daemon.api.alerts import alerts_router
from daemon.correlation import ProblemCorrelator
from daemon.topology import Topology

NOW = 1_714_564_830.0  # 2024-05-01T12:00:30Z

PAYLOAD: dict[str, Any] = {
    "receiver": "aiopsd",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "cart-7d9f8c6b5-x2k4q",
                       "severity": "critical"},
            "annotations": {"summary": "cart is crash looping"},
            "startsAt": "2024-05-01T11:19:58.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": "a1b2c3d4e5f60718",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "NodeDiskFull", "node": "worker-1", "severity": "warning"},
            "annotations": {},
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "2024-05-01T11:00:00Z",
            "generatorURL": "",
            "fingerprint": "0000000000000001",
        },
    ],
    "groupLabels": {"alertname": "KubePodCrashLooping"},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
    "version": "4",
    "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
    "truncatedAlerts": 0,
}  # fmt: skip


@pytest.fixture
def inbox() -> AlertInbox:
    return AlertInbox(capacity=100)


@pytest.fixture
def client(inbox: AlertInbox) -> TestClient:
    app = FastAPI()
    app.include_router(alerts_router(inbox, clock=lambda: NOW))
    return TestClient(app)


def test_firing_alerts_become_alert_anomalies(client: TestClient, inbox: AlertInbox) -> None:
    response = client.post("/api/v1/alerts", json=PAYLOAD)
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "firing": 1, "resolved": 1}
    (a,) = inbox.drain()
    assert a.kind == "alert" and a.source == "alertmanager" and a.query == "KubePodCrashLooping"
    assert a.entities == {"namespace": "namespace//shop", "pod": "pod/shop/cart-7d9f8c6b5-x2k4q"}
    assert a.score == 1.0
    assert a.series_key == "a1b2c3d4e5f60718"
    assert a.ts == 1_714_564_800.0  # arrival bucketed to 12:00:00Z (startsAt 11:19:58Z is older)
    assert inbox.drain() == []


def test_redelivery_in_one_bucket_is_one_anomaly_and_joins_correlation(client: TestClient, inbox: AlertInbox) -> None:
    client.post("/api/v1/alerts", json=PAYLOAD)
    client.post("/api/v1/alerts", json=PAYLOAD)
    correlator = ProblemCorrelator(Topology())
    events = correlator.observe(inbox.drain(), NOW)
    assert [e.kind for e in events] == ["opened"]
    (problem,) = correlator.problems()
    assert problem.snapshot().anomaly_count == 1
    assert problem.candidates[0].entity == "deployment/shop/cart"  # owner inferred from the pod name


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p.update(version="3"), "version: Input should be '4' (got '3')"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt: expected an RFC 3339 time"),
        (lambda p: p["alerts"][1]["labels"].pop("alertname"), "alerts[1].labels: expected an 'alertname' label"),
        (lambda p: p["alerts"][0].pop("status"), "alerts[0].status: Field required"),
        (lambda p: p.pop("alerts"), "alerts: Field required"),
    ],
)
def test_bad_payloads_are_refused_with_the_place(
    client: TestClient, inbox: AlertInbox, mutate: Any, expected: str
) -> None:
    payload = copy.deepcopy(PAYLOAD)
    mutate(payload)
    response = client.post("/api/v1/alerts", json=payload)
    assert response.status_code == 422
    assert any(e.startswith(expected) for e in response.json()["detail"]["errors"]), response.json()
    assert len(inbox) == 0  # nothing half-applied


def test_invalid_json_is_a_400(client: TestClient) -> None:
    response = client.post("/api/v1/alerts", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "invalid JSON" in response.json()["detail"]["errors"][0]


def test_alerts_without_entities_are_skipped_and_instance_is_a_fallback(client: TestClient, inbox: AlertInbox) -> None:
    payload = copy.deepcopy(PAYLOAD)
    payload["alerts"] = [
        {**PAYLOAD["alerts"][0], "labels": {"alertname": "Watchdog"}},
        {**PAYLOAD["alerts"][0], "labels": {"alertname": "TargetDown", "instance": "10.0.0.5:9100"}},
    ]
    assert client.post("/api/v1/alerts", json=payload).json()["accepted"] == 1
    (a,) = inbox.drain()
    assert a.entities == {"instance": "instance//10.0.0.5:9100"}
    assert a.score == 0.7  # no severity label


def test_inbox_drops_the_oldest_when_full() -> None:
    inbox = AlertInbox(capacity=2)
    from daemon.alerts import to_anomalies, validate_payload

    payload = validate_payload(PAYLOAD)
    batch = to_anomalies(payload, NOW) + to_anomalies(payload, NOW + 60) + to_anomalies(payload, NOW + 120)
    inbox.submit(batch)
    assert inbox.dropped == 1
    assert [a.ts for a in inbox.drain()] == [batch[1].ts, batch[2].ts]


def test_parse_time_handles_nanoseconds_and_offsets() -> None:
    assert parse_time("2024-05-01T00:00:00Z") == 1_714_521_600.0
    assert parse_time("2024-05-01T02:00:00.5+02:00") == 1_714_521_600.5
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_time("2024-05-01")


def test_an_alert_delivered_once_keeps_its_problem_open_until_alertmanager_sends_it_resolved() -> None:
    # Alertmanager repeats a firing alert only every repeat_interval (4 h by default): the problem must not resolve
    # after the quiet period while the alert still fires, and must once the resolved notification comes
    inbox = AlertInbox(bucket=20.0)
    app = FastAPI()
    now = [NOW]
    app.include_router(alerts_router(inbox, clock=lambda: now[0]))
    client = TestClient(app)
    firing = copy.deepcopy(PAYLOAD)
    firing["alerts"] = firing["alerts"][:1]
    correlator = ProblemCorrelator(Topology())  # quiet period 5 min, ticks of 15 s
    client.post("/api/v1/alerts", json=firing)
    events = []
    for _ in range(80):  # 20 minutes of ticks, no second delivery
        events += correlator.observe(inbox.drain(now[0]), now[0])
        now[0] += 15
    statuses = [e.kind for e in events]
    assert statuses[0] == "opened" and set(statuses[1:]) == {"updated"}, statuses
    assert {e.details["changed"] for e in events[1:]} == {""}  # only the count grows: tickets get no comment
    assert [p.status for p in correlator.problems()] == ["open"]
    assert inbox.firing == 1

    resolved = copy.deepcopy(firing)
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    client.post("/api/v1/alerts", json=resolved)
    assert inbox.firing == 0
    for _ in range(30):
        statuses += [e.kind for e in correlator.observe(inbox.drain(now[0]), now[0])]
        now[0] += 15
    assert statuses[-1] == "resolved" and [p.status for p in correlator.problems()] == ["resolved"]


def test_a_firing_alert_never_redelivered_is_let_go_after_the_hold() -> None:
    inbox = AlertInbox(hold=600.0, bucket=60.0)
    app = FastAPI()
    app.include_router(alerts_router(inbox, clock=lambda: NOW))
    TestClient(app).post("/api/v1/alerts", json=PAYLOAD)
    assert len(inbox.drain(NOW)) == 1
    assert [a.ts for a in inbox.drain(NOW + 300)] == [NOW - 30 + 300]  # re-offered, stamped with its bucket
    assert inbox.drain(NOW + 601) == [] and inbox.firing == 0
