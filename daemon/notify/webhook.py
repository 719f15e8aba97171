"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat, Teams' Slack connector): ``{"text": …}``."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from daemon.notify.base import Notification
from daemon.tickets.http import call

_EMOJI = {"opened": ":rotating_light:", "mitigating": ":wrench:", "resolved": ":white_check_mark:"}


def slack_text(notification: Notification) -> str:
    when = datetime.fromtimestamp(notification.ts, UTC).strftime("%H:%M:%SZ")
    lines = [f"{_EMOJI.get(notification.kind, ':information_source:')} *{notification.headline}*"]
    lines.append(f"{when} {notification.message}")
    if notification.ticket_url.startswith(("http://", "https://")):
        lines.append(f"Ticket: <{notification.ticket_url}|{notification.ticket_id or 'open'}>")
    elif notification.ticket_id:
        lines.append(f"Ticket: {notification.ticket_id} (`aiopsd tickets show {notification.fingerprint}`)")
    return "\n".join(lines)


class SlackWebhook:
    """The URL is a secret (it carries the token): it is never logged, and errors name the channel instead."""

    def __init__(self, name: str, client: httpx.Client, url: str) -> None:
        self.name = name
        self._client = client
        self._url = url

    def send(self, notification: Notification) -> None:
        body = {"text": slack_text(notification)}
        call(self._client, f"webhook {self.name}", "POST", self._url, secret_url=True, json=body)
