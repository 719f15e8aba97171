"""``aiopsd tickets``: the problems' tickets (list, show) and a sync with the ticket system (reconcile + flush)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from daemon.cli.output import FORMAT_OPTION, OutputFormat, emit
from daemon.errors import AiopsdError, ConfigError
from daemon.settings import Settings, load_settings
from daemon.store import Store
from daemon.tickets.errors import TicketError
from daemon.tickets.factory import build_ticket_manager
from daemon.tickets.models import BuiltinCommentRow, BuiltinTicketRow, OutboxRow, TicketLinkRow

app = typer.Typer(help="Tickets of problems: list, show, sync with the ticket system.", no_args_is_help=True)
CONFIG_OPTION = typer.Option(None, "--config", "-c", envvar="AIOPSD_CONFIG", help="YAML settings file")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if ts else "-"


def _open(config: Path | None) -> tuple[Settings, Store]:
    try:
        settings = load_settings(config)
        store = Store(settings.store_url(), settings.store.echo)
        store.migrate()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except AiopsdError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    return settings, store


def _pending(store: Store, system: str) -> dict[str, int]:
    with store.session() as session:
        rows = session.execute(
            select(OutboxRow.fingerprint).where(OutboxRow.channel == system, OutboxRow.state == "pending")
        )
        counts: dict[str, int] = {}
        for (fingerprint,) in rows:
            counts[fingerprint] = counts.get(fingerprint, 0) + 1
        return counts


@app.command("list")
def list_tickets(
    config: Path = CONFIG_OPTION,
    state: str = typer.Option(None, "--state", help="watching (no ticket yet), open or resolved; all if omitted"),
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """The tickets of problems in the configured system, newest first, with calls still waiting to be made."""
    if state not in (None, "watching", "open", "resolved"):
        typer.echo(f"--state: expected watching, open or resolved, got {state!r}", err=True)
        raise typer.Exit(2)
    settings, store = _open(config)
    system = settings.tickets.system
    pending = _pending(store, system)
    with store.session() as session:
        query = select(TicketLinkRow).where(TicketLinkRow.system == system).order_by(TicketLinkRow.updated_at.desc())
        if state:
            query = query.where(TicketLinkRow.state == state)
        links = list(session.scalars(query))
    rows = [
        {
            "fingerprint": link.fingerprint,
            "ticket": link.external_id or ("-" if link.state == "watching" else "(creating)"),
            "state": link.state,
            "severity": link.severity,
            "pending": pending.get(link.fingerprint, 0),
            "updated": _when(link.updated_at),
            "title": link.title,
            "url": link.url,
        }
        for link in links
    ]
    emit(rows, ["fingerprint", "ticket", "state", "severity", "pending", "updated", "title"], fmt)


@app.command("show")
def show(
    fingerprint: str = typer.Argument(..., help="The problem's fingerprint"),
    config: Path = CONFIG_OPTION,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    """One problem's ticket: the mapping, every call made or waiting (with errors), and built-in ticket comments."""
    settings, store = _open(config)
    system = settings.tickets.system
    with store.session() as session:
        link = session.get(TicketLinkRow, (system, fingerprint))
        if link is None:
            typer.echo(f"no ticket in {system} for problem {fingerprint} (see `aiopsd tickets list`)", err=True)
            raise typer.Exit(1)
        calls = list(
            session.scalars(
                select(OutboxRow)
                .where(OutboxRow.channel.in_([system]) | OutboxRow.channel.like("notify:%"))
                .where(OutboxRow.fingerprint == fingerprint, OutboxRow.kind != "event")
                .order_by(OutboxRow.id)
            )
        )
        comments: list[dict[str, Any]] = []
        builtin = session.scalar(select(BuiltinTicketRow).where(BuiltinTicketRow.fingerprint == fingerprint))
        if system == "builtin" and builtin is not None:
            for comment in session.scalars(
                select(BuiltinCommentRow)
                .where(BuiltinCommentRow.ticket_id == builtin.id)
                .order_by(BuiltinCommentRow.id)
            ):
                comments.append({"at": _when(comment.created_at), "body": comment.body})
    info: dict[str, Any] = {
        "system": system,
        "fingerprint": fingerprint,
        "ticket": link.external_id,
        "url": link.url,
        "state": link.state,
        "severity": link.severity,
        "problem": link.problem_id,
        "title": link.title,
        "opened": _when(link.created_at),
        "updated": _when(link.updated_at),
    }
    if builtin is not None and system == "builtin":
        info.update(status=builtin.status, priority=builtin.priority, queue=builtin.queue, assignee=builtin.assignee)
    call_rows = [
        {
            "id": c.id,
            "channel": c.channel,
            "kind": c.kind,
            "state": c.state,
            "attempts": c.attempts,
            "created": _when(c.created_at),
            "done": _when(c.done_at),
            "error": c.last_error,
        }
        for c in calls
    ]
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({**info, "calls": call_rows, "comments": comments}, indent=2))
        return
    for key, value in info.items():
        typer.echo(f"{key:>11}: {value if value is not None else '-'}")
    if builtin is not None and system == "builtin":
        typer.echo("\n" + builtin.body)
    for entry in comments:
        typer.echo(f"\n--- comment {entry['at']}\n{entry['body']}")
    typer.echo("\ncalls:")
    emit(call_rows, ["id", "channel", "kind", "state", "attempts", "created", "done", "error"], fmt)


@app.command("sync")
def sync(config: Path = CONFIG_OPTION) -> None:
    """Reconcile the mapping with the ticket system by fingerprint (after a crash or restore), then make every
    call that is due. Exit 0 when nothing is left waiting, 3 while calls wait, 1 if the system is down."""
    settings, store = _open(config)
    try:
        manager = build_ticket_manager(settings, store)
        started = time.monotonic()
        found = manager.reconcile()
        report = manager.flush()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except TicketError as exc:
        typer.echo(f"{settings.tickets.system}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{settings.tickets.system}: reconciled {found}, made {report.done} call(s), {report.retried} to retry, "
        f"{report.failed} given up, {report.pending} waiting ({time.monotonic() - started:.1f}s)"
    )
    if report.system_down:
        raise typer.Exit(1)
    if report.pending:
        raise typer.Exit(3)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tickets")
