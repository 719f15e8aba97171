"""Real Prometheus for tests: its own instance on 127.0.0.1 with a temp TSDB, history loaded with promtool, and
live series from a small exporter the test controls."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from daemon.exposition import MetricsEndpoint
from daemon.localprom import HistorySeries, LocalPrometheus
from tests.harness.common import unavailable


class LiveExporter(Collector):
    """Gauges whose values the test sets: ``exporter.set("cpu", {"pod": "a"}, 0.5)``."""

    def __init__(self) -> None:
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._lock = threading.Lock()
        registry = CollectorRegistry()
        registry.register(self)
        self.endpoint = MetricsEndpoint(registry)

    @property
    def target(self) -> str:
        return self.endpoint.target

    def set(self, metric: str, labels: dict[str, str], value: float) -> None:
        with self._lock:
            self._values.setdefault(metric, {})[tuple(sorted(labels.items()))] = value

    def remove(self, metric: str, labels: dict[str, str]) -> None:
        with self._lock:
            self._values.get(metric, {}).pop(tuple(sorted(labels.items())), None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            snapshot = {m: dict(v) for m, v in self._values.items()}
        for metric, series in snapshot.items():
            names = sorted({k for key in series for k, _ in key})
            family = GaugeMetricFamily(metric, f"test gauge {metric}", labels=names)
            for key, value in series.items():
                labels = dict(key)
                family.add_metric([labels.get(n, "") for n in names], value)
            yield family

    def close(self) -> None:
        self.endpoint.close()


PrometheusFactory = Callable[..., LocalPrometheus]


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[PrometheusFactory]:
    """Build (not start) a LocalPrometheus: ``factory(history=[...], targets=[...])``; stopped after the test."""
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        unavailable("Prometheus", "the Debian package 'prometheus' is not installed (make test installs it)")
    made: list[LocalPrometheus] = []

    def factory(
        history: Sequence[HistorySeries] = (), targets: Sequence[str] = (), scrape_interval: str = "1s"
    ) -> LocalPrometheus:
        prom = LocalPrometheus(tmp_path / f"prom{len(made)}", scrape_targets=targets, scrape_interval=scrape_interval)
        if history:
            prom.load_history(history)
        made.append(prom)
        return prom

    yield factory
    for prom in made:
        prom.stop(kill=True)


@pytest.fixture
def live_exporter() -> Iterator[LiveExporter]:
    exporter = LiveExporter()
    yield exporter
    exporter.close()
