"""The Prometheus source, built on prometheus-api-client (the only module that imports it)."""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException

from daemon.errors import QueryError, SourceUnavailable
from daemon.settings import PrometheusSourceSettings, read_secret
from daemon.sources.base import RawSeries

logger = logging.getLogger(__name__)
_STATUS = re.compile(r"HTTP Status Code (\d+)")


def chunk_ranges(start: float, end: float, step: float, max_points: int) -> list[tuple[float, float]]:
    """Split [start, end] on the step grid into ranges of at most ``max_points`` evaluation points each."""
    if end < start:
        return []
    total = math.floor((end - start) / step + 1e-9) + 1
    chunks = []
    for first in range(0, total, max_points):
        last = min(first + max_points, total) - 1
        chunks.append((start + first * step, start + last * step))
    return chunks


def _format_step(step: float) -> str:
    return f"{step:g}s"


class PrometheusSource:
    """Range queries against one Prometheus, chunked under its 11,000-point limit."""

    def __init__(self, settings: PrometheusSourceSettings) -> None:
        self.name = settings.name
        self.settings = settings
        headers: dict[str, str] = {}
        token = read_secret(settings.bearer_token, settings.bearer_token_file, f"sources.{settings.name}.bearer_token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = PrometheusConnect(url=settings.url, headers=headers or None, disable_ssl=not settings.verify_tls)
        self._timeout = settings.timeout.total_seconds()

    def fetch_range(self, promql: str, start: float, end: float, step: float) -> list[RawSeries]:
        by_labels: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
        for chunk_start, chunk_end in chunk_ranges(start, end, step, self.settings.max_points_per_request):
            for item in self._query(promql, chunk_start, chunk_end, step):
                key = tuple(sorted(item["metric"].items()))
                by_labels.setdefault(key, []).append(item["values"])
        out = []
        for key, parts in by_labels.items():
            samples = [pair for part in parts for pair in part]
            arr = np.asarray(samples, dtype=object).reshape(-1, 2)
            out.append(
                RawSeries(
                    labels=dict(key),
                    timestamps=arr[:, 0].astype(np.float64),
                    values=arr[:, 1].astype(np.float64),
                )
            )
        return out

    def _query(self, promql: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        try:
            result: list[dict[str, Any]] = self._client.custom_query_range(
                promql,
                start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC),
                step=_format_step(step),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise SourceUnavailable(f"{self.name}: cannot reach {self.settings.url}: {type(exc).__name__}") from exc
        except PrometheusApiClientException as exc:
            status = _STATUS.search(str(exc))
            code = int(status.group(1)) if status else 0
            if code in (0, 502, 503, 504):
                raise SourceUnavailable(f"{self.name}: {self.settings.url} answered {exc}") from exc
            raise QueryError(f"{self.name}: query {promql!r} was rejected: {str(exc)[:400]}") from exc
        except (ValueError, KeyError) as exc:
            raise QueryError(f"{self.name}: query {promql!r}: unexpected answer ({exc})") from exc
        return result

    def instant(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """An instant query: (labels, value) per result series (used for topology from request metrics)."""
        try:
            result: list[dict[str, Any]] = self._client.custom_query(promql, timeout=self._timeout)
        except requests.RequestException as exc:
            raise SourceUnavailable(f"{self.name}: cannot reach {self.settings.url}: {type(exc).__name__}") from exc
        except PrometheusApiClientException as exc:
            raise QueryError(f"{self.name}: query {promql!r} was rejected: {str(exc)[:400]}") from exc
        return [(dict(item["metric"]), float(item["value"][1])) for item in result]

    def check(self) -> bool:
        try:
            return bool(self._client.check_prometheus_connection())
        except (requests.RequestException, PrometheusApiClientException):
            return False
