"""Metric sources: fetch query results over a time range as raw series."""

from daemon.sources.base import MetricSource, RawSeries

__all__ = ["MetricSource", "RawSeries"]
