"""Jira, ServiceNow, GitHub Issues and PagerDuty adapters, tested at the HTTP transport with recorded payloads.

These tests plug an `httpx.MockTransport` that replays the JSON exchanges in ``recordings/`` (shaped after each
vendor's API reference, not captured from a live instance): the adapters, built from settings by the factory with
their authentication, run a problem's story through the ticket manager, and every request must match the recording
in order — method, path, query, JSON body and auth headers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from daemon.settings.tickets import TicketsSettings
from daemon.tickets.errors import TicketNotFound, TicketRejected, TicketSystemUnavailable
from daemon.tickets.factory import build_ticket_system
from daemon.tickets.github import GitHubIssues
from daemon.tickets.http import call
from daemon.tickets.manager import TicketManager
from tests.daemon.tickets.helpers import T0, Clock, event, make_store
from tests.daemon.tickets.recorded import Recording

SETTINGS: dict[str, dict[str, Any]] = {
    "github": {"system": "github", "github": {"repo": "acme/shop", "token": "ghp-test-token"}},
    "jira": {
        "system": "jira",
        "jira": {"url": "https://jira.example.com", "project": "OPS", "username": "aiopsd", "token": "jira-token"},
    },
    "servicenow": {
        "system": "servicenow",
        "servicenow": {
            "url": "https://acme.service-now.com",
            "username": "aiopsd",
            "password": "snow-pass",
            "assignment_group": "Service Desk",
        },
    },
    "pagerduty": {"system": "pagerduty", "pagerduty": {"routing_key": "R0UTINGKEY0000000000000000000000"}},
}


def story_with_recurrence() -> list[Any]:
    return [
        event("opened", T0, "latency of cart above baseline"),
        event("updated", T0 + 15, "errors of cart rising"),
        event("resolved", T0 + 300, "quiet for 3m"),
        event("reopened", T0 + 400, "latency of cart above baseline again", reopen_count=1),
        event("escalated", T0 + 460, "restart did not help", details={"priority": "urgent"}),
    ]


@pytest.mark.parametrize("system", ["github", "jira", "servicenow", "pagerduty"])
def test_problem_story_makes_the_recorded_calls_in_order(system: str, tmp_path: Path):
    recording = Recording(system)
    store = make_store(tmp_path)
    clock = Clock()
    settings = TicketsSettings.model_validate(
        {**SETTINGS[system], "policy": {"escalate_queue": "sre", "escalate_assignee": "oncall"}}
    )
    adapter = build_ticket_system(settings, store, clock, transport=httpx.MockTransport(recording.handler))
    manager = TicketManager(store, adapter, policy=settings.policy, clock=clock)
    for ev in story_with_recurrence():
        manager.handle(ev)
        report = manager.flush()
        assert report.failed == 0 and not report.system_down, recording.mismatches
    recording.assert_complete()
    [link] = manager.links()
    assert link.external_id and link.state == "open"


def _replying(status: int, body: Any = None) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))


def test_http_errors_map_to_retryable_and_permanent_errors():
    with pytest.raises(TicketSystemUnavailable, match="503"):
        call(_replying(503, {"message": "maintenance"}), "jira", "GET", "https://jira.example.com/rest/api/2/issue/X")
    with pytest.raises(TicketSystemUnavailable, match="429"):
        call(_replying(429), "github", "GET", "https://api.github.com/repos/a/b/issues")
    with pytest.raises(TicketNotFound):
        call(_replying(404), "servicenow", "GET", "https://acme.service-now.com/api/now/table/incident/x")
    with pytest.raises(TicketRejected, match="422"):
        call(
            _replying(422, {"message": "Validation Failed"}),
            "github",
            "POST",
            "https://api.github.com/repos/a/b/issues",
        )

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TicketSystemUnavailable, match="ConnectError"):
        call(httpx.Client(transport=httpx.MockTransport(refuse)), "rt", "GET", "http://127.0.0.1:1/REST/2.0/tickets")


def test_github_recognises_a_comment_already_posted_by_its_hidden_marker():
    def comments(request: httpx.Request) -> httpx.Response:
        body = [{"id": 1, "body": "someone else"}, {"id": 2, "body": "errors rising\n\n<!-- aiopsd-op:github:fp:1 -->"}]
        return httpx.Response(200, json=body)

    gh = GitHubIssues(httpx.Client(transport=httpx.MockTransport(comments)), "acme/shop")
    assert gh.has_comment("42", "github:fp:1")
    assert not gh.has_comment("42", "github:fp:2")


def test_github_label_of_a_long_fingerprint_fits_the_50_character_limit():
    from daemon.tickets.github import fingerprint_label

    long = fingerprint_label("f" * 64)
    assert len(long) <= 50 and long.startswith("aiopsd:") and long != fingerprint_label("e" * 64)


def test_jira_cloud_reconciles_an_existing_issue_and_does_not_repeat_a_comment_that_landed(tmp_path: Path):
    """Jira v3 at the transport with recorded payloads: the create finds the issue by label (no POST /issue), and a
    comment whose answer was a 503 is found among the issue's comments (ADF) instead of being posted again."""
    store = make_store(tmp_path)
    clock = Clock()
    events = [event("opened", T0, "latency of cart above baseline"), event("updated", T0 + 15, "errors of cart rising")]
    settings = TicketsSettings.model_validate(
        {
            "system": "jira",
            "jira": {"url": "https://acme.atlassian.net", "project": "OPS", "api_version": 3, "token": "cloud-pat"},
        }
    )
    probe = TicketManager(store, build_ticket_system(settings, make_store(tmp_path, "probe.db")), clock=clock)
    op_key = probe.operation_key(events[1], "2-comment")  # the key the manager gives the comment of the second event
    recording = Recording("jira_v3", {"op_key": op_key})
    adapter = build_ticket_system(settings, store, clock, transport=httpx.MockTransport(recording.handler))
    manager = TicketManager(store, adapter, clock=clock)
    for ev in events:
        manager.handle(ev)
    assert manager.flush().system_down
    clock.advance(60)
    assert manager.flush().pending == 0
    recording.assert_complete()
    [link] = manager.links()
    assert (link.external_id, link.url) == ("OPS-7", "https://acme.atlassian.net/browse/OPS-7")
