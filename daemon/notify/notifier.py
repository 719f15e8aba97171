"""The problem notifier: chosen problem events go to every channel through the durable outbox, rate-limited.

``handle(event)`` only writes to the store; ``flush()`` sends what is due. Per channel at most ``max_per_window``
messages go out per window (the rest wait, in order); the same kind of event of the same problem is sent at most
once per ``min_interval_per_problem`` (a flapping problem does not flood a channel). A notification waits up to
``link_wait`` for its problem's ticket to exist, so that it can carry the link.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from daemon.domain import ProblemEvent
from daemon.notify.base import Notification, NotificationChannel
from daemon.settings.tickets import NotifySettings
from daemon.store import Store
from daemon.tickets.errors import TicketRejected, TicketSystemUnavailable
from daemon.tickets.models import OutboxRow, TicketLinkRow
from daemon.tickets.outbox import Backoff, Outbox

logger = logging.getLogger(__name__)
PREFIX = "notify:"


@dataclass(frozen=True)
class NotifyReport:
    sent: int
    deferred: int
    failed: int
    pending: int


class ProblemNotifier:
    def __init__(
        self,
        store: Store,
        channels: Sequence[NotificationChannel],
        settings: NotifySettings | None = None,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        max_rejections: int = 3,
    ) -> None:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"notification channel names must be unique; repeated: {duplicates}")
        self._store = store
        self._channels = {c.name: c for c in channels}
        self._settings = settings or NotifySettings()
        self._clock = clock
        self._max_rejections = max_rejections
        self.outbox = Outbox(store, clock, backoff or Backoff())

    def handle(self, event: ProblemEvent) -> int:
        """Queue the event for every channel if its kind notifies; returns how many messages were queued."""
        if event.kind not in self._settings.events or not self._channels:
            return 0
        problem = event.problem
        note = Notification(
            kind=event.kind,
            problem_id=problem.id,
            fingerprint=problem.fingerprint,
            title=problem.title,
            severity=problem.severity,
            message=event.message,
            ts=event.ts,
        )
        digest = hashlib.sha256(f"{event.kind}|{event.ts!r}|{event.message}".encode()).hexdigest()[:16]
        quiet_since = self._clock() - self._settings.min_interval_per_problem.total_seconds()
        queued = 0
        with self._store.session() as session:
            for name in self._channels:
                channel = PREFIX + name
                recent = session.scalar(
                    select(func.count(OutboxRow.id)).where(
                        OutboxRow.channel == channel,
                        OutboxRow.fingerprint == problem.fingerprint,
                        OutboxRow.payload["kind"].as_string() == event.kind,
                        OutboxRow.created_at > quiet_since,
                    )
                )
                if recent:
                    logger.info("not notifying %s of %s %s again so soon", name, problem.fingerprint, event.kind)
                    continue
                key = f"{channel}:{problem.fingerprint}:{digest}"
                queued += self.outbox.enqueue(session, channel, problem.fingerprint, "notify", note.model_dump(), key)
        return queued

    def _ticket(self, fingerprint: str) -> tuple[bool, str, str]:
        """(a ticket is intended, its external id, its URL) for the problem, over all ticket systems."""
        with self._store.session() as session:
            links = list(
                session.scalars(
                    select(TicketLinkRow).where(
                        TicketLinkRow.fingerprint == fingerprint, TicketLinkRow.state != "watching"
                    )
                )
            )
        for link in links:
            if link.external_id:
                return True, link.external_id, link.url
        return bool(links), "", ""

    def _window_full(self, channel: str) -> float | None:
        """When the channel may send again if its window is full, else None."""
        window = self._settings.window.total_seconds()
        since = self._clock() - window
        with self._store.session() as session:
            sent = list(
                session.scalars(
                    select(OutboxRow.done_at)
                    .where(OutboxRow.channel == channel, OutboxRow.state == "done", OutboxRow.done_at > since)
                    .order_by(OutboxRow.done_at)
                )
            )
        if len(sent) < self._settings.max_per_window:
            return None
        return float(sent[0] or since) + window

    def flush(self) -> NotifyReport:
        sent = deferred = failed = 0
        for name, channel in self._channels.items():
            while True:
                outcome = self._flush_channel(name, channel)
                sent, deferred, failed = sent + outcome[0], deferred + outcome[1], failed + outcome[2]
                if not (outcome[0] or outcome[2]) or outcome[3]:
                    break  # nothing moved, or the channel is down: the rest waits for the next flush
        pending = sum(self.outbox.pending(PREFIX + name) for name in self._channels)
        return NotifyReport(sent, deferred, failed, pending)

    def _flush_channel(self, name: str, channel: NotificationChannel) -> tuple[int, int, int, bool]:
        """One pass over the next message of each problem: (sent, deferred, failed, channel down)."""
        sent = deferred = failed = 0
        key = PREFIX + name
        for row in self.outbox.due(key):
            until = self._window_full(key)
            if until is not None:
                self.outbox.defer(row.id, until)
                deferred += 1
                continue
            intended, ticket_id, url = self._ticket(row.fingerprint)
            if intended and not ticket_id and self._clock() < row.created_at + self._settings.link_wait.total_seconds():
                self.outbox.defer(row.id, self._clock() + 5)
                deferred += 1
                continue
            note = Notification.model_validate({**row.payload, "ticket_url": url, "ticket_id": ticket_id})
            self.outbox.begin_attempt(row.id)
            try:
                channel.send(note)
            except TicketSystemUnavailable as exc:
                self.outbox.mark_retry(row.id, str(exc))
                logger.warning("notification channel %s unavailable, will retry: %s", name, exc)
                return sent, deferred, failed, True
            except TicketRejected as exc:
                if not self.outbox.mark_retry(row.id, str(exc), give_up_after=self._max_rejections):
                    failed += 1
                continue
            self.outbox.mark_done(row.id)
            sent += 1
        return sent, deferred, failed, False
