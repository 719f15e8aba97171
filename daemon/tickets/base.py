"""What the ticket manager needs from a ticket system: one small Protocol, implemented by every adapter.

Every method must be idempotent, because the outbox retries a call whose outcome it could not see:
``find`` locates a ticket by the problem fingerprint (the reconcile path after a crash), ``comment`` carries an
operation key that ``has_comment`` can look for, and status changes set a state rather than toggle it.
"""

from __future__ import annotations

from typing import Literal, Protocol

from daemon.domain import Frozen, Severity

TicketStatus = Literal["open", "resolved"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


class TicketDraft(Frozen):
    """A ticket to open for one problem."""

    fingerprint: str
    title: str
    body: str
    severity: Severity
    op_key: str


class ExternalTicket(Frozen):
    """A ticket as it exists in one system."""

    external_id: str
    url: str = ""
    status: TicketStatus = "open"


class Escalation(Frozen):
    """Raise a ticket's urgency and route it to people: fields left None stay as they are."""

    priority: str | None = None
    queue: str | None = None
    assignee: str | None = None


def fingerprint_tag(fingerprint: str) -> str:
    """The tag that marks a ticket as the one of a problem, in subjects and titles of systems without labels."""
    return f"[aiopsd:{fingerprint}]"


def op_marker(op_key: str) -> str:
    """A marker inside a comment's text so a retried comment can be recognised as already posted."""
    return f"aiopsd-op:{op_key}"


class TicketSystem(Protocol):
    """A ticket system as the manager uses it; adapters raise only `TicketError` subclasses."""

    name: str

    def find(self, fingerprint: str) -> ExternalTicket | None:
        """The ticket of this problem if one exists (in any status), else None."""
        ...

    def create(self, draft: TicketDraft) -> ExternalTicket:
        """Open the ticket; the manager calls this only after ``find`` returned None for the fingerprint, and the
        ticket must carry the fingerprint (tag, label, field) so that ``find`` sees it from then on."""
        ...

    def comment(self, external_id: str, body: str, op_key: str) -> None: ...

    def has_comment(self, external_id: str, op_key: str) -> bool:
        """Whether a comment with this operation key is already on the ticket (after an ambiguous failure)."""
        ...

    def set_status(self, external_id: str, status: TicketStatus) -> None: ...

    def escalate(self, external_id: str, escalation: Escalation) -> None: ...
