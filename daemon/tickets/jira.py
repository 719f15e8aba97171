"""Jira issues over REST v2 (Server/Data Center) or v3 (Cloud: text as Atlassian Document Format).

A problem's issue has the label ``aiopsd-<fingerprint>``, found with JQL in any status. Comments end with the
marker ``aiopsd-op:<key>``. Resolve and reopen run the workflow transition named in the settings (falling back to
any transition into the right status category) and do nothing when the issue is already there. Escalation sets the
priority, the component (as queue) and the assignee (v2: user name, v3: account id).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus, op_marker
from daemon.tickets.errors import TicketRejected
from daemon.tickets.http import call, json_of

_PRIORITY = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Highest"}


def fingerprint_label(fingerprint: str) -> str:
    return f"aiopsd-{fingerprint}"


def _adf(text: str) -> dict[str, Any]:
    paragraphs = [{"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in text.split("\n") if p]
    return {"type": "doc", "version": 1, "content": paragraphs}


class JiraIssues:
    name = "jira"

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        project: str,
        issue_type: str = "Task",
        api_version: int = 2,
        resolve_transition: str = "Done",
        reopen_transition: str = "Reopen",
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._api = f"{self._base}/rest/api/{api_version}"
        self._v3 = api_version == 3
        self._project = project
        self._issue_type = issue_type
        self._transition_names = {"resolved": resolve_transition.lower(), "open": reopen_transition.lower()}

    def _text(self, text: str) -> Any:
        return _adf(text) if self._v3 else text

    def _status_of(self, issue: dict[str, Any]) -> TicketStatus:
        category = issue.get("fields", {}).get("status", {}).get("statusCategory", {}).get("key")
        return "resolved" if category == "done" else "open"

    def find(self, fingerprint: str) -> ExternalTicket | None:
        jql = f'project = "{self._project}" AND labels = "{fingerprint_label(fingerprint)}" ORDER BY created ASC'
        path = f"{self._api}/search/jql" if self._v3 else f"{self._api}/search"
        response = call(self._client, self.name, "GET", path, params={"jql": jql, "fields": "status", "maxResults": 5})
        issues = json_of(response, self.name).get("issues", [])
        if not issues:
            return None
        key = str(issues[0]["key"])
        return ExternalTicket(external_id=key, url=f"{self._base}/browse/{key}", status=self._status_of(issues[0]))

    def create(self, draft: TicketDraft) -> ExternalTicket:
        fields = {
            "project": {"key": self._project},
            "summary": draft.title[:255],
            "description": self._text(draft.body),
            "issuetype": {"name": self._issue_type},
            "labels": ["aiopsd", fingerprint_label(draft.fingerprint)],
            "priority": {"name": _PRIORITY["high" if draft.severity == "critical" else "normal"]},
        }
        response = call(self._client, self.name, "POST", f"{self._api}/issue", json={"fields": fields})
        key = str(json_of(response, self.name)["key"])
        return ExternalTicket(external_id=key, url=f"{self._base}/browse/{key}")

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        text = f"{body}\n{op_marker(op_key)}"
        call(
            self._client, self.name, "POST", f"{self._api}/issue/{external_id}/comment", json={"body": self._text(text)}
        )

    def has_comment(self, external_id: str, op_key: str) -> bool:
        marker = op_marker(op_key)
        start = 0
        while True:
            response = call(
                self._client,
                self.name,
                "GET",
                f"{self._api}/issue/{external_id}/comment",
                params={"startAt": start, "maxResults": 100},
            )
            data = json_of(response, self.name)
            comments = data.get("comments", [])
            if any(marker in json.dumps(c.get("body", "")) for c in comments):
                return True
            start += len(comments)
            if not comments or start >= int(data.get("total", 0)):
                return False

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        response = call(self._client, self.name, "GET", f"{self._api}/issue/{external_id}", params={"fields": "status"})
        if self._status_of(json_of(response, self.name)) == status:
            return  # already there: a retried call changes nothing
        response = call(self._client, self.name, "GET", f"{self._api}/issue/{external_id}/transitions")
        transitions = json_of(response, self.name).get("transitions", [])
        wanted = self._transition_names[status]
        chosen = next((t for t in transitions if str(t.get("name", "")).lower() == wanted), None)
        if chosen is None:
            done = status == "resolved"
            chosen = next(
                (t for t in transitions if (t.get("to", {}).get("statusCategory", {}).get("key") == "done") == done),
                None,
            )
        if chosen is None:
            names = [t.get("name") for t in transitions]
            raise TicketRejected(f"jira: no transition of {external_id} leads to {status}; available: {names}")
        call(
            self._client,
            self.name,
            "POST",
            f"{self._api}/issue/{external_id}/transitions",
            json={"transition": {"id": str(chosen["id"])}},
        )

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        fields: dict[str, Any] = {}
        if escalation.priority:
            fields["priority"] = {"name": _PRIORITY.get(escalation.priority.lower(), escalation.priority)}
        if escalation.queue:
            fields["components"] = [{"name": escalation.queue}]
        if escalation.assignee:
            fields["assignee"] = {"accountId" if self._v3 else "name": escalation.assignee}
        if fields:
            call(self._client, self.name, "PUT", f"{self._api}/issue/{external_id}", json={"fields": fields})
