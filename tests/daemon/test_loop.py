"""The loop and pipelines over a hand-written in-memory source (the real-Prometheus tests are in integration/)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from daemon.errors import QueryError, SourceUnavailable
from daemon.loop import Daemon
from daemon.settings import Settings
from daemon.sources.base import RawSeries
from detectors import builtin_registry

Series = dict[str, Callable[[float], float]]


class ScriptedSource:
    """Series defined as functions of time; ``down`` makes it unreachable, ``vanish`` hides a series."""

    name = "mem"

    def __init__(self, series: Series) -> None:
        self.series = series
        self.down = False
        self.calls: list[tuple[float, float]] = []

    def fetch_range(self, promql: str, start: float, end: float, step: float) -> list[RawSeries]:
        if self.down:
            raise SourceUnavailable("mem: connection refused")
        if promql == "bad":
            raise QueryError("mem: parse error")
        self.calls.append((start, end))
        ts = np.arange(math.ceil(start / step) * step, end + step / 2, step)
        return [
            RawSeries({"pod": pod}, ts, np.array([fn(t) for t in ts], dtype=float)) for pod, fn in self.series.items()
        ]


def settings(**detection: object) -> Settings:
    return Settings(
        daemon={"interval": "10s"},
        sources={"prometheus": [{"name": "mem", "url": "http://127.0.0.1:1", "queries": [
            {"name": "q", "promql": "x", "entity": {"pod": "pod"}, "detector": "ewma", "threshold": 0.9999,
             "params": {"warmup": 5}},
        ]}]},
        detection={"training_window": "300s", **detection},
    )  # fmt: skip


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def noise(seed: int) -> Callable[[float], float]:
    return lambda t: 10 + math.sin(t * 0.37 + seed)


def test_series_appearing_and_vanishing_are_handled() -> None:
    source = ScriptedSource({"a": noise(1), "b": noise(2)})
    clock = Clock(10_000)
    daemon = Daemon(settings(series_expiry="60s"), None, [source], builtin_registry(), clock=clock)
    daemon.tick()
    (pipeline,) = daemon.pipelines["mem"]
    assert [lab["pod"] for lab in pipeline.table.labels] == ["a", "b"]
    source.series["c"] = noise(3)
    del source.series["a"]
    for _ in range(8):
        clock.now += 10
        report = daemon.tick()
    assert [lab["pod"] for lab in pipeline.table.labels] == ["b", "c"]
    assert pipeline.detector.n_series == 2
    assert report.anomalies == []


def test_nan_values_are_skipped_not_crashed_on() -> None:
    source = ScriptedSource({"a": lambda t: float("nan") if int(t) % 20 == 0 else 5.0 + (t % 7) * 0.1})
    clock = Clock(10_000)
    daemon = Daemon(settings(), None, [source], builtin_registry(), clock=clock)
    daemon.tick()
    clock.now += 100
    assert daemon.tick().anomalies == []


def test_down_source_backs_off_and_catches_up_from_its_cursor() -> None:
    source = ScriptedSource({"a": noise(1)})
    clock = Clock(10_000)
    daemon = Daemon(settings(), None, [source], builtin_registry(), clock=clock)
    daemon.tick()
    source.down = True
    attempts = []
    for _ in range(6):
        clock.now += 10
        before = daemon.health.sources["mem"].failures
        daemon.tick()
        attempts.append(daemon.health.sources["mem"].failures > before)
    assert attempts == [True, True, False, True, False, False]  # retries after 10 s, 20 s, 40 s…
    ready, body = daemon.health.ready()
    assert ready and body["status"] == "degraded" and "mem" in body["degraded_sources"]
    source.down = False
    source.calls.clear()
    clock.now += 40
    daemon.tick()
    assert daemon.health.ready()[1]["status"] == "ok"
    assert source.calls == [(10_010, 10_100)]  # everything since the last processed point


def test_gap_longer_than_max_catch_up_is_skipped_and_counted() -> None:
    source = ScriptedSource({"a": noise(1)})
    clock = Clock(10_000)
    daemon = Daemon(settings(max_catch_up="100s"), None, [source], builtin_registry(), clock=clock)
    daemon.tick()
    clock.now += 1000
    daemon.tick()
    assert source.calls[-1] == (10_900, 11_000)
    assert daemon.metrics.skipped_seconds.labels("mem")._value.get() == 890


def test_query_error_affects_only_that_query() -> None:
    cfg = settings()
    data = cfg.model_dump()
    data["sources"]["prometheus"][0]["queries"].append({"name": "broken", "promql": "bad"})
    source = ScriptedSource({"a": noise(1)})
    daemon = Daemon(Settings(**data), None, [source], builtin_registry(), clock=Clock(10_000))
    report = daemon.tick()
    assert report.series == 1
    assert daemon.health.sources["mem"].up
    assert daemon.metrics.source_errors.labels("mem", "query")._value.get() == 1


def test_a_checkpoint_from_another_detector_version_means_a_fresh_backfill() -> None:
    from daemon.pipeline import PipelineCheckpoint, _to_npz

    source = ScriptedSource({"a": noise(1)})
    daemon = Daemon(settings(), None, [source], builtin_registry(), clock=Clock(10_000))
    daemon.tick()
    (pipeline,) = daemon.pipelines["mem"]
    saved = pipeline.checkpoint()
    assert saved is not None
    old_format = PipelineCheckpoint(
        saved.detector, saved.config_hash, saved.state_ts, saved.processed_ts, saved.series,
        _to_npz({"d:legacy": np.zeros(1), "c:value": np.zeros(1), "c:ts": np.zeros(1)}),
    )  # fmt: skip
    fresh = Daemon(settings(), None, [source], builtin_registry(), clock=Clock(10_100))
    (restored,) = fresh.pipelines["mem"]
    assert restored.restore(old_format) is False
    assert restored.state_ts is None  # so its first tick backfills the training window
    assert restored.restore(saved) is True


def test_a_new_series_may_not_alarm_during_its_grace_period() -> None:
    jump = {"at": 1e18}
    source = ScriptedSource({"a": noise(1), "b": lambda t: 10 + math.sin(t * 0.37) + (50 if t >= jump["at"] else 0)})
    clock = Clock(10_000)
    daemon = Daemon(settings(new_series_grace="120s"), None, [source], builtin_registry(), clock=clock)
    daemon.tick()
    source.series["c"] = lambda t: 10 + math.sin(t * 0.37 + 5) + (50 if t >= jump["at"] else 0)  # a new pod
    clock.now += 60
    daemon.tick()
    jump["at"] = clock.now + 5
    clock.now += 20
    alarmed = {a.labels["pod"] for a in daemon.tick().anomalies}
    assert alarmed == {"b"}  # "c" jumped too, but it appeared 80 s ago
    clock.now += 200
    daemon.tick()
    source.series["c"] = lambda t: 10 + math.sin(t * 0.37 + 5) + (150 if t >= clock.now - 10 else 50)
    clock.now += 20
    assert "c" in {a.labels["pod"] for a in daemon.tick().anomalies}  # old enough now
