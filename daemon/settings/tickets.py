"""Settings of tickets and notifications (section ``tickets``). Secrets come inline (better: environment) or from
files (``*_file``, which win); they are `SecretStr`, masked in ``aiopsd config show`` and never logged."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from daemon.domain import ProblemEventKind, Severity
from daemon.durations import Duration
from daemon.settings.base import StrictModel

DEFAULT_NOTIFY_EVENTS: tuple[ProblemEventKind, ...] = ("opened", "mitigating", "resolved")
TicketSystemName = Literal["builtin", "rt", "jira", "servicenow", "github", "pagerduty"]


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


class TicketPolicySettings(StrictModel):
    min_severity: Severity = Field("warning", description="Problems below this severity get no ticket.")
    min_persistence: Duration = Field(
        timedelta(0), description="A problem must be open this long before its ticket opens (against flapping)."
    )
    escalate_priority: str = Field("high", description="Priority set when a problem is escalated.")
    escalate_queue: str | None = Field(None, description="Queue / group / project an escalated ticket moves to.")
    escalate_assignee: str | None = Field(None, description="Person an escalated ticket is assigned to.")


class RetrySettings(StrictModel):
    initial_backoff: Duration = Field(timedelta(seconds=5), description="Wait after the first failure.")
    max_backoff: Duration = Field(timedelta(minutes=10), description="Longest wait; doubling stops here.")
    max_rejections: int = Field(
        3, ge=1, description="A refused (4xx) call is given up after this many tries; unreachable ones never are."
    )


class RTSettings(StrictModel):
    url: str = Field(description="Base URL of RT, e.g. https://rt.example.com (REST 2 is under /REST/2.0).")
    queue: str = "General"
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    token: SecretStr | None = Field(None, description="An RT auth token (preferred over username/password).")
    token_file: Path | None = None
    requestor: str | None = Field(None, description="Requestor address of new tickets.")

    _url = field_validator("url")(_http_url)


class JiraSettings(StrictModel):
    url: str
    project: str = Field(description="Project key, e.g. OPS.")
    issue_type: str = "Task"
    api_version: Literal[2, 3] = Field(2, description="2: Server/Data Center; 3: Cloud (comments in ADF).")
    username: str | None = Field(None, description="With token: basic auth (Cloud: e-mail + API token).")
    token: SecretStr | None = Field(None, description="API token; without username it is sent as a bearer (PAT).")
    token_file: Path | None = None
    resolve_transition: str = Field("Done", description="Name of the transition that resolves an issue.")
    reopen_transition: str = Field("Reopen", description="Name of the transition that reopens an issue.")

    _url = field_validator("url")(_http_url)


class ServiceNowSettings(StrictModel):
    url: str = Field(description="Instance URL, e.g. https://acme.service-now.com")
    username: str
    password: SecretStr | None = None
    password_file: Path | None = None
    assignment_group: str | None = None
    caller_id: str | None = None

    _url = field_validator("url")(_http_url)


class GitHubSettings(StrictModel):
    api_url: str = "https://api.github.com"
    repo: str = Field(description="owner/name of the repository whose issues are tickets.")
    token: SecretStr | None = None
    token_file: Path | None = None
    labels: list[str] = Field(default_factory=lambda: ["aiopsd"])

    _url = field_validator("api_url")(_http_url)

    @field_validator("repo")
    @classmethod
    def _repo(cls, value: str) -> str:
        if not re.match(r"^[\w.-]+/[\w.-]+$", value):
            raise ValueError(f"expected owner/name, got {value!r}")
        return value


class PagerDutySettings(StrictModel):
    url: str = "https://events.pagerduty.com"
    routing_key: SecretStr | None = None
    routing_key_file: Path | None = None
    source: str = Field("aiopsd", description="The `source` field of events.")

    _url = field_validator("url")(_http_url)


class WebhookSettings(StrictModel):
    name: str
    url: SecretStr | None = Field(None, description="Slack-compatible incoming webhook URL (it is a secret).")
    url_file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> WebhookSettings:
        if self.url is None and self.url_file is None:
            raise ValueError("expected url or url_file")
        return self


class EmailSettings(StrictModel):
    name: str
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    starttls: bool = False
    ssl: bool = False


class NotifySettings(StrictModel):
    events: list[ProblemEventKind] = Field(
        default_factory=lambda: list(DEFAULT_NOTIFY_EVENTS), description="Event kinds that notify."
    )
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    email: list[EmailSettings] = Field(default_factory=list)
    max_per_window: int = Field(20, ge=1, description="Per channel: at most this many messages per window.")
    window: Duration = Field(timedelta(minutes=10))
    min_interval_per_problem: Duration = Field(
        timedelta(minutes=5), description="The same event kind of the same problem is sent at most this often."
    )
    link_wait: Duration = Field(
        timedelta(minutes=2), description="How long a notification waits for its ticket link before going without."
    )

    @model_validator(mode="after")
    def _unique(self) -> NotifySettings:
        names = [w.name for w in self.webhooks] + [e.name for e in self.email]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"notification channel names must be unique; repeated: {dup}")
        return self


class TicketsSettings(StrictModel):
    enabled: bool = True
    system: TicketSystemName = Field("builtin", description="Where tickets go; builtin keeps them in the store.")
    policy: TicketPolicySettings = TicketPolicySettings()
    retry: RetrySettings = RetrySettings()
    timeout: Duration = Field(
        timedelta(seconds=5), description="Per HTTP call; a flush that finds the system down waits at most this long."
    )
    flush_budget: Duration = Field(timedelta(seconds=5), description="Most time one tick's flush may spend.")
    keep_done: Duration = Field(
        timedelta(days=30), description="Finished calls are kept this long (re-delivered events are recognised)."
    )
    rt: RTSettings | None = None
    jira: JiraSettings | None = None
    servicenow: ServiceNowSettings | None = None
    github: GitHubSettings | None = None
    pagerduty: PagerDutySettings | None = None
    notify: NotifySettings = NotifySettings()

    @model_validator(mode="after")
    def _section_of_system(self) -> TicketsSettings:
        if self.system != "builtin" and getattr(self, self.system) is None:
            raise ValueError(f"system is {self.system!r} but the section tickets.{self.system} is missing")
        return self
