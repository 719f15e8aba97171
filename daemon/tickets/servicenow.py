"""ServiceNow incidents over the Table API (``/api/now/table/incident``).

A problem's incident carries the fingerprint in ``correlation_id`` (the field ServiceNow meant for this), found in
any state. Comments are work notes ending with the marker ``aiopsd-op:<key>``; a retried note is recognised in the
journal (``sys_journal_field``). Resolve sets state 6 (Resolved) with a close code and notes; reopen sets state 2
(In Progress). Escalation sets urgency/impact, the assignment group and the assignee.
"""

from __future__ import annotations

from typing import Any

import httpx

from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus, op_marker
from daemon.tickets.http import call, json_of

RESOLVED_STATES = {"6", "7", "8"}  # resolved, closed, canceled
_URGENCY = {"low": "3", "normal": "2", "high": "1", "urgent": "1"}


class ServiceNowIncidents:
    name = "servicenow"

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        assignment_group: str | None = None,
        caller_id: str | None = None,
        close_code: str = "Solution provided",
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._table = f"{self._base}/api/now/table/incident"
        self._assignment_group = assignment_group
        self._caller_id = caller_id
        self._close_code = close_code

    def _external(self, record: dict[str, Any]) -> ExternalTicket:
        sys_id = str(record["sys_id"])
        status: TicketStatus = "resolved" if str(record.get("state")) in RESOLVED_STATES else "open"
        return ExternalTicket(
            external_id=sys_id, url=f"{self._base}/nav_to.do?uri=incident.do?sys_id={sys_id}", status=status
        )

    def find(self, fingerprint: str) -> ExternalTicket | None:
        params = {
            "sysparm_query": f"correlation_id={fingerprint}^ORDERBYsys_created_on",
            "sysparm_fields": "sys_id,number,state",
            "sysparm_limit": "1",
        }
        response = call(self._client, self.name, "GET", self._table, params=params)
        records = json_of(response, self.name).get("result", [])
        return self._external(records[0]) if records else None

    def create(self, draft: TicketDraft) -> ExternalTicket:
        level = "1" if draft.severity == "critical" else "2"
        record: dict[str, Any] = {
            "short_description": draft.title[:160],
            "description": draft.body,
            "correlation_id": draft.fingerprint,
            "correlation_display": "aiopsd",
            "urgency": level,
            "impact": level,
        }
        if self._assignment_group:
            record["assignment_group"] = self._assignment_group
        if self._caller_id:
            record["caller_id"] = self._caller_id
        response = call(self._client, self.name, "POST", self._table, json=record)
        return self._external(json_of(response, self.name)["result"])

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        note = f"{body}\n{op_marker(op_key)}"
        call(self._client, self.name, "PATCH", f"{self._table}/{external_id}", json={"work_notes": note})

    def has_comment(self, external_id: str, op_key: str) -> bool:
        params = {
            "sysparm_query": f"element_id={external_id}^element=work_notes^valueLIKE{op_marker(op_key)}",
            "sysparm_fields": "sys_id",
            "sysparm_limit": "1",
        }
        response = call(self._client, self.name, "GET", f"{self._base}/api/now/table/sys_journal_field", params=params)
        return bool(json_of(response, self.name).get("result"))

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        if status == "resolved":
            fields = {"state": "6", "close_code": self._close_code, "close_notes": "Recovery verified by aiopsd."}
        else:
            fields = {"state": "2"}
        call(self._client, self.name, "PATCH", f"{self._table}/{external_id}", json=fields)

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        fields: dict[str, str] = {}
        if escalation.priority:
            level = _URGENCY.get(escalation.priority.lower(), "1")
            fields["urgency"] = fields["impact"] = level
        if escalation.queue:
            fields["assignment_group"] = escalation.queue
        if escalation.assignee:
            fields["assigned_to"] = escalation.assignee
        if fields:
            call(self._client, self.name, "PATCH", f"{self._table}/{external_id}", json=fields)
