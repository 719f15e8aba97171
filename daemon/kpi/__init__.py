"""KPIs of the daemon computed from the store (definitions in model.DEFINITIONS), and their /metrics collector."""

from daemon.kpi.collector import KpiCollector, kpi_metrics
from daemon.kpi.compute import compute_kpis
from daemon.kpi.model import DEFINITIONS, KpiReport, WindowKpis

__all__ = ["DEFINITIONS", "KpiCollector", "KpiReport", "WindowKpis", "compute_kpis", "kpi_metrics"]
