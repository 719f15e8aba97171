"""Real Prometheus fires a rule, real Alertmanager delivers it to our router on uvicorn, and it becomes a problem."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from daemon.alerts import AlertInbox
from daemon.api.alerts import alerts_router
from daemon.correlation import ProblemCorrelator
from daemon.domain import Anomaly
from daemon.topology import Topology
from tests.harness.common import find_binary, free_port, stop_process, unavailable, wait_until

pytestmark = pytest.mark.integration

RULES = """
groups:
  - name: aiopsd-test
    interval: 1s
    rules:
      - alert: CartErrorsHigh
        expr: vector(1)
        labels: {severity: critical, namespace: shop, deployment: cart, symptom: errors}
        annotations: {summary: cart returns errors}
      - alert: CheckoutSlowBriefly
        expr: vector(time()) < UNTIL
        labels: {severity: warning, namespace: shop, deployment: checkout, symptom: latency}
"""


def _binary(*names: str) -> str:
    for name in names:
        found = find_binary(name)
        if found:
            return found
    unavailable(names[0], "install Debian prometheus and prometheus-alertmanager (make debs-test)")
    raise AssertionError("unreachable")


@pytest.fixture
def receiver() -> Iterator[tuple[AlertInbox, int]]:
    inbox = AlertInbox()
    app = FastAPI()
    app.include_router(alerts_router(inbox, bucket=1.0))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "uvicorn")
    yield inbox, port
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def alerting(tmp_path: Path, receiver: tuple[AlertInbox, int]) -> Iterator[AlertInbox]:
    inbox, hook_port = receiver
    alertmanager = _binary("prometheus-alertmanager", "alertmanager")
    prometheus = _binary("prometheus")
    am_port, prom_port = free_port(), free_port()
    (tmp_path / "am.yml").write_text(
        f"""
route: {{receiver: aiopsd, group_wait: 0s, group_interval: 1s, repeat_interval: 1m}}
receivers:
  - name: aiopsd
    webhook_configs: [{{url: "http://127.0.0.1:{hook_port}/api/v1/alerts", send_resolved: true}}]
""",
        encoding="utf-8",
    )
    # the second rule fires for the first 20 s only: Alertmanager then sends it resolved
    (tmp_path / "rules.yml").write_text(RULES.replace("UNTIL", f"{time.time() + 20:.0f}"), encoding="utf-8")
    (tmp_path / "prom.yml").write_text(
        f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{tmp_path / "rules.yml"}]
alerting:
  alertmanagers: [{{static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]}}]
""",
        encoding="utf-8",
    )
    am = subprocess.Popen(
        [alertmanager, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    prom = subprocess.Popen(
        [prometheus, f"--config.file={tmp_path / 'prom.yml'}", f"--storage.tsdb.path={tmp_path / 'prom'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{am_port}/-/ready").status_code == 200, 20, "alertmanager")
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{prom_port}/-/ready").status_code == 200, 20, "prometheus")
        yield inbox
    finally:
        stop_process(prom)
        stop_process(am)


def test_a_firing_prometheus_alert_arrives_as_an_anomaly_and_opens_a_problem(alerting: AlertInbox) -> None:
    received: list[Anomaly] = []

    def arrived() -> bool:
        received.extend(alerting.drain())
        return bool(received)

    started = time.monotonic()
    wait_until(lambda: arrived() and any(a.query == "CartErrorsHigh" for a in received), 45,
               "the alert at the webhook", interval=0.2)  # fmt: skip
    elapsed = time.monotonic() - started
    alert = next(a for a in received if a.query == "CartErrorsHigh")
    assert alert.kind == "alert" and alert.source == "alertmanager"
    assert alert.query == "CartErrorsHigh" and alert.symptom == "errors"
    assert alert.entities == {"namespace": "namespace//shop", "deployment": "deployment/shop/cart"}
    assert alert.score == 1.0
    assert abs(alert.ts - time.time()) < 60
    correlator = ProblemCorrelator(Topology())
    events = correlator.observe([alert], time.time())
    assert [e.kind for e in events] == ["opened"]
    assert events[0].problem.root_causes[0].entity == "deployment/shop/cart"
    print(f"alert reached the webhook {elapsed:.1f}s after the servers were ready")


def test_an_alert_is_held_as_firing_until_alertmanager_sends_it_resolved(alerting: AlertInbox) -> None:
    # Alertmanager delivers a firing alert once (then every repeat_interval) and a resolved one when it ends: the
    # inbox re-offers it every tick in between, so its problem stays open, and stops once resolved arrives
    wait_until(lambda: alerting.firing == 2, 45, "both alerts firing", interval=0.2)
    later = time.time() + 120
    assert {a.query for a in alerting.drain(later)} == {"CartErrorsHigh", "CheckoutSlowBriefly"}
    wait_until(lambda: alerting.firing == 1, 60, "the brief alert resolved by Alertmanager", interval=0.5)
    assert {a.query for a in alerting.drain(later + 120)} == {"CartErrorsHigh"}
