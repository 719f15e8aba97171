"""The shop's /metrics and a small control endpoint through which actions reach the simulated workloads."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from daemon.demo.workload import Shop
from daemon.exposition import MetricsEndpoint
from daemon.localprom import HistorySeries

logger = logging.getLogger(__name__)


def family_of(metric: str) -> tuple[str, str]:
    """Exposition name → (family name, type): ``x_total`` is the sample of counter family ``x``."""
    if metric.endswith("_total"):
        return metric.removesuffix("_total"), "counter"
    return metric, "gauge"


class ShopCollector(Collector):
    """The shop's metrics as of the latest ``resolution``-aligned instant, stamped with it: live samples then
    share the phase of the history (which is sampled on the same grid), so rates across the seam are exact."""

    def __init__(self, shop: Shop, clock: Callable[[], float] = time.time, resolution: float = 5.0) -> None:
        self.shop = shop
        self.clock = clock
        self.resolution = resolution

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        t = math.floor(self.clock() / self.resolution) * self.resolution
        for metric, labels, value in self.shop.samples(t):
            name, kind = family_of(metric)
            family = families.get(name)
            if family is None:
                family = families[name] = Metric(name, f"simulated shop: {name}", kind)
            family.add_sample(metric, labels, value, timestamp=t)  # pods of different kinds: other label names
        yield from families.values()


def shop_history(
    shop: Shop, start: float, end: float, step: float, target_labels: dict[str, str]
) -> list[HistorySeries]:
    """The shop's series sampled every ``step`` over [start, end], for promtool, labelled as Prometheus labels the
    live scrape (``job``, ``instance``) so history and live data are the same series."""
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {}
    t = start
    while t <= end:
        for metric, labels, value in shop.samples(t):
            series.setdefault((metric, tuple(sorted((labels | target_labels).items()))), []).append((t, value))
        t += step
    out = []
    for (metric, label_pairs), samples in series.items():
        name, kind = family_of(metric)
        out.append(HistorySeries(name, dict(label_pairs), samples, kind))
    return out


class ShopControl:
    """``POST /actions/restart/<workload>`` and ``POST /actions/clean-volume/<statefulset>`` on 127.0.0.1."""

    def __init__(self, shop: Shop, clock: Callable[[], float] = time.time, port: int = 0) -> None:
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "actions":
                    self._reply(404, {"error": "expected /actions/<restart|clean-volume>/<name>"})
                    return
                _, action, name = parts
                try:
                    result = control.act(action, name)
                except (KeyError, StopIteration):
                    self._reply(404, {"error": f"unknown action or workload: {action} {name}"})
                    return
                self._reply(200, result)

            def _reply(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug(format, *args)

        self.shop = shop
        self.clock = clock
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="shop-control", daemon=True)
        self._thread.start()

    def act(self, action: str, name: str) -> dict[str, object]:
        now = self.clock()
        if action == "restart":
            return {"restarted": name, "pods": self.shop.restart(name, now)}
        if action == "clean-volume":
            self.shop.workload(name)
            self.shop.clean_volume(name, now)
            return {"cleaned": name}
        raise KeyError(action)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_shop(shop: Shop) -> MetricsEndpoint:
    registry = CollectorRegistry()
    registry.register(ShopCollector(shop))
    return MetricsEndpoint(registry)
