"""The ticket manager: one ticket per problem fingerprint, told the story by the problem's events.

``handle(event)`` only writes to the store (the mapping and the outbox) and returns at once; ``flush()`` makes the
external calls within a time budget, in order per problem, retrying with backoff while the system is down. A create
call first looks the ticket up by fingerprint, so a crash between "created in the system" and "mapping saved"
reconciles instead of duplicating; re-delivered events are recognised by their operation keys.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from daemon.domain import ProblemEvent
from daemon.settings.tickets import RetrySettings, TicketPolicySettings
from daemon.store import Store
from daemon.tickets.base import SEVERITY_RANK, Escalation, TicketDraft, TicketStatus, TicketSystem
from daemon.tickets.errors import TicketNotFound, TicketRejected, TicketSystemUnavailable
from daemon.tickets.models import OutboxRow, TicketLinkRow
from daemon.tickets.outbox import Backoff, Outbox
from daemon.tickets.render import event_comment, story_line, ticket_body, ticket_title

logger = logging.getLogger(__name__)

_ENDING = frozenset({"resolved", "closed", "merged"})
MAX_STORY = 50  # lines of a problem's story kept before its ticket opens
_RECORD_ATTEMPTS = 3


@dataclass(frozen=True)
class FlushReport:
    done: int
    retried: int
    failed: int
    pending: int
    system_down: bool


class TicketManager:
    def __init__(
        self,
        store: Store,
        system: TicketSystem,
        policy: TicketPolicySettings | None = None,
        retry: RetrySettings | None = None,
        clock: Callable[[], float] = time.time,
        flush_budget: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.system = system
        self._policy = policy or TicketPolicySettings()
        retry = retry or RetrySettings()
        self._max_rejections = retry.max_rejections
        self._clock = clock
        self._monotonic = monotonic
        self._budget = flush_budget
        self.outbox = Outbox(
            store, clock, Backoff(retry.initial_backoff.total_seconds(), retry.max_backoff.total_seconds())
        )

    # ---- events -> intentions (store only) ----

    def _confirmed(self, event: ProblemEvent) -> bool:
        problem = event.problem
        return (
            event.kind not in _ENDING
            and problem.status in ("open", "mitigating")
            and SEVERITY_RANK[problem.severity] >= SEVERITY_RANK[self._policy.min_severity]
            and event.ts - problem.opened_at >= self._policy.min_persistence.total_seconds()
        )

    def operation_key(self, event: ProblemEvent, op: str) -> str:
        """The idempotency key of one call made for one event (the same event delivered again gets the same keys)."""
        digest = hashlib.sha256(f"{event.kind}|{event.ts!r}|{event.message}".encode()).hexdigest()[:16]
        return f"{self.system.name}:{event.problem.fingerprint}:{digest}:{op}"

    def handle(self, event: ProblemEvent) -> None:
        """Record what the ticket should get for this event; never calls the ticket system.

        Two replicas sharing the store (a leader hand-over) may record the same event at the same moment: the
        operation keys and the link are unique, so the slower one fails on commit and, on its retry, finds the
        event already recorded."""
        for attempt in range(1, _RECORD_ATTEMPTS + 1):
            try:
                self._record(event)
                return
            except IntegrityError:
                if attempt == _RECORD_ATTEMPTS:
                    raise
                logger.info("event of %s recorded concurrently by another replica; retrying", event.problem.fingerprint)

    def _record(self, event: ProblemEvent) -> None:
        fp = event.problem.fingerprint
        with self._store.session() as session:
            if Outbox.exists(session, self.operation_key(event, "event")):
                return  # this event was handled before (re-delivered after a restart)
            link = session.get(TicketLinkRow, (self.system.name, fp))
            if link is None:
                link = TicketLinkRow(
                    system=self.system.name,
                    fingerprint=fp,
                    problem_id=event.problem.id,
                    title=event.problem.title,
                    severity=event.problem.severity,
                    state="watching",  # no ticket yet: the story is kept until the problem is confirmed
                    external_id=None,
                    url="",
                    seq=0,
                    story=[],
                    created_at=self._clock(),
                    updated_at=self._clock(),
                )
                session.add(link)
            ops = self._plan(event, link)
            if link.state == "watching":
                if ops:
                    link.state, link.story = "open", []
                else:
                    link.story = [*link.story[-(MAX_STORY - 1) :], story_line(event)]
            for kind, payload in ops:
                if kind == "status":
                    link.state = str(payload["status"])
                link.seq += 1
                self.outbox.enqueue(
                    session, self.system.name, fp, kind, payload, self.operation_key(event, f"{link.seq}-{kind}")
                )
            self.outbox.enqueue(
                session, self.system.name, fp, "event", {}, self.operation_key(event, "event"), state="done"
            )
            link.problem_id, link.title, link.severity = event.problem.id, event.problem.title, event.problem.severity
            link.updated_at = self._clock()

    def _plan(self, event: ProblemEvent, link: TicketLinkRow) -> list[tuple[str, dict[str, Any]]]:
        problem = event.problem
        if link.state == "watching":
            if not self._confirmed(event):
                return []
            body = ticket_body(event, earlier=link.story)
            return [("create", {"title": ticket_title(problem), "body": body, "severity": problem.severity})]
        comment = ("comment", {"body": event_comment(event)})
        if event.kind in ("resolved", "merged", "closed"):
            if link.state == "resolved":
                return [] if event.kind == "closed" else [comment]
            return [comment, ("status", {"status": "resolved"})]
        if link.state == "resolved" and problem.status not in ("open", "mitigating"):
            return [comment]  # a late outcome (an action verified after the quiet period) on a problem still over
        if link.state == "resolved":
            # the problem is back (reopened within the window, or a new problem with the same fingerprint)
            return [("status", {"status": "open"}), comment]
        if event.kind == "escalated":
            details = event.details
            escalation = Escalation(
                priority=str(details.get("priority") or self._policy.escalate_priority),
                queue=str(details.get("queue") or self._policy.escalate_queue or "") or None,
                assignee=str(details.get("assignee") or self._policy.escalate_assignee or "") or None,
            )
            return [comment, ("escalate", escalation.model_dump())]
        if event.kind == "updated" and not self._material(event, link):
            return []  # more of the same anomalies (a long fault, an alert still firing): no comment every tick
        return [comment]

    @staticmethod
    def _material(event: ProblemEvent, link: TicketLinkRow) -> bool:
        """An update worth a comment: someone acknowledged it, or the correlator says more than the anomaly count
        changed (severity, symptoms, root cause, scope); events without that detail (older ones) always are."""
        details = event.details
        if details.get("acknowledged_by") or "changed" not in details:
            return True
        return bool(details["changed"]) or (event.problem.title, event.problem.severity) != (link.title, link.severity)

    # ---- intentions -> external calls ----

    def flush(self) -> FlushReport:
        """Make due calls until done, the budget is spent, or the system turns out to be down."""
        deadline = self._monotonic() + self._budget
        done = retried = failed = 0
        down = False
        while not down and self._monotonic() <= deadline:
            progress = 0
            for row in self.outbox.due(self.system.name):  # the next call of each problem
                if self._monotonic() > deadline:
                    break
                outcome = self._attempt(row)
                if outcome == "down":
                    retried, down = retried + 1, True
                    break  # every other call would wait for the same timeout; try again next flush
                done += outcome == "done"
                retried += outcome == "retry"
                failed += outcome == "failed"
                progress += outcome in ("done", "failed")
            if not progress:
                break
        return FlushReport(done, retried, failed, self.outbox.pending(self.system.name), down)

    def _attempt(self, row: OutboxRow) -> str:
        self.outbox.begin_attempt(row.id)  # row keeps the count from before: > 0 means an earlier try may have landed
        try:
            self._execute(row)
        except TicketSystemUnavailable as exc:
            self.outbox.mark_retry(row.id, str(exc))
            logger.warning("ticket system %s unavailable, will retry: %s", self.system.name, exc)
            return "down"
        except TicketRejected as exc:
            retry = self.outbox.mark_retry(row.id, str(exc), give_up_after=self._max_rejections)
            return "retry" if retry else "failed"
        self.outbox.mark_done(row.id)
        return "done"

    def _execute(self, row: OutboxRow) -> None:
        if row.kind == "create":
            self._create(row)
            return
        external_id = self._external_id(row.fingerprint)
        if row.kind == "comment":
            if row.attempts and self.system.has_comment(external_id, row.op_key):
                return  # an earlier attempt did post it; its answer was lost
            self.system.comment(external_id, str(row.payload["body"]), row.op_key)
        elif row.kind == "status":
            status: TicketStatus = "resolved" if row.payload["status"] == "resolved" else "open"
            self.system.set_status(external_id, status)
        elif row.kind == "escalate":
            self.system.escalate(external_id, Escalation.model_validate(row.payload))
        else:
            raise TicketRejected(f"unknown outbox call kind {row.kind!r}")

    def _external_id(self, fingerprint: str) -> str:
        with self._store.session() as session:
            link = session.get(TicketLinkRow, (self.system.name, fingerprint))
            if link is not None and link.external_id:
                return link.external_id
        found = self._reconcile_one(fingerprint)
        if found is None:
            raise TicketNotFound(f"no ticket in {self.system.name} for problem {fingerprint}")
        return found

    def _create(self, row: OutboxRow) -> None:
        if self._reconcile_one(row.fingerprint) is not None:
            return
        payload = row.payload
        draft = TicketDraft(
            fingerprint=row.fingerprint,
            title=str(payload["title"]),
            body=str(payload["body"]),
            severity=payload["severity"],
            op_key=row.op_key,
        )
        ticket = self.system.create(draft)
        self._save_mapping(row.fingerprint, ticket.external_id, ticket.url)
        logger.info("opened ticket %s in %s for problem %s", ticket.external_id, self.system.name, row.fingerprint)

    def _reconcile_one(self, fingerprint: str) -> str | None:
        """The external id of this problem's ticket: from the mapping, else found in the system by fingerprint."""
        with self._store.session() as session:
            link = session.get(TicketLinkRow, (self.system.name, fingerprint))
            if link is not None and link.external_id:
                return link.external_id
        found = self.system.find(fingerprint)
        if found is None:
            return None
        self._save_mapping(fingerprint, found.external_id, found.url)
        logger.info("reconciled ticket %s in %s for problem %s", found.external_id, self.system.name, fingerprint)
        return found.external_id

    def _save_mapping(self, fingerprint: str, external_id: str, url: str) -> None:
        with self._store.session() as session:
            link = session.get(TicketLinkRow, (self.system.name, fingerprint))
            if link is not None:
                link.external_id, link.url, link.updated_at = external_id, url, self._clock()

    def reconcile(self) -> int:
        """After a crash or restart: look up, by fingerprint, every problem whose ticket id is not yet known.

        Returns how many mappings were found. Raises TicketSystemUnavailable if the system is down."""
        with self._store.session() as session:
            missing = list(
                session.scalars(
                    select(TicketLinkRow.fingerprint).where(
                        TicketLinkRow.system == self.system.name,
                        TicketLinkRow.external_id.is_(None),
                        TicketLinkRow.state != "watching",
                    )
                )
            )
        return sum(1 for fp in missing if self._reconcile_one(fp) is not None)

    # ---- reading ----

    def links(self) -> list[TicketLinkRow]:
        """Every problem this manager keeps a ticket (or a story before one) for, in its system."""
        with self._store.session() as session:
            return list(session.scalars(select(TicketLinkRow).where(TicketLinkRow.system == self.system.name)))
