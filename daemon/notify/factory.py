"""Building the configured notification channels and the notifier; secrets are read here, never logged."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from daemon.notify.base import NotificationChannel
from daemon.notify.email import SmtpEmail
from daemon.notify.notifier import ProblemNotifier
from daemon.notify.webhook import SlackWebhook
from daemon.settings.loader import read_secret
from daemon.settings.tickets import TicketsSettings
from daemon.store import Store
from daemon.tickets.outbox import Backoff


def build_channels(tickets: TicketsSettings, transport: httpx.BaseTransport | None = None) -> list[NotificationChannel]:
    notify = tickets.notify
    timeout = tickets.timeout.total_seconds()
    channels: list[NotificationChannel] = []
    for index, hook in enumerate(notify.webhooks):
        url = read_secret(hook.url, hook.url_file, f"tickets.notify.webhooks[{index}].url_file") or ""
        client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        channels.append(SlackWebhook(hook.name, client, url))
    for index, mail in enumerate(notify.email):
        password = read_secret(mail.password, mail.password_file, f"tickets.notify.email[{index}].password_file")
        channels.append(
            SmtpEmail(
                mail.name,
                mail.host,
                mail.port,
                mail.sender,
                list(mail.recipients),
                mail.username,
                password,
                mail.starttls,
                mail.ssl,
                timeout,
            )
        )
    return channels


def build_notifier(
    tickets: TicketsSettings,
    store: Store,
    clock: Callable[[], float] = time.time,
    transport: httpx.BaseTransport | None = None,
) -> ProblemNotifier:
    backoff = Backoff(tickets.retry.initial_backoff.total_seconds(), tickets.retry.max_backoff.total_seconds())
    return ProblemNotifier(
        store, build_channels(tickets, transport), tickets.notify, clock, backoff, tickets.retry.max_rejections
    )
