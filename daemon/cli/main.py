"""Root of the ``aiopsd`` CLI. Each command group lives in its own module and is mounted here explicitly."""

from __future__ import annotations

import typer

from daemon.cli import change_cmds, config_cmds

app = typer.Typer(
    name="aiopsd",
    help="aiopsd — proactive AIOps daemon: detect, correlate, remediate, ticket, and score change risk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# one line per command group; each module's register() adds its commands to the root
for module in (config_cmds, change_cmds):
    module.register(app)


def main() -> None:
    app()
