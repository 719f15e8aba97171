"""``aiopsd demo``: a local Prometheus with the shop's history, the live shop exporter, and the daemon watching it."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.app import build_application
from daemon.demo.exporter import ShopControl, serve_shop, shop_history
from daemon.demo.workload import WORKLOADS, Shop
from daemon.domain import Anomaly, ProblemEvent
from daemon.localprom import LocalPrometheus, free_port
from daemon.loop import TickReport
from daemon.settings import Settings
from daemon.settings.loader import read_yaml
from daemon.timeparse import format_time

logger = logging.getLogger(__name__)
HISTORY = 3 * 3600.0
QUIET = 120.0  # a series already reported is reported again only after this long without anomalies


@dataclass
class DemoReporter:
    """Turns ticks into a readable story: faults as they start, first detections per series, quiet repeats."""

    shop: Shop
    echo: Callable[[str], None]
    last_seen: dict[tuple[str, str, str], float] = field(default_factory=dict)
    announced: set[str] = field(default_factory=set)
    ticks: int = 0
    first_detection: dict[str, float] = field(default_factory=dict)

    def on_tick(self, report: TickReport) -> None:
        self.ticks += 1
        now = report.started
        for fault in self.shop.faults:
            begin = self.shop.start + fault.start
            if fault.name not in self.announced and now >= begin:
                self.announced.add(fault.name)
                self.echo(f"{format_time(begin)}  ▶ FAULT      {fault.name} in {fault.target}: {fault.description}")
        if self.ticks == 1:
            self.echo(f"{format_time(now)}  tick 1: {report.series} series backfilled and learnt; watching")
        for a in sorted(report.anomalies, key=lambda x: x.ts):
            self._report(a)
        if report.degraded:
            self.echo(f"{format_time(now)}  ! degraded sources: {', '.join(report.degraded)}")

    def on_events(self, events: Sequence[ProblemEvent]) -> None:
        for event in events:
            if event.kind not in ("opened", "resolved", "reopened", "merged", "mitigating", "verified", "escalated"):
                continue
            p = event.problem
            line = f"{format_time(event.ts)}  PROBLEM    {event.kind:<9} {p.title} [{p.severity}]"
            if event.kind in ("opened", "reopened") and p.root_causes:
                top = p.root_causes[0]
                line += f"\n{' ' * 22}  root cause: {top.entity} ({top.confidence:.0%}): {'; '.join(top.reasons[:2])}"
            self.echo(line)

    def _report(self, a: Anomaly) -> None:
        key = (a.query, a.series_key, a.kind)
        previous = self.last_seen.get(key)
        self.last_seen[key] = a.ts
        if previous is not None and a.ts - previous < QUIET:
            return
        entity = a.entities.get("deployment") or a.entities.get("statefulset") or next(iter(a.entities.values()), "")
        pod = a.labels.get("pod")
        where = f"{entity}" + (f" pod {pod}" if pod else "")
        if a.kind == "forecast" and a.time_to_exhaustion is not None:
            detail = f"capacity reached in ~{max(a.time_to_exhaustion, 0) / 60:.0f} min (now {a.value:.3g})"
        else:
            arrow = {1: "above", -1: "below"}.get(a.direction, "off")
            expected = f"{a.expected:.3g}" if a.expected is not None else "?"
            detail = f"{a.value:.3g} is {arrow} the expected ~{expected}"
        self.echo(f"{format_time(a.ts)}  DETECTED   {a.query:<9} {where}: {detail} (score {a.score:.4f})")
        for fault in self.shop.faults:
            begin = self.shop.start + fault.start
            if fault.target in entity and fault.name not in self.first_detection and a.ts >= begin:
                self.first_detection[fault.name] = a.ts
                self.echo(f"{' ' * 22}→ {fault.name} detected {a.ts - begin:.0f}s after it started")


def demo_settings(config: Path, prometheus_url: str, state_dir: Path, listen: str | None) -> Settings:
    data, _ = read_yaml(config)
    data.setdefault("daemon", {})["state_dir"] = str(state_dir)
    if listen is not None:
        data["daemon"]["listen"] = listen
    for source in data.get("sources", {}).get("prometheus", []):
        source["url"] = prometheus_url
    return Settings(**data)


def _port_free(listen: str) -> bool:
    import socket

    host, _, port = listen.rpartition(":")
    with socket.socket() as sock:
        try:
            sock.bind((host, int(port)))
        except OSError:
            return False
    return True


def run_demo(
    config: Path,
    workdir: Path,
    duration: float | None = None,
    echo: Callable[[str], None] = print,
    faults: Sequence[Any] | None = None,
) -> DemoReporter:
    """Start everything, run until Ctrl-C (or ``duration`` seconds), stop everything. Returns the story told."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    start = time.time()
    shop = Shop(start=start) if faults is None else Shop(start=start, faults=tuple(faults))
    step = 10.0
    end = math.floor((start - 1) / step) * step
    echo("aiopsd demo: a simulated shop on a local Prometheus, watched by aiopsd (Ctrl-C stops everything)")
    exporter = serve_shop(shop)
    control = ShopControl(shop)
    prom = LocalPrometheus(workdir / "prometheus", scrape_targets=[exporter.target], scrape_interval="5s", job="shop")
    app = None
    try:
        began = time.monotonic()
        target = {"job": prom.job, "instance": exporter.target}
        samples = prom.load_history(shop_history(shop, end - HISTORY, end, step, target))
        echo(f"  history     {samples:,} samples over the last {HISTORY / 3600:.0f} h loaded with promtool "
             f"({time.monotonic() - began:.1f}s)")  # fmt: skip
        prom.start()
        prom.wait_for_scrape()
        echo(f"  prometheus  {prom.url}")
        echo(f"  shop        http://{exporter.target}/metrics   actions: POST {control.url}/actions/restart/<name>")
        pods = sum(w.replicas for w in WORKLOADS)
        echo(f"              {len(WORKLOADS)} workloads, {pods} pods in namespace shop")
        settings = demo_settings(config, prom.url, workdir / "state", None)
        if not _port_free(settings.daemon.listen):
            settings = demo_settings(config, prom.url, workdir / "state", f"127.0.0.1:{free_port()}")
        reporter = DemoReporter(shop, echo)
        app = build_application(settings, on_events=reporter.on_events)
        assert app.http is not None
        app.http.start()
        echo(f"  aiopsd      http://{settings.daemon.listen}/metrics  /readyz  (tick every "
             f"{settings.daemon.interval.total_seconds():.0f}s)")  # fmt: skip
        echo("  faults to come:")
        for fault in shop.faults:
            echo(f"    +{fault.start:>4.0f}s  {fault.name} in {fault.target}: {fault.description}")
        daemon = app.daemon
        deadline = None if duration is None else time.monotonic() + duration

        def on_tick(report: TickReport) -> None:
            reporter.on_tick(report)
            if deadline is not None and time.monotonic() >= deadline:
                daemon.stop()

        daemon.run_forever(on_tick=on_tick)
        return reporter
    finally:
        if app is not None:
            app.close()
        prom.stop()
        control.close()
        exporter.close()
        echo("demo stopped: Prometheus, the shop and the daemon are down")
