"""GitHub Issues (REST API v3, ``application/vnd.github+json``).

A problem's issue carries the label ``aiopsd:<fingerprint>`` (hashed when the fingerprint is too long for GitHub's
50-character label names); ``find`` lists issues with that label in any state. Comments end with a hidden marker
``<!-- aiopsd-op:<key> -->``. Resolve closes the issue as completed; reopen opens it again.
"""

from __future__ import annotations

import hashlib
import logging

import httpx

from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus, op_marker
from daemon.tickets.http import call, json_of

logger = logging.getLogger(__name__)
_MAX_LABEL = 50


def fingerprint_label(fingerprint: str) -> str:
    label = f"aiopsd:{fingerprint}"
    if len(label) > _MAX_LABEL:
        label = "aiopsd:" + hashlib.sha256(fingerprint.encode()).hexdigest()[:40]
    return label


class GitHubIssues:
    name = "github"

    def __init__(
        self, client: httpx.Client, repo: str, api_url: str = "https://api.github.com", labels: list[str] | None = None
    ):
        self._client = client
        self._repo_api = f"{api_url.rstrip('/')}/repos/{repo}"
        self._labels = list(labels or [])

    @staticmethod
    def _external(issue: dict[str, object]) -> ExternalTicket:
        status: TicketStatus = "resolved" if issue.get("state") == "closed" else "open"
        return ExternalTicket(external_id=str(issue["number"]), url=str(issue.get("html_url", "")), status=status)

    def find(self, fingerprint: str) -> ExternalTicket | None:
        response = call(
            self._client,
            self.name,
            "GET",
            f"{self._repo_api}/issues",
            params={"labels": fingerprint_label(fingerprint), "state": "all", "sort": "created", "direction": "asc"},
        )
        issues = [i for i in json_of(response, self.name) if "pull_request" not in i]
        return self._external(issues[0]) if issues else None

    def create(self, draft: TicketDraft) -> ExternalTicket:
        severity_label = f"severity:{draft.severity}"
        body = {
            "title": draft.title,
            "body": draft.body,
            "labels": [*self._labels, fingerprint_label(draft.fingerprint), severity_label],
        }
        response = call(self._client, self.name, "POST", f"{self._repo_api}/issues", json=body)
        issue = json_of(response, self.name)
        labels = {str(label.get("name")) for label in issue.get("labels", []) if isinstance(label, dict)}
        if fingerprint_label(draft.fingerprint) not in labels:
            # GitHub silently drops labels without push access; then find() cannot see this issue after a restart
            logger.error(
                "GitHub dropped the label of issue #%s; give the token push access or tickets may be duplicated",
                issue.get("number"),
            )
        return self._external(issue)

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        text = f"{body}\n\n<!-- {op_marker(op_key)} -->"
        call(self._client, self.name, "POST", f"{self._repo_api}/issues/{external_id}/comments", json={"body": text})

    def has_comment(self, external_id: str, op_key: str) -> bool:
        marker = f"<!-- {op_marker(op_key)} -->"
        page = 1
        while True:
            response = call(
                self._client,
                self.name,
                "GET",
                f"{self._repo_api}/issues/{external_id}/comments",
                params={"per_page": 100, "page": page},
            )
            comments = json_of(response, self.name)
            if any(marker in str(c.get("body", "")) for c in comments):
                return True
            if len(comments) < 100:
                return False
            page += 1

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        fields = {"state": "closed", "state_reason": "completed"} if status == "resolved" else {"state": "open"}
        call(self._client, self.name, "PATCH", f"{self._repo_api}/issues/{external_id}", json=fields)

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        labels = [f"priority:{escalation.priority}"] if escalation.priority else []
        if escalation.queue:
            labels.append(escalation.queue)
        if labels:
            call(
                self._client,
                self.name,
                "POST",
                f"{self._repo_api}/issues/{external_id}/labels",
                json={"labels": labels},
            )
        if escalation.assignee:
            call(
                self._client,
                self.name,
                "POST",
                f"{self._repo_api}/issues/{external_id}/assignees",
                json={"assignees": [escalation.assignee]},
            )
