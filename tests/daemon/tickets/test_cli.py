"""``aiopsd tickets list/show/sync`` over a real SQLite store in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from daemon.cli.main import app
from daemon.settings import load_settings
from daemon.store import Store
from daemon.tickets.builtin import BuiltinTicketSystem
from daemon.tickets.manager import TicketManager
from tests.daemon.tickets.helpers import T0, Clock, FlakySystem, event, story

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "aiopsd.yaml"
    path.write_text(f"daemon:\n  state_dir: {tmp_path / 'state'}\n")
    return path


def store_of(config: Path) -> Store:
    store = Store(load_settings(config, environ={}).store_url())
    store.migrate()
    return store


def test_list_and_show_tell_the_tickets_and_their_calls(config: Path):
    store = store_of(config)
    clock = Clock()
    manager = TicketManager(store, BuiltinTicketSystem(store, clock), clock=clock)
    for ev in story():
        manager.handle(ev)
    manager.handle(event("opened", T0, "disk filling", fingerprint="fp-disk", title="disk of db-0 filling up"))
    manager.flush()

    result = runner.invoke(app, ["tickets", "list", "-c", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["FINGERPRINT", "TICKET", "STATE", "SEVERITY", "PENDING", "UPDATED", "TITLE"]
    assert {line.split()[0]: line.split()[2] for line in lines[1:]} == {"fp-cart": "resolved", "fp-disk": "open"}

    result = runner.invoke(app, ["tickets", "list", "-c", str(config), "--state", "open", "-f", "json"])
    assert [row["fingerprint"] for row in __import__("json").loads(result.output)] == ["fp-disk"]

    result = runner.invoke(app, ["tickets", "show", "fp-cart", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "status: resolved" in result.output
    assert "deployment/shop/cart (confidence 80%)" in result.output
    assert result.output.count("--- comment") == 5

    result = runner.invoke(app, ["tickets", "show", "fp-nope", "-c", str(config)])
    assert result.exit_code == 1 and "no ticket in builtin for problem fp-nope" in result.output


def test_sync_makes_waiting_calls_and_reports_what_is_left(config: Path):
    store = store_of(config)
    clock = Clock()
    flaky = FlakySystem(BuiltinTicketSystem(store, clock))
    flaky.down = True
    manager = TicketManager(store, flaky, clock=clock)
    for ev in story()[:3]:
        manager.handle(ev)
    manager.flush()  # down: everything waits, with a backoff that has passed by the time sync runs (real clock)
    listed = runner.invoke(app, ["tickets", "list", "-c", str(config)])
    assert "(creating)" in listed.output and " 3 " in listed.output

    result = runner.invoke(app, ["tickets", "sync", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "builtin: reconciled 0, made 3 call(s), 0 to retry, 0 given up, 0 waiting" in result.output
    listed = runner.invoke(app, ["tickets", "list", "-c", str(config)])
    assert "(creating)" not in listed.output


def test_bad_settings_file_is_reported_with_its_place(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("tickets:\n  system: rt\n")
    result = runner.invoke(app, ["tickets", "list", "-c", str(path)])
    assert result.exit_code == 2
    assert "the section tickets.rt is missing" in result.output
