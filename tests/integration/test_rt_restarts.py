"""Killing the ticket manager at random points against a real Request Tracker: after every restart (new manager
over the same store, recent events delivered again) RT holds exactly one ticket per problem, every comment exactly
once and in order, and the final statuses of a crash-free run."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import httpx
import pytest

from daemon.domain import ProblemEvent
from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus
from daemon.tickets.manager import TicketManager
from daemon.tickets.rt import RequestTracker
from tests.daemon.tickets.helpers import T0, Clock, event, make_store
from tests.harness.rt import RTServer
from tests.integration.test_rt_tickets import comment_seqs, rt_tickets

pytestmark = pytest.mark.integration


class Killed(BaseException):
    """The daemon process dies here."""


class KillableRT:
    """Real RT calls with a kill switch: the process dies at the n-th fault point (before or after a call)."""

    def __init__(self, inner: RequestTracker) -> None:
        self.inner, self.name, self.countdown = inner, inner.name, 0

    def _point(self) -> None:
        if self.countdown:
            self.countdown -= 1
            if self.countdown == 0:
                raise Killed

    def find(self, fingerprint: str) -> ExternalTicket | None:
        self._point()
        return self.inner.find(fingerprint)

    def create(self, draft: TicketDraft) -> ExternalTicket:
        self._point()
        ticket = self.inner.create(draft)
        self._point()
        return ticket

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        self._point()
        self.inner.comment(external_id, body, op_key)
        self._point()

    def has_comment(self, external_id: str, op_key: str) -> bool:
        return self.inner.has_comment(external_id, op_key)

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        self._point()
        self.inner.set_status(external_id, status)
        self._point()

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        self.inner.escalate(external_id, escalation)


def stories(prefix: str) -> list[ProblemEvent]:
    events = []
    for index in range(3):
        fp = f"{prefix}-{index}"
        start = T0 + 30 * index
        kinds = ["opened", "updated", "mitigating", "action", "verified", "resolved", "reopened", "updated", "resolved"]
        for step, kind in enumerate(kinds):
            events.append(event(kind, start + 60 * step, f"{kind} step {step} of {fp}", fp))
    return sorted(events, key=lambda e: e.ts)


def test_twenty_kills_at_random_points_leave_one_ticket_per_problem_and_each_comment_once(
    rt_server: RTServer, tmp_path: Path
):
    prefix = f"fp-{uuid.uuid4().hex[:8]}"
    events = stories(prefix)
    rng = random.Random(11)
    kill_at = set(rng.sample(range(len(events)), 20))
    clock = Clock()
    client = httpx.Client(auth=(rt_server.username, rt_server.password), timeout=10)

    def life() -> tuple[KillableRT, TicketManager]:
        system = KillableRT(RequestTracker(client, rt_server.url))
        return system, TicketManager(make_store(tmp_path), system, clock=clock)

    system, manager = life()
    kills = 0
    for index, ev in enumerate(events):
        clock.now = ev.ts
        system.countdown = rng.randint(1, 4) if index in kill_at else 0
        try:
            manager.handle(ev)
            manager.flush()
            if system.countdown:
                raise Killed  # no fault point was reached: die idle
        except Killed:
            kills += 1
            system, manager = life()
            manager.reconcile()
            for again in events[max(0, index - 3) : index + 1]:
                manager.handle(again)
            manager.flush()
    clock.advance(600)
    assert manager.flush().pending == 0
    assert kills == 20
    for index in range(3):
        fp = f"{prefix}-{index}"
        [ticket] = rt_tickets(rt_server, fp)
        assert ticket["Status"] == "resolved"
        seqs = comment_seqs(rt_server, ticket["id"])
        assert len(seqs) == 8 and len(set(seqs)) == 8 and seqs == sorted(seqs), seqs
