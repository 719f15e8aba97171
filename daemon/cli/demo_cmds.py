"""``aiopsd demo``: the embedded default (``make run``)."""

from __future__ import annotations

from pathlib import Path

import typer

from daemon.cli.output import configure_logging
from daemon.demo.run import run_demo
from daemon.localprom import LocalPrometheusError


def demo(
    config: Path = typer.Option(Path("examples/demo.yaml"), "--config", "-c", help="Demo settings"),
    workdir: Path = typer.Option(Path(".aiopsd/demo"), "--workdir", help="Scratch space (wiped at start)"),
    duration: float = typer.Option(None, "--duration", help="Stop after this many seconds (default: Ctrl-C)"),
    log_level: str = typer.Option("WARNING", "--log-level", help="Daemon log level on stderr"),
) -> None:
    """Run the demo: local Prometheus with history, a simulated shop with scripted faults, and the daemon."""
    configure_logging(log_level.upper(), "text")
    try:
        run_demo(config, workdir, duration, echo=lambda line: typer.echo(line))
    except LocalPrometheusError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)
