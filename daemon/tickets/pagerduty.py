"""PagerDuty Events API v2 (``POST /v2/enqueue``).

The problem fingerprint is the ``dedup_key``, so every event is idempotent on PagerDuty's side: a repeated trigger
joins the open incident. The Events API is write-only: ``find`` cannot look an incident up and returns None (the
create that follows is the same idempotent trigger), and it has no comments — ``comment`` sends nothing (the story is
kept in the store and in notifications; `has_comment` says so). Resolve sends ``resolve``; reopen and escalation
send ``trigger`` again (escalation with severity critical).
"""

from __future__ import annotations

import logging

import httpx

from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus
from daemon.tickets.errors import TicketRejected
from daemon.tickets.http import call, json_of

logger = logging.getLogger(__name__)
_SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}


class PagerDutyEvents:
    name = "pagerduty"

    def __init__(
        self, client: httpx.Client, routing_key: str, url: str = "https://events.pagerduty.com", source: str = "aiopsd"
    ):
        self._client = client
        self._routing_key = routing_key
        self._url = f"{url.rstrip('/')}/v2/enqueue"
        self._source = source
        self._summaries: dict[str, str] = {}

    def _send(
        self, dedup_key: str, action: str, summary: str | None = None, severity: str = "warning", details: str = ""
    ) -> None:
        event: dict[str, object] = {"routing_key": self._routing_key, "event_action": action, "dedup_key": dedup_key}
        if action == "trigger":
            event["payload"] = {
                "summary": (summary or self._summaries.get(dedup_key) or dedup_key)[:1024],
                "source": self._source,
                "severity": severity,
                "custom_details": {"story": details} if details else {},
            }
        response = call(self._client, self.name, "POST", self._url, json=event)
        answer = json_of(response, self.name)
        if answer.get("status") != "success":
            raise TicketRejected(f"pagerduty: event {action} not accepted: {answer.get('message')}")

    def find(self, fingerprint: str) -> ExternalTicket | None:
        return None

    def create(self, draft: TicketDraft) -> ExternalTicket:
        self._summaries[draft.fingerprint] = draft.title
        self._send(draft.fingerprint, "trigger", draft.title, _SEVERITY[draft.severity], draft.body)
        return ExternalTicket(external_id=draft.fingerprint)

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        logger.debug("pagerduty events have no comments; not sent for %s", external_id)

    def has_comment(self, external_id: str, op_key: str) -> bool:
        return True  # nothing is ever posted, so there is nothing to repeat

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        self._send(external_id, "resolve" if status == "resolved" else "trigger")

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        self._send(external_id, "trigger", severity="critical")
