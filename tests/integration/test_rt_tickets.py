"""The ticket manager against a real Request Tracker 5 (REST 2): one ticket per problem that tells its story,
resolved on recovery, reopened on recurrence, never duplicated by restarts or crashes, and no update lost while RT
is down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from daemon.settings import load_settings
from daemon.settings.tickets import RetrySettings
from daemon.store import Store
from daemon.tickets.factory import build_ticket_manager
from daemon.tickets.manager import TicketManager
from daemon.tickets.models import OutboxRow
from daemon.tickets.rt import RequestTracker
from tests.daemon.tickets.helpers import T0, Clock, FlakySystem, event, make_store, story
from tests.harness.rt import RTServer

pytestmark = pytest.mark.integration


@pytest.fixture
def fingerprint() -> str:
    return f"fp-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def rt_client(rt_server: RTServer) -> Iterator[httpx.Client]:
    with httpx.Client(auth=(rt_server.username, rt_server.password), timeout=10) as client:
        yield client


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path)


def rt_manager(store: Store, system: object, clock: Clock) -> TicketManager:
    retry = RetrySettings(initial_backoff=timedelta(seconds=5), max_backoff=timedelta(seconds=40))
    return TicketManager(store, system, retry=retry, clock=clock)  # type: ignore[arg-type]


def rt_tickets(rt_server: RTServer, fingerprint: str) -> list[dict[str, str]]:
    with rt_server.client() as client:
        response = client.get(
            "/REST/2.0/tickets",
            params={"query": f"Subject LIKE '[aiopsd:{fingerprint}]'", "fields": "Subject,Status,Priority,Queue"},
        )
        response.raise_for_status()
        return list(response.json()["items"])


def comment_seqs(rt_server: RTServer, ticket_id: str) -> list[int]:
    """The sequence numbers of aiopsd's comments on a ticket, in the order RT recorded them."""
    with rt_server.client() as client:
        response = client.get(
            f"/REST/2.0/ticket/{ticket_id}/attachments", params={"fields": "Subject", "per_page": 100}
        )
        response.raise_for_status()
        subjects = [str(item.get("Subject") or "") for item in response.json()["items"]]
    return [int(s.rsplit(":", 1)[1].split("-")[0]) for s in subjects if s.startswith("aiopsd-op:")]


def test_problem_story_becomes_one_rt_ticket_resolved_then_reopened(rt_server, rt_client, store, fingerprint):
    clock = Clock()
    tm = rt_manager(store, RequestTracker(rt_client, rt_server.url), clock)
    for ev in story(fingerprint):
        tm.handle(ev)
        assert not tm.flush().system_down
    [ticket] = rt_tickets(rt_server, fingerprint)
    assert ticket["Status"] == "resolved"
    seqs = comment_seqs(rt_server, ticket["id"])
    assert len(seqs) == 5 and seqs == sorted(seqs)
    [link] = tm.links()
    assert link.external_id == ticket["id"] and link.url.endswith(f"/Ticket/Display.html?id={ticket['id']}")

    tm.handle(event("reopened", T0 + 400, "latency of cart above baseline again", fingerprint, reopen_count=1))
    tm.handle(event("escalated", T0 + 460, "restart did not help", fingerprint, details={"priority": "urgent"}))
    tm.flush()
    [ticket] = rt_tickets(rt_server, fingerprint)
    assert ticket["Status"] == "open" and int(ticket["Priority"]) == 99
    assert len(comment_seqs(rt_server, ticket["id"])) == 7


