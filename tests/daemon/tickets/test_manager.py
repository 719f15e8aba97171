"""The ticket manager over the built-in ticket system and a real SQLite store: the story of a problem becomes one
ticket, calls queue durably while the system is down, and restarts or crashes never duplicate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon.settings.tickets import RetrySettings, TicketPolicySettings
from daemon.store import Store
from daemon.tickets.base import Escalation
from daemon.tickets.builtin import BuiltinTicketSystem
from daemon.tickets.errors import TicketRejected
from daemon.tickets.manager import TicketManager
from daemon.tickets.models import BuiltinCommentRow, BuiltinTicketRow, OutboxRow
from tests.daemon.tickets.helpers import T0, Clock, FlakySystem, event, make_store, story


def tickets(store: Store) -> list[BuiltinTicketRow]:
    with store.session() as session:
        return list(session.scalars(select(BuiltinTicketRow).order_by(BuiltinTicketRow.id)))


def comments(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(BuiltinCommentRow.body).order_by(BuiltinCommentRow.id)))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path)


def manager(store: Store, clock: Clock, system: object | None = None, **policy: object) -> TicketManager:
    return TicketManager(
        store,
        system or BuiltinTicketSystem(store, clock),  # type: ignore[arg-type]
        policy=TicketPolicySettings(**policy),  # type: ignore[arg-type]
        retry=RetrySettings(initial_backoff=timedelta(seconds=10), max_backoff=timedelta(seconds=60)),
        clock=clock,
    )


def test_story_of_a_problem_is_one_ticket_with_a_comment_per_event_resolved_at_the_end(store: Store, clock: Clock):
    tm = manager(store, clock)
    for ev in story():
        tm.handle(ev)
        report = tm.flush()
        assert report.pending == 0 and not report.system_down
    [ticket] = tickets(store)
    assert ticket.status == "resolved"
    assert "[aiopsd:fp-cart]" in ticket.title
    assert "deployment/shop/cart (confidence 80%)" in ticket.body
    bodies = comments(store)
    kinds = [b.split(" ", 2)[2].split(":")[0] for b in bodies]
    assert kinds == ["updated", "mitigating", "action", "verified", "resolved"]
    [link] = tm.links()
    assert link.external_id == str(ticket.id) and link.url == f"aiopsd://tickets/{ticket.id}"


def test_more_of_the_same_anomalies_make_no_comment_a_new_symptom_or_an_ack_does(store: Store, clock: Clock):
    tm = manager(store, clock)
    tm.handle(event("opened", T0, "latency of cart above baseline"))
    for i in range(1, 30):  # a long fault, or an alert still firing: the count grows, nothing else changes
        tm.handle(event("updated", T0 + 15 * i, "1 new anomalies", details={"anomalies": 1, "changed": ""}))
    tm.handle(event("updated", T0 + 500, "2 new anomalies", details={"anomalies": 2, "changed": "symptoms"}))
    tm.handle(event("updated", T0 + 510, "acknowledged by alice", details={"acknowledged_by": "alice", "changed": ""}))
    tm.flush()
    assert [b.split(" ", 2)[2].splitlines()[0] for b in comments(store)] == [
        "updated: 2 new anomalies", "updated: acknowledged by alice"
    ]  # fmt: skip


def test_a_late_outcome_on_a_resolved_problem_comments_without_reopening_the_ticket(store: Store, clock: Clock):
    tm = manager(store, clock)
    tm.handle(event("opened", T0, "latency of cart above baseline"))
    tm.handle(event("resolved", T0 + 300, "quiet for 3m"))
    # the action's verification finishes after the quiet period resolved the problem (e.g. after a leader change)
    tm.handle(event("action", T0 + 320, "rollout-restart: verified", status="resolved"))
    tm.flush()
    [ticket] = tickets(store)
    assert ticket.status == "resolved"
    assert [b.split(" ", 2)[2].splitlines()[0] for b in comments(store)][-1] == "action: rollout-restart: verified"


def test_problem_below_min_severity_gets_a_ticket_only_once_it_becomes_severe(store: Store, clock: Clock):
    tm = manager(store, clock, min_severity="critical")
    tm.handle(event("opened", T0, "a little slow", severity="warning"))
    tm.flush()
    assert tickets(store) == []
    tm.handle(event("updated", T0 + 15, "now failing", severity="critical"))
    tm.flush()
    [ticket] = tickets(store)
    assert "now failing" in ticket.body and ticket.severity == "critical"


def test_problem_gets_a_ticket_only_after_it_persisted(store: Store, clock: Clock):
    tm = manager(store, clock, min_persistence=timedelta(seconds=60))
    tm.handle(event("opened", T0, "first"))
    tm.handle(event("updated", T0 + 30, "still"))
    tm.flush()
    assert tickets(store) == []
    tm.handle(event("updated", T0 + 60, "a minute now"))
    tm.flush()
    [ticket] = tickets(store)
    story_lines = ticket.body.split("Story:\n", 1)[1].splitlines()
    assert [line.split(" ", 2)[2] for line in story_lines] == [
        "opened: first",
        "updated: still",
        "updated: a minute now",
    ]
    assert comments(store) == []


def test_flapping_problem_that_resolves_before_confirmation_never_gets_a_ticket(store: Store, clock: Clock):
    tm = manager(store, clock, min_persistence=timedelta(seconds=60))
    tm.handle(event("opened", T0, "blip"))
    tm.handle(event("resolved", T0 + 90, "gone"))
    tm.flush()
    assert tickets(store) == []


def test_recurrence_reopens_the_same_ticket(store: Store, clock: Clock):
    tm = manager(store, clock)
    for ev in story():
        tm.handle(ev)
    tm.handle(event("reopened", T0 + 400, "latency of cart above baseline again", reopen_count=1))
    tm.flush()
    [ticket] = tickets(store)
    assert ticket.status == "open"
    assert comments(store)[-1].split(" ", 2)[2].startswith("reopened: latency of cart above baseline again")
    tm.handle(event("resolved", T0 + 900, "quiet again"))
    tm.flush()
    assert [t.status for t in tickets(store)] == ["resolved"]


def test_escalation_sets_priority_queue_and_assignee(store: Store, clock: Clock):
    tm = manager(store, clock, escalate_queue="sre", escalate_assignee="oncall")
    tm.handle(event("opened", T0, "x"))
    tm.handle(event("escalated", T0 + 60, "rollout restart did not help", details={"priority": "urgent"}))
    tm.flush()
    [ticket] = tickets(store)
    assert (ticket.priority, ticket.queue, ticket.assignee) == ("urgent", "sre", "oncall")
    assert "rollout restart did not help" in comments(store)[-1]


def test_system_down_queues_everything_and_flushes_in_order_with_backoff_when_back(store: Store, clock: Clock):
    flaky = FlakySystem(BuiltinTicketSystem(store, clock))
    tm = manager(store, clock, flaky)
    flaky.down = True
    events = story()
    for ev in events[:4]:
        tm.handle(ev)
    assert flaky.calls == []  # handle never calls the system
    report = tm.flush()
    assert report.system_down and report.done == 0 and report.pending == 4
    assert flaky.calls == ["find"]  # one failed call stops the flush
    flaky.calls.clear()
    tm.flush()
    assert flaky.calls == []  # not due before the backoff has passed
    clock.advance(10)
    tm.flush()
    assert flaky.calls == ["find"]
    flaky.calls.clear()
    clock.advance(10)
    tm.flush()
    assert flaky.calls == []  # the second failure doubled the wait to 20s
    for ev in events[4:]:
        tm.handle(ev)
    flaky.down = False
    clock.advance(10)
    report = tm.flush()
    assert report.pending == 0 and not report.system_down
    [ticket] = tickets(store)
    assert ticket.status == "resolved"
    kinds = [b.split(" ", 2)[2].split(":")[0] for b in comments(store)]
    assert kinds == ["updated", "mitigating", "action", "verified", "resolved"]


def test_restart_mid_stream_and_redelivered_events_create_no_duplicates(store: Store, clock: Clock, tmp_path: Path):
    events = story()
    first = manager(store, clock)
    for ev in events[:3]:
        first.handle(ev)
    first.flush()
    store.dispose()
    reopened_store = make_store(tmp_path)  # same file: a new process after a restart
    second = manager(reopened_store, clock)
    assert second.reconcile() == 0
    for ev in events:  # the correlator re-emits what it had not yet seen acknowledged
        second.handle(ev)
    second.flush()
    assert len(tickets(reopened_store)) == 1
    assert len(comments(reopened_store)) == 5


def test_crash_between_ticket_created_and_mapping_saved_reconciles_by_fingerprint(store: Store, clock: Clock):
    flaky = FlakySystem(BuiltinTicketSystem(store, clock))
    flaky.crash_after_create = True
    tm = manager(store, clock, flaky)
    tm.handle(story()[0])
    with pytest.raises(SystemExit):
        tm.flush()
    assert tm.links()[0].external_id is None  # the ticket exists, the mapping does not
    after_restart = manager(store, clock)
    assert after_restart.reconcile() == 1
    for ev in story()[1:]:
        after_restart.handle(ev)
    after_restart.flush()
    [ticket] = tickets(store)
    assert ticket.status == "resolved" and tm.links()[0].external_id == str(ticket.id)


def test_a_call_whose_answer_was_lost_is_not_repeated(store: Store, clock: Clock):
    flaky = FlakySystem(BuiltinTicketSystem(store, clock))
    tm = manager(store, clock, flaky)
    tm.handle(story()[0])
    flaky.lose_answers = 1  # the create takes effect, then times out
    tm.flush()
    clock.advance(10)
    tm.handle(story()[1])
    flaky.lose_answers = 0
    tm.flush()
    flaky.lose_answers = 1
    tm.handle(story()[2])
    tm.flush()  # the comment is posted, its answer lost
    clock.advance(10)
    tm.flush()
    assert len(tickets(store)) == 1
    assert len(comments(store)) == 2
    assert "has_comment" in flaky.calls


class NonDedupingSystem(BuiltinTicketSystem):
    """Like most external systems: posting the same comment twice makes two comments."""

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        super().comment(external_id, body, f"{op_key}#{len(comments(self._store))}")

    def has_comment(self, external_id: str, op_key: str) -> bool:
        with self._store.session() as session:
            keys = session.scalars(select(BuiltinCommentRow.op_key))
            return any(key.split("#")[0] == op_key for key in keys)


def test_a_crash_right_after_a_comment_landed_does_not_repeat_it_after_restart(store: Store, clock: Clock):
    flaky = FlakySystem(NonDedupingSystem(store, clock))
    tm = manager(store, clock, flaky)
    tm.handle(story()[0])
    tm.handle(story()[1])
    tm.flush()
    flaky.crash_after_comment = True
    tm.handle(story()[2])
    with pytest.raises(SystemExit):
        tm.flush()
    restarted = manager(store, clock, NonDedupingSystem(store, clock))
    restarted.flush()
    assert len(comments(store)) == 2


class RefusingSystem(BuiltinTicketSystem):
    def escalate(self, external_id: str, escalation: Escalation) -> None:
        raise TicketRejected("rt: PUT /ticket/1 answered 400: no such queue 'nope'")


def test_a_refused_call_is_given_up_after_max_rejections_and_later_calls_go_on(store: Store, clock: Clock):
    tm = manager(store, clock, RefusingSystem(store, clock), escalate_queue="nope")
    tm.handle(event("opened", T0, "x"))
    tm.handle(event("escalated", T0 + 10, "needs people"))
    tm.handle(event("updated", T0 + 20, "still bad"))
    for _ in range(3):
        tm.flush()
        clock.advance(60)
    report = tm.flush()
    assert report.pending == 0
    with store.session() as session:
        [failed] = session.scalars(select(OutboxRow).where(OutboxRow.state == "failed"))
        assert failed.kind == "escalate" and failed.attempts == 3 and "no such queue" in (failed.last_error or "")
    assert "still bad" in comments(store)[-1]


class SlowSystem(FlakySystem):
    """Every call takes one second of the injected monotonic clock."""

    def __init__(self, inner: BuiltinTicketSystem, monotonic: Clock) -> None:
        super().__init__(inner)
        self.monotonic = monotonic

    def _before(self, what: str) -> None:
        super()._before(what)
        self.monotonic.advance(1)


def test_flush_stops_when_its_time_budget_is_spent(store: Store, clock: Clock):
    monotonic = Clock(0)
    slow = SlowSystem(BuiltinTicketSystem(store, clock), monotonic)
    tm = TicketManager(store, slow, clock=clock, flush_budget=2.5, monotonic=monotonic)
    for ev in story():
        tm.handle(ev)
    report = tm.flush()
    assert slow.calls == ["find", "create", "comment"]  # the budget ran out during the third call
    assert report.done == 2 and report.pending == 5
    assert tm.flush().done == 3
