"""Building the configured ticket system and manager from settings: secrets are read here (from files or the
environment) and go into the ``httpx.Client``'s auth, never into logs or error texts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pydantic import SecretStr

from daemon.errors import ConfigError, ConfigIssue
from daemon.settings.loader import Settings, read_secret
from daemon.settings.tickets import TicketsSettings
from daemon.store import Store
from daemon.tickets.base import TicketSystem
from daemon.tickets.builtin import BuiltinTicketSystem
from daemon.tickets.github import GitHubIssues
from daemon.tickets.jira import JiraIssues
from daemon.tickets.manager import TicketManager
from daemon.tickets.pagerduty import PagerDutyEvents
from daemon.tickets.rt import RequestTracker
from daemon.tickets.servicenow import ServiceNowIncidents

USER_AGENT = "aiopsd-tickets/0.1"


def _secret(value: SecretStr | None, file: Path | None, where: str, required: bool = True) -> str | None:
    secret = read_secret(value, file, where)
    if required and not secret:
        raise ConfigError(
            "settings", [ConfigIssue(where, "a secret is required here (inline, by environment or file)")]
        )
    return secret


def _client(
    transport: httpx.BaseTransport | None,
    timeout: float,
    auth: httpx.Auth | tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        auth=auth,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
    )


def build_ticket_system(
    tickets: TicketsSettings,
    store: Store,
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> TicketSystem:
    """The configured system; ``transport`` is the test seam (``httpx.MockTransport``)."""
    timeout = tickets.timeout.total_seconds()
    if tickets.system == "rt" and tickets.rt is not None:
        rt = tickets.rt
        token = _secret(rt.token, rt.token_file, "tickets.rt.token_file", required=False)
        if token:
            client = _client(transport, timeout, headers={"Authorization": f"token {token}"})
        else:
            password = _secret(rt.password, rt.password_file, "tickets.rt.password_file")
            if not rt.username:
                raise ConfigError("settings", [ConfigIssue("tickets.rt.username", "required without a token")])
            client = _client(transport, timeout, auth=(rt.username, password or ""))
        return RequestTracker(client, rt.url, rt.queue, rt.requestor)
    if tickets.system == "jira" and tickets.jira is not None:
        jira = tickets.jira
        token = _secret(jira.token, jira.token_file, "tickets.jira.token_file") or ""
        if jira.username:
            client = _client(transport, timeout, auth=(jira.username, token))
        else:
            client = _client(transport, timeout, headers={"Authorization": f"Bearer {token}"})
        return JiraIssues(
            client,
            jira.url,
            jira.project,
            jira.issue_type,
            jira.api_version,
            jira.resolve_transition,
            jira.reopen_transition,
        )
    if tickets.system == "servicenow" and tickets.servicenow is not None:
        snow = tickets.servicenow
        password = _secret(snow.password, snow.password_file, "tickets.servicenow.password_file") or ""
        client = _client(transport, timeout, auth=(snow.username, password), headers={"Accept": "application/json"})
        return ServiceNowIncidents(client, snow.url, snow.assignment_group, snow.caller_id)
    if tickets.system == "github" and tickets.github is not None:
        gh = tickets.github
        token = _secret(gh.token, gh.token_file, "tickets.github.token_file")
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        return GitHubIssues(_client(transport, timeout, headers=headers), gh.repo, gh.api_url, gh.labels)
    if tickets.system == "pagerduty" and tickets.pagerduty is not None:
        pd = tickets.pagerduty
        key = _secret(pd.routing_key, pd.routing_key_file, "tickets.pagerduty.routing_key_file") or ""
        return PagerDutyEvents(_client(transport, timeout), key, pd.url, pd.source)
    return BuiltinTicketSystem(store, clock)


def build_ticket_manager(
    settings: Settings,
    store: Store,
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> TicketManager:
    tickets = settings.tickets
    return TicketManager(
        store,
        build_ticket_system(tickets, store, clock, transport),
        policy=tickets.policy,
        retry=tickets.retry,
        clock=clock,
        flush_budget=tickets.flush_budget.total_seconds(),
    )
