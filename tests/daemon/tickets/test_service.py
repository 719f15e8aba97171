"""The daemon's view: build from settings, start, handle events, flush each tick."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from daemon.settings import load_settings
from daemon.tickets.models import BuiltinCommentRow, BuiltinTicketRow
from daemon.tickets.service import build_ticketing
from tests.daemon.tickets.helpers import T0, Clock, event, make_store, story


def test_built_in_tickets_from_default_settings_follow_a_problem_including_a_merge(tmp_path: Path):
    store = make_store(tmp_path)
    clock = Clock()
    ticketing = build_ticketing(load_settings(None, environ={}), store, clock)
    assert ticketing.start() == 0
    for ev in story()[:3]:
        ticketing.handle(ev)
        assert ticketing.flush().healthy
    ticketing.handle(
        event("merged", T0 + 90, "merged into problem p-fp-db: same root cause", details={"into": "p-fp-db"})
    )
    ticketing.flush()
    with store.session() as session:
        [ticket] = session.scalars(select(BuiltinTicketRow))
        last = list(session.scalars(select(BuiltinCommentRow.body)))[-1]
    assert ticket.status == "resolved"
    assert "merged: merged into problem p-fp-db" in last and "into: p-fp-db" in last


def test_ticket_system_down_at_start_does_not_stop_the_daemon(tmp_path: Path):
    config = tmp_path / "aiopsd.yaml"
    config.write_text("tickets:\n  system: github\n  github: {repo: acme/shop, token: t}\n")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    store = make_store(tmp_path)
    ticketing = build_ticketing(load_settings(config, environ={}), store, Clock(), httpx.MockTransport(refuse))
    ticketing.handle(story()[0])
    assert ticketing.start() == 0  # the link exists without an id; the lookup fails, start goes on
    report = ticketing.flush()
    assert not report.healthy and report.tickets.pending == 1


def test_finished_calls_are_pruned_after_keep_done_but_failed_ones_stay(tmp_path: Path):
    from daemon.tickets.models import OutboxRow

    store = make_store(tmp_path)
    clock = Clock()
    config = tmp_path / "aiopsd.yaml"
    config.write_text("tickets:\n  keep_done: 1d\n")
    ticketing = build_ticketing(load_settings(config, environ={}), store, clock)
    for ev in story():
        ticketing.handle(ev)
    ticketing.flush()
    with store.session() as session:
        session.add(
            OutboxRow(
                channel="builtin",
                fingerprint="fp-x",
                kind="comment",
                payload={},
                op_key="k",
                state="failed",
                attempts=3,
                next_attempt_at=T0,
                created_at=T0,
            )
        )
    clock.advance(2 * 86400)
    ticketing.flush()
    with store.session() as session:
        assert [row.state for row in session.scalars(select(OutboxRow))] == ["failed"]
