"""Building blocks shared by the foundation's integration tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daemon.localprom import HistorySeries
from daemon.loop import Daemon
from daemon.settings import Settings
from daemon.sources.prometheus import PrometheusSource
from daemon.store import Store
from detectors import builtin_registry


def noisy_history(
    metric: str, pods: Sequence[str], end: float, span: float, step: float, seed: int = 7, level: float = 100.0
) -> dict[str, list[tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    times = np.arange(end - span + step, end + step / 2, step)
    return {pod: [(float(t), float(level + rng.normal(0, 2))) for t in times] for pod in pods}


def to_history(metric: str, samples: dict[str, list[tuple[float, float]]]) -> list[HistorySeries]:
    return [HistorySeries(metric, {"namespace": "shop", "pod": pod}, s) for pod, s in samples.items()]


def settings_for(url: str, promql: str, state_dir: Path, **detection: Any) -> Settings:
    query: dict[str, Any] = {
        "name": "latency",
        "promql": promql,
        "entity": {"namespace": "namespace", "pod": "pod"},
        "detector": detection.pop("detector", "ewma"),
        "params": detection.pop("params", {}),
    }
    if "threshold" in detection:
        query["threshold"] = detection.pop("threshold")
    interval = detection.pop("interval", "15s")
    return Settings(
        daemon={"interval": interval, "state_dir": str(state_dir), "listen": detection.pop("listen", "127.0.0.1:0")},
        sources={"prometheus": [{"name": "prom", "url": url, "queries": [query], "timeout": "2s"}]},
        detection=detection,
    )


def make_daemon(settings: Settings, clock: Any, store: Store | None) -> Daemon:
    sources = [PrometheusSource(cfg) for cfg in settings.sources.prometheus]
    return Daemon(settings, store, sources, builtin_registry(), clock=clock)


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
