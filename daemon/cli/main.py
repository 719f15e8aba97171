"""Root of the ``aiopsd`` CLI. Each command group lives in its own module and is mounted here explicitly."""

from __future__ import annotations

import typer

from daemon.cli import (
    anomaly_cmds,
    change_cmds,
    config_cmds,
    demo_cmds,
    detect_cmds,
    kb_cmds,
    problem_cmds,
    report_cmds,
    run_cmds,
    runbook_cmds,
    ticket_cmds,
)

app = typer.Typer(
    name="aiopsd",
    help="aiopsd — proactive AIOps daemon: detect, correlate, remediate, ticket, and score change risk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# one line per command group; each module's register() adds its commands to the root
COMMAND_MODULES = (
    config_cmds,
    run_cmds,
    anomaly_cmds,
    demo_cmds,
    problem_cmds,
    ticket_cmds,
    runbook_cmds,
    detect_cmds,
    change_cmds,
    kb_cmds,
    report_cmds,
)
for module in COMMAND_MODULES:
    module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
