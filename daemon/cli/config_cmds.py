"""``aiopsd config``: validate and show settings."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from daemon.errors import ConfigError
from daemon.settings import load_settings

app = typer.Typer(help="Check and show configuration.", no_args_is_help=True)


@app.command("validate")
def validate(file: Path = typer.Argument(..., help="YAML settings file")) -> None:
    """Check FILE (and AIOPSD_* variables): print every error with its place and what was expected."""
    try:
        load_settings(file)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{file}: OK")


@app.command("show")
def show(file: Path = typer.Argument(None, help="YAML settings file; defaults only if omitted")) -> None:
    """Print the effective settings (file + environment + defaults) as JSON; secrets are masked."""
    try:
        settings = load_settings(file)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(settings.model_dump(mode="json"), indent=2))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")
