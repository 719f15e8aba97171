"""What the daemon loop holds: tickets and notifications for problem events, behind three calls.

ticketing = build_ticketing(settings, store)   # once, at start
ticketing.start()                              # reconcile mappings by fingerprint (tolerates a system that is down)
ticketing.handle(event)                        # for every ProblemEvent; store writes only, never blocks
report = ticketing.flush()                     # every tick (or in a worker thread); bounded by flush_budget
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from daemon.domain import ProblemEvent
from daemon.notify.factory import build_notifier
from daemon.notify.notifier import NotifyReport, ProblemNotifier
from daemon.settings.loader import Settings
from daemon.store import Store
from daemon.tickets.errors import TicketSystemUnavailable
from daemon.tickets.factory import build_ticket_manager
from daemon.tickets.manager import FlushReport, TicketManager

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketingReport:
    tickets: FlushReport
    notifications: NotifyReport

    @property
    def healthy(self) -> bool:
        """False while the ticket system is down (for /healthz and metrics; detection goes on regardless)."""
        return not self.tickets.system_down


class ProblemTicketing:
    def __init__(
        self,
        tickets: TicketManager | None,
        notifier: ProblemNotifier,
        clock: Callable[[], float] = time.time,
        keep_done: float = 30 * 86400,
    ) -> None:
        self.tickets = tickets
        self.notifier = notifier
        self._clock = clock
        self._keep_done = keep_done
        self._pruned_at = 0.0

    def start(self) -> int:
        """Find tickets whose creation was cut short by a crash; 0 if the system is down (flush retries later)."""
        if self.tickets is None:
            return 0
        try:
            return self.tickets.reconcile()
        except TicketSystemUnavailable as exc:
            logger.warning("ticket system unavailable at start, reconciling later: %s", exc)
            return 0

    def handle(self, event: ProblemEvent) -> None:
        if self.tickets is not None:
            self.tickets.handle(event)
        self.notifier.handle(event)

    def flush(self) -> TicketingReport:
        tickets = self.tickets.flush() if self.tickets is not None else FlushReport(0, 0, 0, 0, False)
        report = TicketingReport(tickets, self.notifier.flush())
        now = self._clock()
        if now - self._pruned_at > 3600:  # hourly: finished calls older than keep_done are forgotten
            self._pruned_at = now
            self.notifier.outbox.prune(now - self._keep_done)
        return report


def build_ticketing(
    settings: Settings,
    store: Store,
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> ProblemTicketing:
    """From settings; ``tickets.enabled: false`` keeps notifications only."""
    manager = build_ticket_manager(settings, store, clock, transport) if settings.tickets.enabled else None
    notifier = build_notifier(settings.tickets, store, clock, transport)
    return ProblemTicketing(manager, notifier, clock, settings.tickets.keep_done.total_seconds())
