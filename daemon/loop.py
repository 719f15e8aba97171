"""The daemon loop: every interval, fetch → align → detect → record, then hand the anomalies to the sinks.

A source that is down does not stop the loop: it backs off exponentially, the other sources go on, /readyz and
``aiopsd_source_up`` say it is degraded, and when it answers again its pipelines fetch everything since their cursor
(up to ``detection.max_catch_up``). SIGTERM/SIGINT let the current tick finish, then the loop returns.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

from daemon.domain import Anomaly
from daemon.errors import QueryError, SourceError, SourceUnavailable
from daemon.health import HealthState, SourceHealth
from daemon.metrics import DaemonMetrics
from daemon.pipeline import FetchPlan, QueryPipeline, StepResult
from daemon.settings import Settings
from daemon.sources.base import MetricSource, RawSeries
from daemon.store import Store
from daemon.store import anomalies as repo
from detectors import DetectorRegistry

logger = logging.getLogger(__name__)
Clock = Callable[[], float]


class TickSink(Protocol):
    """A stage after detection (correlation, tickets, remediation) called once per tick, even with no anomaly."""

    def on_tick(self, anomalies: Sequence[Anomaly], now: float) -> None: ...


@dataclass
class TickReport:
    started: float
    anomalies: list[Anomaly] = field(default_factory=list)
    new_anomalies: int = 0
    series: int = 0
    points: int = 0
    fetch_seconds: float = 0.0
    align_seconds: float = 0.0
    detect_seconds: float = 0.0
    store_seconds: float = 0.0
    degraded: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fetched:
    pipeline: QueryPipeline
    plan: FetchPlan
    raw: list[RawSeries]


class Daemon:
    def __init__(
        self,
        settings: Settings,
        store: Store | None,
        sources: Sequence[MetricSource],
        registry: DetectorRegistry,
        *,
        clock: Clock = time.time,
        metrics: DaemonMetrics | None = None,
        health: HealthState | None = None,
        sinks: Sequence[TickSink] = (),
        on_anomalies: Callable[[Sequence[Anomaly]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.metrics = metrics or DaemonMetrics()
        self.health = health or HealthState(tick_interval=settings.daemon.interval.total_seconds())
        self.sinks = list(sinks)
        self.on_anomalies = on_anomalies
        self.stop_event = threading.Event()
        self.interval = settings.daemon.interval.total_seconds()
        by_name = {s.name: s for s in sources}
        self.sources: dict[str, MetricSource] = by_name
        self.pipelines: dict[str, list[QueryPipeline]] = {}
        self._lag: dict[str, float] = {}
        self._backoff_max: dict[str, float] = {}
        self._last_checkpoint: dict[tuple[str, str], float] = {}
        for cfg in settings.sources.prometheus:
            if cfg.name not in by_name:
                continue
            self.pipelines[cfg.name] = [
                QueryPipeline(cfg.name, q, self.interval, settings.detection, registry) for q in cfg.queries
            ]
            self._lag[cfg.name] = cfg.lag.total_seconds()
            self._backoff_max[cfg.name] = cfg.backoff_max.total_seconds()
            self.health.update_source(cfg.name, SourceHealth())
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.pipelines)), thread_name_prefix="aiopsd-fetch")

    # -- start-up --------------------------------------------------------------------------------------------
    def restore(self) -> int:
        """Load every pipeline's checkpoint from the store; returns how many resumed warm."""
        if self.store is None:
            return 0
        warm = 0
        with self.store.session() as session:
            for source, pipelines in self.pipelines.items():
                for p in pipelines:
                    cp = repo.load_checkpoint(session, source, p.query.name)
                    if cp is not None and p.restore(cp):
                        warm += 1
                        self._last_checkpoint[(source, p.query.name)] = self.clock()
        logger.info("restored %d of %d pipelines from the store", warm, self.pipeline_count)
        return warm

    @property
    def pipeline_count(self) -> int:
        return sum(len(p) for p in self.pipelines.values())

    # -- one tick --------------------------------------------------------------------------------------------
    def tick(self) -> TickReport:
        now = self.clock()
        report = TickReport(started=now)
        t0 = time.perf_counter()
        futures = {
            name: self._pool.submit(self._fetch_source, name, now) for name in self.pipelines if self._due(name, now)
        }
        fetched: list[_Fetched] = []
        for future in futures.values():
            fetched += future.result()
        report.fetch_seconds = time.perf_counter() - t0
        results: list[tuple[QueryPipeline, StepResult]] = []
        for item in fetched:
            step = item.pipeline.process(item.raw, item.plan)
            results.append((item.pipeline, step))
            report.align_seconds += step.timings.align
            report.detect_seconds += step.timings.detect
            report.series += step.series
            report.points += step.points
            report.anomalies += step.anomalies
            if item.plan.skipped:
                self.metrics.skipped_seconds.labels(item.pipeline.source).inc(item.plan.skipped)
                logger.warning(
                    "%s/%s: gap longer than max_catch_up, skipped %.0fs of history",
                    item.pipeline.source, item.pipeline.query.name, item.plan.skipped,
                )  # fmt: skip
        t1 = time.perf_counter()
        report.new_anomalies = self._persist(results, now)
        report.store_seconds = time.perf_counter() - t1
        for sink in self.sinks:
            sink.on_tick(report.anomalies, now)
        if self.on_anomalies is not None and report.anomalies:
            self.on_anomalies(report.anomalies)
        self._observe(report, results, time.perf_counter() - t0)
        return report

    def _due(self, name: str, now: float) -> bool:
        health = self.health.sources[name]
        return health.up or now >= health.next_attempt

    def _fetch_source(self, name: str, now: float) -> list[_Fetched]:
        source = self.sources[name]
        out: list[_Fetched] = []
        health = self.health.sources[name]
        for pipeline in self.pipelines[name]:
            plan = pipeline.plan(now, self._lag[name])
            if plan is None:
                continue
            try:
                raw = source.fetch_range(pipeline.promql, plan.start, plan.end, pipeline.step)
            except SourceUnavailable as exc:
                self._source_down(name, health, now, exc)
                return out
            except QueryError as exc:
                self.metrics.source_errors.labels(name, "query").inc()
                logger.error("%s/%s: %s", name, pipeline.query.name, exc)
                continue
            except SourceError as exc:
                self._source_down(name, health, now, exc)
                return out
            if plan.mode == "backfill":
                logger.info(
                    "%s/%s: backfilled %d series over %.0fs", name, pipeline.query.name, len(raw), plan.end - plan.start
                )
            out.append(_Fetched(pipeline, plan, raw))
        if not health.up:
            logger.info("source %s is back after %d failed attempt(s); catching up", name, health.failures)
        self.health.update_source(name, SourceHealth(up=True, last_success=now))
        self.metrics.source_up.labels(name).set(1)
        return out

    def _source_down(self, name: str, health: SourceHealth, now: float, exc: Exception) -> None:
        failures = health.failures + 1
        delay = min(self.interval * 2 ** min(failures - 1, 16), self._backoff_max[name])
        self.health.update_source(name, SourceHealth(False, failures, str(exc), health.last_success, now + delay))
        self.metrics.source_up.labels(name).set(0)
        self.metrics.source_errors.labels(name, "unavailable").inc()
        logger.warning("source %s is down (%s); next attempt in %.0fs", name, exc, delay)

    def _persist(self, results: list[tuple[QueryPipeline, StepResult]], now: float) -> int:
        if self.store is None:
            return len([a for _, s in results for a in s.anomalies])
        every = self.settings.detection.checkpoint_interval.total_seconds()
        with self.store.session() as session:
            new = repo.record_anomalies(session, [a for _, s in results for a in s.anomalies], now)
            for pipeline, _ in results:
                key = (pipeline.source, pipeline.query.name)
                if now - self._last_checkpoint.get(key, -1e18) >= every:
                    cp = pipeline.checkpoint()
                    if cp is not None:
                        repo.save_checkpoint(session, pipeline.source, pipeline.query.name, cp)
                        self._last_checkpoint[key] = now
                else:
                    repo.save_cursor(session, pipeline.source, pipeline.query.name, pipeline.processed_ts)
        return new

    def checkpoint_all(self) -> None:
        if self.store is None:
            return
        with self.store.session() as session:
            for source, pipelines in self.pipelines.items():
                for p in pipelines:
                    cp = p.checkpoint()
                    if cp is not None:
                        repo.save_checkpoint(session, source, p.query.name, cp)

    def _observe(self, report: TickReport, results: list[tuple[QueryPipeline, StepResult]], total: float) -> None:
        m = self.metrics
        for stage, seconds in (
            ("fetch", report.fetch_seconds), ("align", report.align_seconds), ("detect", report.detect_seconds),
            ("store", report.store_seconds), ("total", total),
        ):  # fmt: skip
            m.tick_seconds.labels(stage).observe(seconds)
        for pipeline, step in results:
            m.series.labels(pipeline.source, pipeline.query.name).set(step.series)
            m.points.labels(pipeline.source).inc(step.points)
        for a in report.anomalies:
            m.anomalies.labels(a.source, a.query, a.kind).inc()
        report.degraded = {n: h.last_error or "" for n, h in self.health.sources.items() if not h.up}
        self.health.tick_done(self.clock())
        ready, _ = self.health.ready()
        m.ready.set(1 if ready else 0)
        m.last_tick.set(self.clock())
        if self.store is not None:
            with self.store.session() as session:
                repo.log_run(
                    session, kind="tick", instance=self.settings.daemon.instance_name, started_at=report.started,
                    finished_at=self.clock(), series=report.series, points=report.points,
                    anomalies=report.new_anomalies, sources={"degraded": report.degraded}, error=None,
                )  # fmt: skip

    # -- running ---------------------------------------------------------------------------------------------
    def run_forever(self, once: bool = False, on_tick: Callable[[TickReport], None] | None = None) -> None:
        self._install_signals()
        try:
            while not self.stop_event.is_set():
                started = self.clock()
                report = self.tick()
                if on_tick is not None:
                    on_tick(report)
                if once:
                    break
                elapsed = self.clock() - started
                self.stop_event.wait(max(0.0, self.interval - elapsed))
        finally:
            self.checkpoint_all()
            self._pool.shutdown(wait=True)
            logger.info("daemon stopped")

    def stop(self) -> None:
        self.stop_event.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, _frame: FrameType | None) -> None:
            logger.info("received %s: finishing the current tick", signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
