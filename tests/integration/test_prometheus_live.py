"""The daemon running live against a real Prometheus that scrapes an exporter the test controls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from daemon.app import open_store
from daemon.localprom import LocalPrometheus
from daemon.store import anomalies as repo
from tests.harness.common import free_port, wait_until
from tests.harness.prometheus import LiveExporter, PrometheusFactory
from tests.integration.helpers import make_daemon, settings_for

pytestmark = pytest.mark.integration
PODS = ("p1", "p2", "p3")


class NoisyFeed:
    """Sets the exporter's gauges to noise around 10 every 0.2 s; ``spike`` makes one pod jump."""

    def __init__(self, exporter: LiveExporter) -> None:
        self.exporter = exporter
        self.spiking: str | None = None
        self._stop = threading.Event()
        self._rng = np.random.default_rng(3)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pod in PODS:
                value = 1000.0 if pod == self.spiking else 10 + self._rng.normal(0, 0.5)
                self.exporter.set("shop_queue_depth", {"namespace": "shop", "pod": pod}, value)
            self._stop.wait(0.2)

    def __enter__(self) -> NoisyFeed:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def feed(live_exporter: LiveExporter) -> Iterator[NoisyFeed]:
    with NoisyFeed(live_exporter) as running:
        yield running


def test_prometheus_killed_mid_run_daemon_survives_and_catches_up(
    prometheus_factory: PrometheusFactory, live_exporter: LiveExporter, feed: NoisyFeed, tmp_path: Path
) -> None:
    prom = prometheus_factory(targets=[live_exporter.target])
    prom.start()
    settings = settings_for(
        prom.url, "shop_queue_depth", tmp_path, interval="1s", training_window="10s",
        threshold=0.99999, params={"warmup": 5}, checkpoint_interval="1s",
    )  # fmt: skip
    store = open_store(settings)
    time.sleep(6)  # a few scrapes of history to train on
    daemon = make_daemon(settings, time.time, store)
    runner = threading.Thread(target=daemon.run_forever, daemon=True)
    runner.start()
    try:
        wait_until(lambda: daemon.health.ready()[0], 15, "daemon ready")
        prom.stop(kill=True)
        wait_until(lambda: not daemon.health.sources["prom"].up, 15, "source reported down")
        ready, body = daemon.health.ready()
        # still ready (alerts, API, actions go on; an unready pair would block drains), but it says what is down
        assert ready and body["status"] == "degraded" and "prom" in body["degraded_sources"]
        time.sleep(3)
        assert runner.is_alive()

        prom.start()
        wait_until(lambda: daemon.health.ready()[1]["status"] == "ok", 30, "source back up")
        (pipeline,) = daemon.pipelines["prom"]
        wait_until(lambda: pipeline.state_ts is not None and pipeline.state_ts >= time.time() - 3, 15, "caught up")
        time.sleep(4)  # the detector re-learns normal after the gap
        feed.spiking = "p3"
        spike_started = time.time()
        wait_until(lambda: _anomalies_for(store, "p3", spike_started), 20, "spike detected")
    finally:
        daemon.stop()
        runner.join(20)
    assert not runner.is_alive()
    with store.session() as session:
        rows = repo.list_anomalies(session, limit=10000)
    duplicates = [k for k, n in Counter((a.series_key, a.ts, a.kind) for a in rows).items() if n > 1]
    assert duplicates == []
    assert daemon.metrics.source_errors.labels("prom", "unavailable")._value.get() >= 1


def _anomalies_for(store: object, pod: str, since: float) -> bool:
    with store.session() as session:  # type: ignore[attr-defined]
        return any(a.labels.get("pod") == pod for a in repo.list_anomalies(session, since=since - 1))


def test_cli_run_serves_health_and_exits_zero_on_sigterm(
    prometheus_factory: PrometheusFactory, live_exporter: LiveExporter, feed: NoisyFeed, tmp_path: Path
) -> None:
    prom: LocalPrometheus = prometheus_factory(targets=[live_exporter.target])
    prom.start()
    port = free_port()
    config = {
        "daemon": {"interval": "1s", "listen": f"127.0.0.1:{port}", "state_dir": str(tmp_path / "state")},
        "sources": {"prometheus": [{"name": "prom", "url": prom.url, "queries": [
            {"name": "depth", "promql": "shop_queue_depth", "entity": {"pod": "pod"}, "detector": "ewma"}]}]},
        "detection": {"training_window": "5s"},
    }  # fmt: skip
    path = tmp_path / "aiopsd.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPSD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "daemon.cli.main", "run", "--config", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/readyz").status_code == 200, 30, "readyz")
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        series_line = 'aiopsd_series{query="depth",source="prom"} 3.0'
        wait_until(lambda: series_line in httpx.get(f"{base}/metrics").text, 30, "three series processed")
        metrics = httpx.get(f"{base}/metrics").text
        for name in ("aiopsd_tick_duration_seconds", "aiopsd_points_processed", "aiopsd_source_up", "aiopsd_ready 1.0"):
            assert name in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _out, err = proc.communicate()
    assert b"daemon stopped" in err
