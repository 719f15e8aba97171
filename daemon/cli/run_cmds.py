"""``aiopsd run`` and ``aiopsd replay``: the daemon loop live, or over a past interval of history."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

import typer

from daemon.app import build_application, build_sources
from daemon.cli.output import FORMAT_OPTION, OutputFormat, configure_logging, emit
from daemon.domain import Anomaly
from daemon.errors import AiopsdError, ConfigError
from daemon.loop import Daemon, TickReport
from daemon.settings import Settings, load_settings
from daemon.timeparse import format_time, parse_time
from detectors import DetectorError, builtin_registry

ANOMALY_COLUMNS = ("time", "kind", "query", "entity", "value", "expected", "score", "detector")


def anomaly_row(a: Anomaly) -> dict[str, object]:
    entity = next(iter(a.entities.values()), None) or ",".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
    row: dict[str, object] = {
        "time": format_time(a.ts), "kind": a.kind, "source": a.source, "query": a.query, "entity": entity,
        "value": a.value, "expected": a.expected, "score": round(a.score, 4), "detector": a.detector,
        "direction": a.direction, "labels": a.labels,
    }  # fmt: skip
    if a.time_to_exhaustion is not None:
        row["time_to_exhaustion"] = a.time_to_exhaustion
    return row


def load_or_exit(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def print_detections(anomalies: Sequence[Anomaly]) -> None:
    for a in anomalies:
        what = f"{a.query} {anomaly_row(a)['entity']}"
        if a.kind == "forecast" and a.time_to_exhaustion is not None:
            detail = f"capacity reached in ~{a.time_to_exhaustion / 60:.0f} min (value {a.value:.4g})"
        else:
            expected = f"{a.expected:.4g}" if a.expected is not None else "?"
            value = f"{a.value:.4g}" if a.value is not None else "?"
            detail = f"value {value}, expected ~{expected}"
        typer.echo(f"{format_time(a.ts)}  DETECTED {a.kind:<8} {what}: {detail} (score {a.score:.3f})")


def run(
    config: Path = typer.Option(..., "--config", "-c", help="YAML settings file"),
    once: bool = typer.Option(False, "--once", help="Run one tick and exit"),
) -> None:
    """Run the daemon: every interval fetch → detect → record. SIGTERM/SIGINT finish the tick and exit 0."""
    settings = load_or_exit(config)
    configure_logging(settings.logging.level, settings.logging.format)
    try:
        app = build_application(settings, serve_http=not once)
    except (AiopsdError, DetectorError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        app.start()
        app.daemon.run_forever(once=once, on_tick=lambda r: print_detections(r.anomalies))
    finally:
        app.close()


def replay(
    config: Path = typer.Option(..., "--config", "-c", help="YAML settings file"),
    start: str = typer.Option(..., "--start", help="RFC 3339, unix seconds, or relative (-2h)"),
    end: str = typer.Option("now", "--end", help="RFC 3339, unix seconds, or relative (-10m)"),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """Run the pipeline over a past interval as fast as possible (no store, no actions); print what it detects."""
    settings = load_or_exit(config)
    configure_logging("WARNING", settings.logging.format)
    try:
        t_start, t_end = parse_time(start), parse_time(end)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if t_end <= t_start:
        typer.echo(f"error: --end ({format_time(t_end)}) must be after --start ({format_time(t_start)})", err=True)
        raise typer.Exit(2)
    try:
        anomalies = replay_interval(settings, t_start, t_end, progress=True)
    except (AiopsdError, DetectorError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    emit([anomaly_row(a) for a in anomalies], ANOMALY_COLUMNS, fmt)


class _ReplayClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def replay_interval(settings: Settings, start: float, end: float, progress: bool = False) -> list[Anomaly]:
    """Backfill the training window before ``start``, then detect over (start, end] in large strides."""
    clock = _ReplayClock(start)
    daemon = Daemon(settings, None, build_sources(settings), builtin_registry(), clock=clock)
    stride = min(settings.detection.max_catch_up.total_seconds(), 2000 * daemon.interval)
    found: list[Anomaly] = []
    began = time.monotonic()

    def collect(report: TickReport) -> None:
        found.extend(report.anomalies)
        if report.degraded:
            raise AiopsdError(f"replay needs every source up; degraded: {report.degraded}")

    collect(daemon.tick())  # the backfill up to start
    while clock.now < end:
        clock.now = min(clock.now + stride, end)
        collect(daemon.tick())
        if progress:
            done = (clock.now - start) / (end - start)
            sys.stderr.write(
                f"\rreplay {done:6.1%}  up to {format_time(clock.now)}  {len(found)} anomalies"
                f"  {time.monotonic() - began:.1f}s"
            )
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    daemon._pool.shutdown(wait=True)
    return sorted(found, key=lambda a: (a.ts, a.query, a.series_key))


def register(root: typer.Typer) -> None:
    root.command("run")(run)
    root.command("replay")(replay)
