"""Composition: settings → store, sources, detectors, sinks, HTTP server → a Daemon ready to run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import APIRouter

from daemon.api.alerts import alerts_router
from daemon.domain import ProblemEvent
from daemon.errors import SourceError
from daemon.health import HealthState
from daemon.http import HttpServer, build_app
from daemon.loop import Daemon, TickSink
from daemon.metrics import DaemonMetrics
from daemon.operations import ProblemStage
from daemon.settings import Settings, read_secret
from daemon.sources.base import MetricSource
from daemon.sources.prometheus import PrometheusSource
from daemon.store import Store
from daemon.topology.builders import InstantQuery
from detectors import DetectorRegistry, builtin_registry

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

    def close(self) -> None:
        if self.http is not None:
            self.http.stop()
        self.problems.close()
        self.store.dispose()


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
) -> Application:
    store = open_store(settings)
    metrics = DaemonMetrics()
    health = HealthState(tick_interval=settings.daemon.interval.total_seconds())
    source_list = list(sources) if sources is not None else build_sources(settings)
    problems = ProblemStage(settings, store, instant_query=_instant_query(source_list), on_events=on_events)
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
        all_routers = [alerts_router(problems.inbox), *routers]
        http = HttpServer(build_app(health, metrics, all_routers, token), settings.daemon.listen)
    return Application(settings, store, daemon, http, problems)
