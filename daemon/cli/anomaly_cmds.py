"""``aiopsd anomalies``: what the daemon recorded."""

from __future__ import annotations

from pathlib import Path

import typer

from daemon.app import open_store
from daemon.cli.output import FORMAT_OPTION, OutputFormat, emit
from daemon.cli.run_cmds import ANOMALY_COLUMNS, anomaly_row, load_or_exit
from daemon.store.anomalies import list_anomalies
from daemon.timeparse import parse_time

app = typer.Typer(help="Anomalies recorded in the store.", no_args_is_help=True)


@app.command("list")
def list_cmd(
    config: Path = typer.Option(None, "--config", "-c", help="YAML settings file (for the store location)"),
    since: str = typer.Option("-24h", "--since", help="RFC 3339, unix seconds, or relative (-2h)"),
    query: str = typer.Option(None, "--query", help="Only this query"),
    min_score: float = typer.Option(0.0, "--min-score"),
    limit: int = typer.Option(100, "--limit"),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """List recorded anomalies, newest first."""
    settings = load_or_exit(config)
    try:
        since_ts = parse_time(since)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    store = open_store(settings)
    with store.session() as session:
        rows = list_anomalies(session, since=since_ts, query=query, min_score=min_score, limit=limit)
    emit([anomaly_row(a) for a in rows], ANOMALY_COLUMNS, fmt)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="anomalies")
