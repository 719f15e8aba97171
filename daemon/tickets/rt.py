"""Request Tracker 5 over REST 2 (``/REST/2.0``).

A ticket is found by the fingerprint tag in its subject (``[aiopsd:<fingerprint>]``, TicketSQL ``Subject LIKE``),
which needs no setup in RT; comments carry their operation key as the comment's subject, so a retried comment is
recognised among the ticket's attachments. Authentication: an auth token (``Authorization: token …``) or basic auth,
configured on the ``httpx.Client`` given to the adapter (see `daemon.tickets.factory`).
"""

from __future__ import annotations

import logging
import re

import httpx

from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus, fingerprint_tag, op_marker
from daemon.tickets.errors import TicketRejected
from daemon.tickets.http import call, json_of

logger = logging.getLogger(__name__)

_PRIORITY = {"low": 10, "normal": 50, "high": 80, "urgent": 99}
# RT answers an update with 200 and one message per field, failures included ("Queue nope does not exist")
_REFUSAL = re.compile(
    r"does not exist|isn't a valid|is not a valid|permission|could not|couldn't|can't|cannot|invalid", re.I
)


def _quoted(text: str) -> str:
    """A value inside a single-quoted TicketSQL string."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


class RequestTracker:
    name = "rt"

    def __init__(self, client: httpx.Client, base_url: str, queue: str = "General", requestor: str | None = None):
        self._client = client
        self._base = base_url.rstrip("/")
        self._api = f"{self._base}/REST/2.0"
        self._queue = queue
        self._requestor = requestor

    def _ticket_url(self, external_id: str) -> str:
        return f"{self._base}/Ticket/Display.html?id={external_id}"

    def find(self, fingerprint: str) -> ExternalTicket | None:
        tag = fingerprint_tag(fingerprint)
        response = call(
            self._client,
            self.name,
            "GET",
            f"{self._api}/tickets",
            params={
                "query": f"Subject LIKE '{_quoted(tag)}'",
                "fields": "Subject,Status",
                "orderby": "id",
                "order": "ASC",
            },
        )
        items = [i for i in json_of(response, self.name).get("items", []) if tag in str(i.get("Subject", ""))]
        if not items:
            return None
        if len(items) > 1:
            logger.warning("RT has %d tickets tagged %s; using the oldest, %s", len(items), tag, items[0]["id"])
        item = items[0]
        status: TicketStatus = "resolved" if item.get("Status") in ("resolved", "rejected", "deleted") else "open"
        return ExternalTicket(external_id=str(item["id"]), url=self._ticket_url(str(item["id"])), status=status)

    def create(self, draft: TicketDraft) -> ExternalTicket:
        tag = fingerprint_tag(draft.fingerprint)
        body: dict[str, object] = {
            "Queue": self._queue,
            "Subject": draft.title if tag in draft.title else f"{draft.title} {tag}",
            "Content": draft.body,
            "ContentType": "text/plain",
            "Priority": _PRIORITY["high" if draft.severity == "critical" else "normal"],
        }
        if self._requestor:
            body["Requestor"] = self._requestor
        response = call(self._client, self.name, "POST", f"{self._api}/ticket", json=body)
        external_id = str(json_of(response, self.name)["id"])
        return ExternalTicket(external_id=external_id, url=self._ticket_url(external_id))

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        payload = {"Subject": op_marker(op_key), "Content": body, "ContentType": "text/plain"}
        call(self._client, self.name, "POST", f"{self._api}/ticket/{external_id}/comment", json=payload)

    def has_comment(self, external_id: str, op_key: str) -> bool:
        marker = op_marker(op_key)
        page = 1
        while True:
            response = call(
                self._client,
                self.name,
                "GET",
                f"{self._api}/ticket/{external_id}/attachments",
                params={"fields": "Subject", "per_page": 100, "page": page},
            )
            data = json_of(response, self.name)
            if any(item.get("Subject") == marker for item in data.get("items", [])):
                return True
            if page >= int(data.get("pages") or 1):
                return False
            page += 1

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        self._update(external_id, {"Status": status})

    def _update(self, external_id: str, fields: dict[str, object]) -> None:
        response = call(self._client, self.name, "PUT", f"{self._api}/ticket/{external_id}", json=fields)
        messages = json_of(response, self.name)
        refused = [str(m) for m in messages if _REFUSAL.search(str(m))] if isinstance(messages, list) else []
        if refused:
            raise TicketRejected(f"rt: updating ticket {external_id} with {sorted(fields)} was refused: {refused}")

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        fields: dict[str, object] = {}
        if escalation.priority:
            fields["Priority"] = _PRIORITY.get(escalation.priority.lower(), escalation.priority)
        if escalation.queue:
            fields["Queue"] = escalation.queue
        if escalation.assignee:
            fields["Owner"] = escalation.assignee
        if fields:
            self._update(external_id, fields)
