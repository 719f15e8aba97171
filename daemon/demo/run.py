"""``aiopsd demo``: a local Prometheus with the shop's history, the live shop exporter, and the daemon watching it."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from daemon.app import build_application
from daemon.cli.output import render_table
from daemon.demo.cluster import ShopCluster
from daemon.demo.exporter import ShopControl, serve_shop, shop_history
from daemon.demo.workload import WORKLOADS, Fault, Shop
from daemon.devcluster import DevControlPlane, start_if_cached
from daemon.domain import Anomaly, ProblemEvent
from daemon.kpi import compute_kpis
from daemon.localprom import LocalPrometheus, free_port
from daemon.loop import TickReport
from daemon.reports import kpi_report
from daemon.settings import Settings
from daemon.settings.loader import read_yaml
from daemon.store import Store
from daemon.tickets.models import TicketLinkRow
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
    events: list[ProblemEvent] = field(default_factory=list)
    pending: list[ProblemEvent] = field(default_factory=list)
    kpi_markdown: str = ""

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
        self._tell_events()
        if report.degraded:
            self.echo(f"{format_time(now)}  ! degraded sources: {', '.join(report.degraded)}")

    def on_events(self, events: Sequence[ProblemEvent]) -> None:
        """Problem events arrive during the tick; they are told after its detections."""
        self.events.extend(events)
        self.pending.extend(events)

    def _tell_events(self) -> None:
        pending, self.pending = self.pending, []
        for event in pending:
            p = event.problem
            at = f"{format_time(event.ts)}  "
            if event.kind in ("opened", "reopened"):
                line = f"{at}PROBLEM    {event.kind:<9} {p.title} [{p.severity}]"
                if p.root_causes:
                    top = p.root_causes[0]
                    line += f"\n{' ' * 24}root cause {top.entity} ({top.confidence:.0%}): {'; '.join(top.reasons[:2])}"
                self.echo(line)
            elif event.kind in ("resolved", "closed", "merged"):
                self.echo(f"{at}PROBLEM    {event.kind:<9} {p.title}")
            elif event.kind == "mitigating":
                self.echo(f"{at}ACTION     {event.details.get('message', event.message)}")
            elif event.kind == "action":
                self.echo(f"{at}ACTION     {event.message}")
            elif event.kind == "verified":
                ok = "recovered" if event.details.get("recovered") else "NOT recovered"
                self.echo(f"{at}VERIFIED   {ok}: {event.message}")
            elif event.kind == "escalated":
                self.echo(f"{at}ESCALATED  {p.title}: {event.message}")

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


def tickets_table(store: Store, system: str) -> str:
    """The tickets the demo's problems got (``aiopsd tickets list`` shows the same)."""
    with store.session() as session:
        links = session.scalars(
            select(TicketLinkRow).where(TicketLinkRow.system == system).order_by(TicketLinkRow.created_at)
        ).all()
        rows = [
            {"ticket": link.external_id or "-", "state": link.state, "severity": link.severity, "problem": link.title}
            for link in links
        ]
    return f"Tickets ({system}):\n" + (
        render_table(rows, ["ticket", "state", "severity", "problem"]) if rows else "(none)"
    )


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def demo_settings_data(
    config: Path, prometheus_url: str, state_dir: Path, listen: str | None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The demo's settings as a plain tree (what a YAML file for ``aiopsd run`` would hold)."""
    data, _ = read_yaml(config)
    data = _merge(data, overrides or {})
    data.setdefault("daemon", {})["state_dir"] = str(state_dir)
    if listen is not None:
        data["daemon"]["listen"] = listen
    for source in data.get("sources", {}).get("prometheus", []):
        source["url"] = prometheus_url
    return data


def demo_settings(
    config: Path, prometheus_url: str, state_dir: Path, listen: str | None, overrides: dict[str, Any] | None = None
) -> Settings:
    return Settings(**demo_settings_data(config, prometheus_url, state_dir, listen, overrides))


def _port_free(listen: str) -> bool:
    import socket

    host, _, port = listen.rpartition(":")
    with socket.socket() as sock:
        try:
            sock.bind((host, int(port)))
        except OSError:
            return False
    return True


@dataclass
class DemoEnvironment:
    """Everything the demo's daemon watches and acts on: the shop (on the control plane when its binaries are
    cached), its exporter and control endpoint, and a Prometheus holding its history and scraping it live."""

    config: Path
    workdir: Path
    shop: Shop
    prometheus: LocalPrometheus
    control: ShopControl
    exporter_target: str
    plane: DevControlPlane | None
    note: str  # how the control plane came up, or why there is none
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings_data(
        self, state_dir: Path, listen: str | None = None, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The demo config with this environment's Prometheus and kubeconfig, overridden by the environment's
        overrides, then by ``overrides`` (one replica's name and port, say)."""
        access = {"remediation": {"kubeconfig": str(self.plane.kubeconfig)}} if self.plane is not None else {}
        extra = _merge(_merge(access, self.overrides), overrides or {})
        return demo_settings_data(self.config, self.prometheus.url, state_dir, listen, extra)

    def settings(self, state_dir: Path, listen: str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
        return Settings(**self.settings_data(state_dir, listen, overrides))


@contextmanager
def demo_environment(
    config: Path,
    workdir: Path,
    echo: Callable[[str], None] = print,
    faults: Sequence[Fault] | None = None,
    overrides: dict[str, Any] | None = None,
    use_cluster: bool = True,
) -> Iterator[DemoEnvironment]:
    """Start the shop and its Prometheus in a wiped ``workdir`` (faults count from now); stop all of it on exit.
    The shop mirrors the cluster from the start: whatever acts on it (one daemon or several) is the caller's."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    start = time.time()
    shop = Shop(start=start) if faults is None else Shop(start=start, faults=tuple(faults))
    step = 10.0
    with ExitStack() as stack:
        plane, note = start_if_cached(workdir / "cluster") if use_cluster else (None, "cluster disabled")
        cluster = None
        if plane is not None:
            stack.callback(plane.stop)
            cluster = ShopCluster(plane.server, plane.ca_file, plane.admin_token, shop)
            stack.callback(cluster.close)
            cluster.setup()
            echo(f"  kubernetes  {note}; the shop runs as Deployments in namespace shop")
        else:
            echo(f"  kubernetes  {note}")
        exporter = serve_shop(shop)
        stack.callback(exporter.close)
        control = ShopControl(shop)
        stack.callback(control.close)
        # the shop stamps its samples (see ShopCollector), and Prometheus puts no staleness markers on stamped series:
        # a short lookback makes a vanished pod's series end within 15 s, as staleness would
        prom = LocalPrometheus(
            workdir / "prometheus",
            scrape_targets=[exporter.target],
            scrape_interval="5s",
            job="shop",
            extra_flags=["--query.lookback-delta=15s"],
        )
        stack.callback(prom.stop)
        began = time.monotonic()
        end = math.floor((time.time() - 1) / step) * step
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
        if cluster is not None:
            cluster.start()
        yield DemoEnvironment(config, workdir, shop, prom, control, exporter.target, plane, note, dict(overrides or {}))


def run_demo(
    config: Path,
    workdir: Path,
    duration: float | None = None,
    echo: Callable[[str], None] = print,
    faults: Sequence[Fault] | None = None,
    overrides: dict[str, Any] | None = None,
    use_cluster: bool = True,
) -> DemoReporter:
    """Start everything, run until Ctrl-C (or ``duration`` seconds), stop everything. Returns the story told.

    With the control-plane binaries cached (``make cluster``) the shop runs on a local Kubernetes control plane and
    the daemon heals it; without them remediation is dry-run only and the daemon escalates with the suggested fix.
    """
    echo("aiopsd demo: a simulated shop on a local Prometheus, watched by aiopsd (Ctrl-C stops everything)")
    with ExitStack() as stack:
        env = stack.enter_context(demo_environment(config, workdir, echo, faults, overrides, use_cluster))
        shop, start = env.shop, env.shop.start
        settings = env.settings(workdir / "state")
        if not _port_free(settings.daemon.listen):
            settings = env.settings(workdir / "state", f"127.0.0.1:{free_port()}")
        reporter = DemoReporter(shop, echo)
        app = build_application(
            settings, on_events=reporter.on_events,
            remediation_off=None if env.plane is not None else f"{env.note}; remediation is dry-run only",
        )  # fmt: skip
        stack.callback(app.close)
        app.start()
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
        app.problems.settle()
        echo("")
        echo(tickets_table(app.store, settings.tickets.system))
        reporter.kpi_markdown = kpi_report.render(compute_kpis(app.store, settings.kpi, start - 60, time.time()), "md")
        echo("")
        echo(reporter.kpi_markdown)
    echo("demo stopped: Prometheus, the shop, the control plane and the daemon are down")
    return reporter
