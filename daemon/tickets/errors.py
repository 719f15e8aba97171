"""Errors of ticketing and notifications.

AiopsdError (daemon.errors)
└── TicketError                 root of everything a ticket system or notification channel raises on purpose
    ├── TicketSystemUnavailable  not reachable, timed out, 5xx or 429: the outbox retries with backoff
    └── TicketRejected           the system refused the request (4xx): retrying the same request will not help
        └── TicketNotFound       the ticket the mapping points at does not exist (any more)
"""

from __future__ import annotations

from daemon.errors import AiopsdError


class TicketError(AiopsdError):
    """Root of ticketing and notification errors."""


class TicketSystemUnavailable(TicketError):
    """Temporary: the call may or may not have taken effect; it is retried later."""


class TicketRejected(TicketError):
    """Permanent: the system answered and refused."""


class TicketNotFound(TicketRejected):
    pass
