"""Notifications of problem opened / mitigating / resolved to a real HTTP webhook receiver and a real SMTP server
(aiosmtpd), both on 127.0.0.1: ticket links, rate limits, waiting for the link, and retries without losing anything."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from daemon.notify.email import SmtpEmail
from daemon.notify.factory import build_notifier
from daemon.notify.notifier import ProblemNotifier
from daemon.notify.webhook import SlackWebhook
from daemon.settings.tickets import NotifySettings, TicketsSettings
from daemon.store import Store
from daemon.tickets.builtin import BuiltinTicketSystem
from daemon.tickets.manager import TicketManager
from daemon.tickets.models import OutboxRow
from daemon.tickets.outbox import Backoff
from tests.daemon.tickets.helpers import T0, Clock, FlakySystem, event, make_store, story
from tests.harness.common import free_port
from tests.harness.smtp import SmtpSink

SECRET_PATH = "/services/T000/B000/s3cr3t-w3bh00k-t0k3n"


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{SECRET_PATH}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if rec.status == 200 and self.path == SECRET_PATH:
                rec.bodies.append(body)
            self.send_response(rec.status if self.path == SECRET_PATH else 404)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", rec.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return make_store(tmp_path)


def settings(receiver: Receiver, smtp: SmtpSink, **notify: Any) -> TicketsSettings:
    return TicketsSettings.model_validate(
        {
            "notify": {
                "webhooks": [{"name": "ops-chat", "url": receiver.url}],
                "email": [
                    {
                        "name": "ops-mail",
                        "host": smtp.host,
                        "port": smtp.port,
                        "sender": "aiopsd@example.com",
                        "recipients": ["oncall@example.com"],
                    }
                ],
                **notify,
            },
            "retry": {"initial_backoff": "10s"},
        }
    )


def test_opened_mitigating_resolved_reach_webhook_and_email_with_the_ticket_link(
    store: Store, receiver: Receiver, smtp_sink: SmtpSink
):
    clock = Clock()
    tickets = TicketManager(store, BuiltinTicketSystem(store, clock), clock=clock)
    notifier = build_notifier(settings(receiver, smtp_sink), store, clock)
    for ev in story():
        tickets.handle(ev)
        notifier.handle(ev)
        tickets.flush()
        notifier.flush()
    texts = [b["text"] for b in receiver.bodies]
    assert len(texts) == 3
    assert [t.split("*")[1].split(":")[0] for t in texts] == [
        "[CRITICAL] problem opened",
        "[CRITICAL] problem mitigating",
        "[CRITICAL] problem resolved",
    ]
    assert all("Ticket: 1 (`aiopsd tickets show fp-cart`)" in t for t in texts)
    assert [m["Subject"] for m in smtp_sink.messages] == [
        "[CRITICAL] problem opened: cart latency and errors",
        "[CRITICAL] problem mitigating: cart latency and errors",
        "[CRITICAL] problem resolved: cart latency and errors",
    ]
    assert "Ticket: aiopsd://tickets/1" in smtp_sink.messages[0].get_payload()
    assert smtp_sink.envelopes[0] == ("aiopsd@example.com", ["oncall@example.com"])


def test_channel_sends_at_most_max_per_window_and_the_rest_later_in_order(store: Store, receiver: Receiver):
    clock = Clock()
    hook = SlackWebhook("ops-chat", httpx.Client(timeout=5), receiver.url)
    notify = NotifySettings(max_per_window=2, window=timedelta(minutes=10))
    notifier = ProblemNotifier(store, [hook], notify, clock)
    for index in range(4):
        notifier.handle(event("opened", T0 + index, f"problem {index}", fingerprint=f"fp-{index}"))
    report = notifier.flush()
    assert (report.sent, report.pending) == (2, 2)
    clock.advance(300)
    assert notifier.flush().sent == 0
    clock.advance(301)
    assert notifier.flush().sent == 2
    assert [b["text"].split("\n")[1].split(" ", 1)[1] for b in receiver.bodies] == [f"problem {i}" for i in range(4)]


def test_a_flapping_problem_notifies_each_kind_once_per_min_interval(store: Store, receiver: Receiver):
    clock = Clock()
    hook = SlackWebhook("ops-chat", httpx.Client(timeout=5), receiver.url)
    notifier = ProblemNotifier(store, [hook], NotifySettings(min_interval_per_problem=timedelta(minutes=5)), clock)
    for minute in range(4):  # opened / resolved every minute
        notifier.handle(event("opened", T0 + 60 * minute, f"open {minute}"))
        notifier.handle(event("resolved", T0 + 60 * minute + 30, f"quiet {minute}"))
        notifier.flush()
        clock.advance(60)
    assert len(receiver.bodies) == 2
    clock.advance(120)
    notifier.handle(event("opened", clock.now, "back after a long while"))
    notifier.flush()
    assert len(receiver.bodies) == 3


def test_notification_waits_for_the_ticket_link_then_goes_without_it(store: Store, receiver: Receiver):
    clock = Clock()
    flaky = FlakySystem(BuiltinTicketSystem(store, clock))
    flaky.down = True
    tickets = TicketManager(store, flaky, clock=clock)
    hook = SlackWebhook("ops-chat", httpx.Client(timeout=5), receiver.url)
    notifier = ProblemNotifier(store, [hook], NotifySettings(link_wait=timedelta(seconds=60)), clock)
    ev = story()[0]
    tickets.handle(ev)
    notifier.handle(ev)
    tickets.flush()
    assert notifier.flush().deferred == 1 and receiver.bodies == []
    clock.advance(61)
    assert notifier.flush().sent == 1
    assert "Ticket" not in receiver.bodies[0]["text"]


def test_webhook_down_is_retried_with_backoff_and_its_secret_url_never_shows(store: Store, receiver: Receiver):
    clock = Clock()
    hook = SlackWebhook("ops-chat", httpx.Client(timeout=5), receiver.url)
    notifier = ProblemNotifier(store, [hook], NotifySettings(), clock, Backoff(10, 60))
    receiver.status = 503
    notifier.handle(story()[0])
    notifier.handle(story()[2])
    report = notifier.flush()
    assert report.sent == 0 and report.pending == 2
    with store.session() as session:
        errors = [row.last_error or "" for row in session.scalars(select(OutboxRow).where(OutboxRow.attempts > 0))]
    assert errors and all("503" in e and "s3cr3t" not in e and "<secret URL>" in e for e in errors)
    receiver.status = 200
    assert notifier.flush().sent == 0  # backing off
    clock.advance(10)
    assert notifier.flush().sent == 2
    assert ["opened" in b["text"] for b in receiver.bodies] == [True, False]


def test_smtp_server_refusing_for_now_is_retried(store: Store, smtp_sink: SmtpSink):
    clock = Clock()
    mail = SmtpEmail("ops-mail", smtp_sink.host, smtp_sink.port, "aiopsd@example.com", ["oncall@example.com"])
    notifier = ProblemNotifier(store, [mail], NotifySettings(), clock, Backoff(10, 60))
    smtp_sink.refuse_with = "451 4.3.0 try again later"
    notifier.handle(story()[0])
    assert notifier.flush().pending == 1
    smtp_sink.refuse_with = None
    clock.advance(10)
    assert notifier.flush().sent == 1
    assert smtp_sink.messages[0]["X-Aiopsd-Problem"] == "fp-cart"


def test_slack_text_links_an_external_ticket_and_names_a_built_in_one():
    from daemon.notify.base import Notification
    from daemon.notify.webhook import slack_text

    note = Notification(
        kind="opened",
        problem_id="p-1",
        fingerprint="fp-cart",
        title="cart latency",
        severity="warning",
        message="latency above baseline",
        ts=T0,
        ticket_url="https://rt.example.com/Ticket/Display.html?id=42",
        ticket_id="42",
    )
    text = slack_text(note)
    assert text.splitlines()[0] == ":rotating_light: *[WARNING] problem opened: cart latency*"
    assert text.splitlines()[-1] == "Ticket: <https://rt.example.com/Ticket/Display.html?id=42|42>"
    builtin = slack_text(note.model_copy(update={"ticket_url": "aiopsd://tickets/7", "ticket_id": "7"}))
    assert builtin.splitlines()[-1] == "Ticket: 7 (`aiopsd tickets show fp-cart`)"
