"""``aiopsd report kpi``: the KPI report as Markdown, self-contained HTML or JSON."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from daemon.errors import ConfigError, StoreError
from daemon.kpi import compute_kpis
from daemon.reports import kpi_report
from daemon.settings import load_settings
from daemon.store import Store
from daemon.timeparse import parse_time

app = typer.Typer(help="Reports for people and machines.", no_args_is_help=True)


@app.command("kpi")
def kpi(
    since: str | None = typer.Option(None, help="start: RFC 3339, unix seconds or '-30d' (default: kpi.window ago)"),
    until: str = typer.Option("now", help="end, as --since"),
    fmt: kpi_report.ReportFormatOption = typer.Option(
        kpi_report.ReportFormatOption.md, "--format", "-f", help="md, html (self-contained, with plots) or json"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of standard output"),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML settings file (defaults if omitted)"),
) -> None:
    """Deflection, auto-resolution by category, escalation patterns, confidence, cost, MTTD/MTTR, freshness, trends."""
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    now = time.time()
    try:
        end = parse_time(until, now)
        start = parse_time(since, now) if since else end - settings.kpi.window.total_seconds()
    except ValueError as exc:
        typer.echo(f"--since/--until: {exc}", err=True)
        raise typer.Exit(2) from None
    if end <= start:
        typer.echo(f"--since must be before --until (got {since!r} and {until!r})", err=True)
        raise typer.Exit(2)
    try:
        store = Store(settings.store_url(), echo=settings.store.echo)
        store.migrate()
        typer.echo(f"computing KPIs over {settings.kpi.weeks} weeks from {store.redacted_url}…", err=True)
        report = compute_kpis(store, settings.kpi, start, end, generated_at=now)
    except StoreError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    text = kpi_report.render(report, fmt.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote the KPI report to {output}", err=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="report")
