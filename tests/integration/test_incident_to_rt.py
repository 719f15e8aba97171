"""One incident, end to end through detection and correlation into a real Request Tracker: real Prometheus (history
loaded with promtool), the daemon's loop and correlator, and RT 5 over REST 2. The incident starts at checkout and
spreads to frontend, which calls it: one problem, root cause checkout, one RT ticket that gets a comment as things
happen, is resolved when the metrics recover, and is reopened (not duplicated) when the fault comes back."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from daemon.app import build_application
from daemon.localprom import HistorySeries
from daemon.settings import Settings
from tests.harness.prometheus import PrometheusFactory
from tests.harness.rt import RTServer
from tests.integration.helpers import ManualClock

pytestmark = pytest.mark.integration
STEP = 15.0


def error_history(end: float) -> tuple[list[HistorySeries], float]:
    """Errors of checkout and frontend over 5 h; checkout fails at t1 for 10 min, frontend follows a minute later,
    and the same fault recurs at t2 for 5 min."""
    rng = np.random.default_rng(11)
    times = np.arange(end - 5 * 3600 + STEP, end + STEP / 2, STEP)
    t1, t2 = end - 90 * 60, end - 50 * 60
    series = []
    for service, base, bad, lag in (("checkout", 0.001, 0.15, 0.0), ("frontend", 0.002, 0.05, 60.0)):
        samples = []
        for t in times:
            value = base * (1 + 0.2 * rng.standard_normal())
            if t1 + lag <= t < t1 + 600 or t2 + lag <= t < t2 + 300:
                value = bad * (1 + 0.05 * rng.standard_normal())
            samples.append((float(t), float(max(value, 0.0))))
        series.append(HistorySeries("svc_error_ratio", {"namespace": "shop", "deployment": service}, samples))
    return series, t1


def test_incident_becomes_one_problem_and_one_rt_ticket_that_follows_it(
    prometheus_factory: PrometheusFactory, rt_server: RTServer, tmp_path: Path
) -> None:
    end = math.floor((time.time() - 300) / STEP) * STEP
    history, t1 = error_history(end)
    prom = prometheus_factory(history=history)
    prom.start()
    settings = Settings(
        daemon={"interval": "15s", "state_dir": str(tmp_path / "state"), "instance_name": "aiopsd-it"},
        sources={"prometheus": [{"name": "prom", "url": prom.url, "queries": [
            # the lifecycle is under test here, so a detector that flags a recurrence: the default `novelty` does
            # not alarm on a repeat of a shape it has already seen (see the detectors section of the README)
            {"name": "errors", "promql": "svc_error_ratio", "symptom": "errors", "detector": "ewma",
             "threshold": 0.9999, "entity": {"namespace": "namespace", "deployment": "deployment"}}]}]},
        detection={"training_window": "2h"},
        correlation={"quiet_period": "3m", "reopen_window": "1h", "topology": {"services": [
            {"name": "frontend", "namespace": "shop", "workload": "deployment/frontend", "depends_on": ["checkout"]},
            {"name": "checkout", "namespace": "shop", "workload": "deployment/checkout"}]}},
        tickets={"system": "rt", "rt": {"url": rt_server.url, "username": rt_server.username,
                                        "password": rt_server.password, "queue": "General"}},
        remediation={"automation": {"enabled": False}},
    )  # fmt: skip
    clock = ManualClock(t1 - 30 * 60)
    app = build_application(settings, serve_http=False)
    app.daemon.clock = clock
    events = []
    app.problems.on_events = events.extend
    try:
        while clock.now < end:
            app.daemon.tick()
            app.problems.settle()
            clock.now += 60
    finally:
        app.problems.settle()
        app.close()

    problems = {e.problem.id: e.problem for e in events}
    opened = [e for e in events if e.kind == "opened"]
    assert len(opened) == 1, [e.problem.title for e in opened]
    problem = problems[opened[0].problem.id]
    assert problem.root_causes[0].entity == "deployment/shop/checkout"
    assert set(problem.entities) >= {"deployment/shop/checkout", "deployment/shop/frontend"}
    kinds = [e.kind for e in events if e.problem.id == problem.id]
    assert "resolved" in kinds and "reopened" in kinds
    assert kinds.index("resolved") < kinds.index("reopened")

    with rt_server.client() as client:
        found = client.get(
            "/REST/2.0/tickets",
            params={"query": f"Subject LIKE '[aiopsd:{problem.fingerprint}]'", "fields": "Subject,Status"},
        ).json()["items"]
        assert len(found) == 1  # one ticket for the whole story, reopened rather than duplicated
        ticket = found[0]
        assert "checkout" in ticket["Subject"]
        history = client.get(f"/REST/2.0/ticket/{ticket['id']}/history", params={"fields": "Type,NewValue"}).json()
        types = [item["Type"] for item in history["items"]]
        assert types.count("Comment") >= 2
        statuses = [item.get("NewValue") for item in history["items"] if item["Type"] == "Status"]
        assert "resolved" in statuses