def test_restart_and_crash_after_create_reconcile_instead_of_duplicating(rt_server, rt_client, tmp_path, fingerprint):
    clock = Clock()
    events = story(fingerprint)
    store = make_store(tmp_path)
    flaky = FlakySystem(RequestTracker(rt_client, rt_server.url))
    flaky.crash_after_create = True
    first = rt_manager(store, flaky, clock)
    first.handle(events[0])
    first.handle(events[1])
    with pytest.raises(SystemExit):
        first.flush()  # the ticket is in RT, the mapping is not in the store
    store.dispose()

    store = make_store(tmp_path)  # the daemon restarts over the same store
    second = rt_manager(store, RequestTracker(rt_client, rt_server.url), clock)
    assert second.reconcile() == 1
    for ev in events:  # events re-delivered from the start, plus the rest
        second.handle(ev)
    second.flush()
    [ticket] = rt_tickets(rt_server, fingerprint)
    assert ticket["Status"] == "resolved"
    assert len(comment_seqs(rt_server, ticket["id"])) == 5

    store.dispose()
    store = make_store(tmp_path)  # a third life with no events at all: nothing new in RT
    third = rt_manager(store, RequestTracker(rt_client, rt_server.url), clock)
    third.handle(events[-1])
    third.flush()
    assert len(rt_tickets(rt_server, fingerprint)) == 1
    assert len(comment_seqs(rt_server, ticket["id"])) == 5


def test_rt_down_for_a_while_loses_no_update_and_flushes_in_order(rt_server, rt_client, store, fingerprint):
    clock = Clock()
    tm = rt_manager(store, RequestTracker(rt_client, rt_server.url), clock)
    events = story(fingerprint)
    tm.handle(events[0])
    tm.flush()
    [ticket] = rt_tickets(rt_server, fingerprint)
    rt_server.stop()
    try:
        for ev in events[1:]:
            tm.handle(ev)  # detection goes on; nothing blocks
            clock.advance(15)
            report = tm.flush()
            assert report.system_down or report.done == 0
        assert tm.outbox.pending("rt") == 6  # 5 comments and the resolve
    finally:
        rt_server.start()
    clock.advance(60)
    report = tm.flush()
    assert report.pending == 0 and report.done == 6
    [ticket] = rt_tickets(rt_server, fingerprint)
    assert ticket["Status"] == "resolved"
    seqs = comment_seqs(rt_server, ticket["id"])
    assert len(seqs) == 5 and seqs == sorted(seqs)


def test_escalation_rt_refuses_is_given_up_with_its_reason_and_later_comments_go_on(
    rt_server, rt_client, store, fingerprint
):
    clock = Clock()
    tm = rt_manager(store, RequestTracker(rt_client, rt_server.url), clock)
    tm.handle(event("opened", T0, "x", fingerprint))
    tm.handle(event("escalated", T0 + 10, "needs people", fingerprint, details={"queue": "no-such-queue"}))
    tm.handle(event("updated", T0 + 20, "still bad", fingerprint))
    for _ in range(3):
        tm.flush()
        clock.advance(60)
    assert tm.flush().pending == 0
    with store.session() as session:
        [failed] = session.scalars(select(OutboxRow).where(OutboxRow.state == "failed"))
    assert failed.kind == "escalate" and "Queue no-such-queue does not exist" in (failed.last_error or "")
    [ticket] = rt_tickets(rt_server, fingerprint)
    assert ticket["Status"] in ("new", "open") and len(comment_seqs(rt_server, ticket["id"])) == 2


def test_adapter_built_from_settings_with_an_auth_token_file_talks_to_rt(rt_server, tmp_path, fingerprint):
    (tmp_path / "rt-token").write_text(rt_server.create_auth_token() + "\n")
    config = tmp_path / "aiopsd.yaml"
    config.write_text(
        f"tickets:\n  system: rt\n  rt:\n    url: {rt_server.url}\n    token_file: {tmp_path / 'rt-token'}\n"
    )
    store = make_store(tmp_path)
    tm = build_ticket_manager(load_settings(config, environ={}), store, clock=Clock())
    tm.handle(event("opened", T0, "opened through a token", fingerprint))
    assert tm.flush().done == 1
    [ticket] = rt_tickets(rt_server, fingerprint)
    assert tm.links()[0].external_id == ticket["id"]
