"""Composition: settings → store, sources, detectors, sinks, HTTP server → a Daemon ready to run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from daemon.acting import LearntConfidence, RemediationStage
from daemon.api.alerts import alerts_router
from daemon.api.changes import build_changes_router
from daemon.api.commands import build_commands_router
from daemon.api.read import build_read_router
from daemon.domain import ProblemEvent
from daemon.errors import SourceError
from daemon.health import HealthState
from daemon.http import HttpServer, build_app
from daemon.kpi import KpiCollector
from daemon.leader import elector_from_settings
from daemon.loop import Daemon, TickSink
from daemon.metrics import DaemonMetrics
from daemon.operations import ProblemStage
from daemon.remediation.wiring import build_remediator
from daemon.settings import Settings, read_secret
from daemon.sources.base import MetricSource
from daemon.sources.prometheus import PrometheusSource
from daemon.store import Store
from daemon.topology.builders import InstantQuery
from daemon.topology_kube import KubeTopologyWatcher
from detectors import DetectorRegistry, builtin_registry
from remediations.errors import RemediationError
from remediations.kube import KubeCluster, api_client_from

logger = logging.getLogger(__name__)


def build_sources(settings: Settings) -> list[MetricSource]:
    return [PrometheusSource(cfg) for cfg in settings.sources.prometheus]


def open_store(settings: Settings) -> Store:
    # import the table modules so every ORM model is known before use
    import daemon.store.models  # noqa: F401

    store = Store(settings.store_url(), echo=settings.store.echo)
    store.migrate()
    return store


@dataclass
class Application:
    settings: Settings
    store: Store
    daemon: Daemon
    http: HttpServer | None
    problems: ProblemStage
    leader_stop: threading.Event | None = None
    leader_thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve HTTP, restore detector state, continue interrupted actions, and compete for leadership."""
        if self.http is not None:
            self.http.start()
        self.daemon.restore()
        if self.leader_thread is not None:
            self.leader_thread.start()
        elif self.problems.acting is not None:
            self.problems.acting.recover()

    def close(self) -> None:
        if self.leader_stop is not None and self.leader_thread is not None:
            self.leader_stop.set()
            if self.leader_thread.is_alive():
                self.leader_thread.join(15)
        if self.http is not None:
            self.http.stop()
        self.problems.close()
        self.store.dispose()


def build_acting(
    settings: Settings,
    store: Store,
    problems: ProblemStage,
    kubeconfig: Path | None = None,
    remediation_off: str | None = None,
) -> tuple[RemediationStage, Any]:
    """The remediation stage; without usable Kubernetes credentials (or with ``remediation_off`` saying why) it
    still decides, and escalates with the suggested fix instead of acting. Returns the stage and the API client
    (None without a cluster)."""
    section = settings.remediation
    executor, api_client, reason = None, None, remediation_off or "no Kubernetes cluster is configured"
    if remediation_off is None:
        try:
            api_client = api_client_from(kubeconfig or section.kubeconfig, section.context)
            executor = build_remediator(settings, store, cluster=KubeCluster(api_client)).executor
        except RemediationError as exc:
            reason = f"remediation is off: {exc}"
    if executor is None:
        logger.warning("%s; problems are escalated with the suggested runbook instead", reason)
    stage = RemediationStage(
        section.automation, problems.correlator, problems.topology, store, executor,
        instance=settings.daemon.instance_name, unavailable_reason=reason,
        knowledge=LearntConfidence(problems.knowledge),
    )  # fmt: skip
    return stage, api_client


def _leadership(
    settings: Settings, api_client: Any, problems: ProblemStage
) -> tuple[threading.Event, threading.Thread] | None:
    """Several replicas: only the holder of the Lease correlates, acts and writes tickets (followers detect and
    record, so a new leader continues from the shared store)."""
    section = settings.remediation.leader_election
    if not section.enabled or api_client is None:
        return None
    elector = elector_from_settings(section, api_client, settings.daemon.instance_name)
    acting = problems.acting
    if acting is not None and acting.executor is not None:
        acting.executor.is_leader = lambda: elector.is_leader
    problems.writes_enabled.clear()
    # the gap a new leader replays: the old one may have been silent for a lease duration, plus a few ticks
    problems.share(section.lease_duration.total_seconds() + 3 * settings.daemon.interval.total_seconds())

    def started() -> None:
        # the next tick, in the loop's thread, takes over: problems reloaded, the gap replayed, actions adopted
        logger.info("%s is the leader: correlating, acting and writing tickets", settings.daemon.instance_name)
        problems.writes_enabled.set()

    def stopped() -> None:
        logger.info("%s is no longer the leader", settings.daemon.instance_name)
        problems.writes_enabled.clear()

    stop = threading.Event()
    thread = threading.Thread(target=elector.run, args=(stop, started, stopped), name="aiopsd-leader", daemon=True)
    return stop, thread


def _instant_query(sources: Sequence[MetricSource]) -> InstantQuery | None:
    prometheus = next((s for s in sources if isinstance(s, PrometheusSource)), None)
    if prometheus is None:
        return None

    def query(promql: str) -> list[tuple[dict[str, str], float]]:
        try:
            return prometheus.instant(promql)
        except SourceError as exc:
            logger.warning("request-metric dependencies not refreshed: %s", exc)
            return []

    return query


def build_application(
    settings: Settings,
    *,
    registry: DetectorRegistry | None = None,
    sources: Sequence[MetricSource] | None = None,
    sinks: Sequence[TickSink] = (),
    routers: Sequence[APIRouter] = (),
    serve_http: bool = True,
    on_events: Callable[[Sequence[ProblemEvent]], None] | None = None,
    kubeconfig: Path | None = None,
    remediation_off: str | None = None,
) -> Application:
    store = open_store(settings)
    metrics = DaemonMetrics()
    health = HealthState(tick_interval=settings.daemon.interval.total_seconds())
    source_list = list(sources) if sources is not None else build_sources(settings)
    metrics.registry.register(KpiCollector(store, settings.kpi, time.time))
    problems = ProblemStage(
        settings, store, instant_query=_instant_query(source_list), on_events=on_events, metrics=metrics
    )
    api_client = None
    if settings.remediation.automation.enabled:
        problems.acting, api_client = build_acting(settings, store, problems, kubeconfig, remediation_off)
    if settings.correlation.topology.kubernetes:
        watch_client = api_client
        if watch_client is None and remediation_off is None:  # automation off: the watch still needs credentials
            try:
                watch_client = api_client_from(
                    kubeconfig or settings.remediation.kubeconfig, settings.remediation.context
                )
            except RemediationError as exc:
                logger.warning("correlation.topology.kubernetes is on but there is no cluster to watch: %s", exc)
        if watch_client is not None:
            watcher = KubeTopologyWatcher(watch_client, problems.topology)
            watcher.start()
            problems.watcher = watcher
    leadership = _leadership(settings, api_client, problems)
    daemon = Daemon(
        settings,
        store,
        source_list,
        registry or builtin_registry(),
        metrics=metrics,
        health=health,
        sinks=[problems, *sinks],
    )
    http = None
    if serve_http:
        token = read_secret(settings.daemon.api_token, settings.daemon.api_token_file, "daemon.api_token_file")
        all_routers = [
            alerts_router(problems.inbox),
            build_read_router(store, settings.kpi, time.time),
            build_changes_router(store, settings.changes),
            build_commands_router(store),
            *routers,
        ]
        http = HttpServer(build_app(health, metrics, all_routers, token), settings.daemon.listen)
    stop, thread = leadership if leadership is not None else (None, None)
    return Application(settings, store, daemon, http, problems, stop, thread)
