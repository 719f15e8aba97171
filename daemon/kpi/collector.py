"""``KpiCollector``: the KPIs as ``aiopsd_kpi_*`` gauges on /metrics, recomputed at most every ``kpi.cache_ttl``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from daemon.errors import StoreError
from daemon.kpi.compute import compute_kpis
from daemon.kpi.model import KpiReport
from daemon.settings.kpi import KpiSettings
from daemon.store.db import Store

logger = logging.getLogger(__name__)


class KpiCollector(Collector):
    """Register on the daemon's registry: ``registry.register(KpiCollector(store, settings, clock))``."""

    def __init__(self, store: Store, settings: KpiSettings, clock: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._cached: tuple[float, KpiReport] | None = None

    def report(self) -> KpiReport:
        now = self.clock()
        if self._cached is not None and now - self._cached[0] < self.settings.cache_ttl.total_seconds():
            return self._cached[1]
        # gauges need the window only, not the weekly trend of the report
        settings = self.settings.model_copy(update={"weeks": 1})
        report = compute_kpis(self.store, settings, now - self.settings.window.total_seconds(), now)
        self._cached = (now, report)
        return report

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # computed on scrape; describing would read the store at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            report = self.report()
        except StoreError as exc:
            # a scrape must not fail because the store is down: the KPI gauges are left out and health says why
            logger.warning("KPIs not computed: %s", exc)
            return
        yield from kpi_metrics(report)


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc)
    if value is not None:
        gauge.add_metric([], value)
    return gauge


def kpi_metrics(report: KpiReport) -> Iterator[GaugeMetricFamily]:
    s = report.summary
    yield _gauge("aiopsd_kpi_deflection_rate", "Resolved problems with no human involvement / resolved problems.",
                 s.deflection_rate)  # fmt: skip
    auto = GaugeMetricFamily(
        "aiopsd_kpi_auto_resolution_rate",
        "Problems resolved by a verified automated action / resolved, by category.",
        labels=["category"],
    )
    for category in report.categories:
        if category.auto_resolution_rate is not None:
            auto.add_metric([category.category], category.auto_resolution_rate)
    yield auto
    yield _gauge("aiopsd_kpi_mttd_seconds", "Mean time from a problem's first anomaly to its opening.", s.mttd_seconds)
    yield _gauge("aiopsd_kpi_mttr_seconds", "Mean time from a problem's opening to its resolution.", s.mttr_seconds)
    yield _gauge("aiopsd_kpi_cost_per_resolution", f"Blended cost per resolved problem ({report.cost.currency}).",
                 report.cost.cost_per_resolution)  # fmt: skip
    yield _gauge("aiopsd_kpi_knowledge_freshness", "Share of knowledge articles with a recently verified fix.",
                 report.knowledge_freshness)  # fmt: skip
    escalations = GaugeMetricFamily(
        "aiopsd_kpi_escalations_total",
        "Escalations of problems opened in the KPI window, by reason.",
        labels=["reason"],
    )
    for reason, count in report.escalations_by_reason.items():
        escalations.add_metric([reason], count)
    yield escalations
