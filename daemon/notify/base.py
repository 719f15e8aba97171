"""What a notification is and what a channel must do with it."""

from __future__ import annotations

from typing import Protocol

from daemon.domain import Frozen, ProblemEventKind, Severity


class Notification(Frozen):
    """One message about one problem, with the link to its ticket when one is known."""

    kind: ProblemEventKind
    problem_id: str
    fingerprint: str
    title: str
    severity: Severity
    message: str
    ts: float
    ticket_url: str = ""
    ticket_id: str = ""

    @property
    def headline(self) -> str:
        return f"[{self.severity.upper()}] problem {self.kind}: {self.title}"


class NotificationChannel(Protocol):
    """Sends notifications; raises `TicketSystemUnavailable` (retry later) or `TicketRejected` (give up)."""

    name: str

    def send(self, notification: Notification) -> None: ...
