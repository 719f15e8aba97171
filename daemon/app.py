"""Composition: settings → store, sources, detectors, sinks, HTTP server → a Daemon ready to run."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter

from daemon.health import HealthState
from daemon.http import HttpServer, build_app
from daemon.loop import Daemon, TickSink
from daemon.metrics import DaemonMetrics
from daemon.settings import Settings, read_secret
from daemon.sources.base import MetricSource
from daemon.sources.prometheus import PrometheusSource
from daemon.store import Store
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

    def close(self) -> None:
        if self.http is not None:
            self.http.stop()
        self.store.dispose()


def build_application(
    settings: Settings,
    *,
    registry: DetectorRegistry | None = None,
    sources: Sequence[MetricSource] | None = None,
    sinks: Sequence[TickSink] = (),
    routers: Sequence[APIRouter] = (),
    serve_http: bool = True,
) -> Application:
    store = open_store(settings)
    metrics = DaemonMetrics()
    health = HealthState(tick_interval=settings.daemon.interval.total_seconds())
    daemon = Daemon(
        settings,
        store,
        list(sources) if sources is not None else build_sources(settings),
        registry or builtin_registry(),
        metrics=metrics,
        health=health,
        sinks=sinks,
    )
    http = None
    if serve_http:
        token = read_secret(settings.daemon.api_token, settings.daemon.api_token_file, "daemon.api_token_file")
        http = HttpServer(build_app(health, metrics, routers, token), settings.daemon.listen)
    return Application(settings, store, daemon, http)
