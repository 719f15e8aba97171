"""The daemon against a real Prometheus whose history is loaded with promtool."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from daemon.app import open_store
from daemon.store import anomalies as repo
from daemon.timeparse import format_time
from tests.harness.prometheus import PrometheusFactory
from tests.integration.helpers import ManualClock, make_daemon, noisy_history, settings_for, to_history

pytestmark = pytest.mark.integration
STEP = 15.0


def _end() -> float:
    return math.floor((time.time() - 120) / STEP) * STEP


def test_injected_spike_is_detected_on_its_series_only(prometheus_factory: PrometheusFactory, tmp_path: Path) -> None:
    end = _end()
    samples = noisy_history("shop_latency_ms", ["p1", "p2", "p3"], end, 4 * 3600, STEP)
    spike_ts = end - 1800
    samples["p2"] = [(t, 400.0 if t == spike_ts else v) for t, v in samples["p2"]]
    prom = prometheus_factory(history=to_history("shop_latency_ms", samples))
    prom.start()
    settings = settings_for(prom.url, "shop_latency_ms", tmp_path, training_window="2h", threshold=0.99999)
    store = open_store(settings)
    clock = ManualClock(end - 3600)
    daemon = make_daemon(settings, clock, store)

    backfill = daemon.tick()
    assert backfill.anomalies == []  # history only trains
    assert backfill.series == 3
    clock.now = end
    report = daemon.tick()

    found = {(a.labels["pod"], a.ts) for a in report.anomalies}
    assert found == {("p2", spike_ts)}
    anomaly = report.anomalies[0]
    assert anomaly.entities == {"namespace": "namespace//shop", "pod": "pod/shop/p2"}
    assert anomaly.direction == 1 and anomaly.value == 400.0
    assert anomaly.expected is not None and abs(anomaly.expected - 100) < 5
    with store.session() as session:
        stored = repo.list_anomalies(session)
    assert [(a.labels["pod"], a.ts) for a in stored] == [("p2", spike_ts)]


def test_backfill_crosses_the_11000_point_limit(prometheus_factory: PrometheusFactory, tmp_path: Path) -> None:
    step = 1.0
    end = math.floor(time.time() - 60)
    samples = noisy_history("shop_latency_ms", ["p1", "p2"], end, 15000, step)
    prom = prometheus_factory(history=to_history("shop_latency_ms", samples))
    prom.start()
    settings = settings_for(prom.url, "shop_latency_ms", tmp_path, training_window="15000s", interval="1s")
    daemon = make_daemon(settings, ManualClock(end), None)

    report = daemon.tick()

    (pipeline,) = daemon.pipelines["prom"]
    assert report.series == 2
    assert report.points == 2 * 15001  # the grid includes the first point, which has no sample yet
    counts = pipeline.detector.get_state()["count"]
    assert counts.tolist() == [15000, 15000]  # every sample arrived although one request may carry 11,000 points


def test_restart_resumes_without_realerting(prometheus_factory: PrometheusFactory, tmp_path: Path) -> None:
    end = _end()
    samples = noisy_history("shop_latency_ms", ["p1", "p2"], end, 4 * 3600, STEP)
    spike_ts = end - 600
    samples["p1"] = [(t, 500.0 if t == spike_ts else v) for t, v in samples["p1"]]
    prom = prometheus_factory(history=to_history("shop_latency_ms", samples))
    prom.start()
    settings = settings_for(
        prom.url, "shop_latency_ms", tmp_path, training_window="2h", threshold=0.99999, checkpoint_interval="2h"
    )
    store = open_store(settings)
    clock = ManualClock(end - 3600)
    first = make_daemon(settings, clock, store)
    first.tick()  # backfill, checkpointed
    clock.now = end
    assert {a.ts for a in first.tick().anomalies} == {spike_ts}
    # the first daemon dies here without a final checkpoint: only its alerting cursor reached the store

    second = make_daemon(settings, clock, store)
    assert second.restore() == 1
    (pipeline,) = second.pipelines["prom"]
    assert pipeline.state_ts == end - 3600 and pipeline.processed_ts == end
    report = second.tick()  # re-runs the last hour to rebuild detector state

    assert report.anomalies == []
    assert pipeline.state_ts == end
    with store.session() as session:
        assert len(repo.list_anomalies(session)) == 1


def test_replay_prints_what_would_have_been_detected(prometheus_factory: PrometheusFactory, tmp_path: Path) -> None:
    import json

    import yaml
    from typer.testing import CliRunner

    from daemon.cli.main import app

    end = _end()
    samples = noisy_history("shop_latency_ms", ["p1", "p2"], end, 4 * 3600, STEP)
    spike_ts = end - 1200
    samples["p1"] = [(t, 450.0 if t == spike_ts else v) for t, v in samples["p1"]]
    prom = prometheus_factory(history=to_history("shop_latency_ms", samples))
    prom.start()
    config = tmp_path / "aiopsd.yaml"
    config.write_text(yaml.safe_dump({
        "daemon": {"interval": "15s", "state_dir": str(tmp_path / "state")},
        "detection": {"training_window": "2h"},
        "sources": {"prometheus": [{"name": "prom", "url": prom.url, "queries": [
            {"name": "latency", "promql": "shop_latency_ms", "detector": "ewma", "threshold": 0.99999,
             "entity": {"namespace": "namespace", "pod": "pod"}}]}]},
    }))  # fmt: skip
    result = CliRunner().invoke(
        app, ["replay", "--config", str(config), "--start", str(end - 3600), "--end", str(end), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout[result.stdout.index("[") :])
    assert [(r["labels"]["pod"], r["time"]) for r in rows] == [("p1", format_time(spike_ts))]
    assert not (tmp_path / "state").exists()  # a replay neither writes the store nor acts
    bad = CliRunner().invoke(app, ["replay", "--config", str(config), "--start", "-1h", "--end", "-2h"])
    assert bad.exit_code == 2 and "must be after" in bad.output
