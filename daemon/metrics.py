"""The daemon's own metrics, on a registry it owns (tests pass a fresh one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class DaemonMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.tick_seconds = Histogram(
            "aiopsd_tick_duration_seconds",
            "Duration of one tick, by stage (fetch, align, detect, store, sinks, total).",
            ["stage"],
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
        )
        self.series = Gauge("aiopsd_series", "Series processed in the last tick.", ["source", "query"], registry=r)
        self.points = Counter("aiopsd_points_processed", "Points run through detectors.", ["source"], registry=r)
        self.anomalies = Counter("aiopsd_anomalies", "Anomalies recorded.", ["source", "query", "kind"], registry=r)
        self.source_errors = Counter(
            "aiopsd_source_errors", "Failed fetches by source and reason.", ["source", "reason"], registry=r
        )
        self.source_up = Gauge("aiopsd_source_up", "1 when the source answered its last fetch.", ["source"], registry=r)
        self.ready = Gauge("aiopsd_ready", "1 when every source is up and a tick has completed.", registry=r)
        self.last_tick = Gauge("aiopsd_last_tick_timestamp_seconds", "When the last tick finished.", registry=r)
        self.outbox_pending = Gauge(
            "aiopsd_outbox_pending", "Ticket and notification calls waiting in the outbox.", ["channel"], registry=r
        )
        self.skipped_seconds = Counter(
            "aiopsd_catch_up_skipped_seconds", "History skipped after outages longer than max_catch_up.",
            ["source"], registry=r,
        )  # fmt: skip
