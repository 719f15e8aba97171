"""E-mail over SMTP (plain, STARTTLS or implicit TLS), with the ticket link in the text."""

from __future__ import annotations

import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage

from daemon.notify.base import Notification
from daemon.tickets.errors import TicketRejected, TicketSystemUnavailable


def email_message(notification: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = notification.headline
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["X-Aiopsd-Problem"] = notification.fingerprint
    when = datetime.fromtimestamp(notification.ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [notification.headline, "", f"{when} {notification.message}", "", f"Problem: {notification.problem_id}"]
    if notification.ticket_url:
        lines.append(f"Ticket: {notification.ticket_url}")
    message.set_content("\n".join(lines) + "\n")
    return message


class SmtpEmail:
    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.name = name
        self._host, self._port = host, port
        self._sender, self._recipients = sender, recipients
        self._username, self._password = username, password
        self._starttls, self._ssl = starttls, use_ssl
        self._timeout = timeout

    def send(self, notification: Notification) -> None:
        message = email_message(notification, self._sender, self._recipients)
        try:
            smtp: smtplib.SMTP
            if self._ssl:
                smtp = smtplib.SMTP_SSL(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            with smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            error = f"e-mail {self.name}: {self._host}:{self._port} answered {exc.smtp_code}"
            if 400 <= exc.smtp_code < 500:
                raise TicketSystemUnavailable(error) from exc
            raise TicketRejected(error) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise TicketRejected(f"e-mail {self.name}: recipients refused: {sorted(exc.recipients)}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TicketSystemUnavailable(
                f"e-mail {self.name}: {self._host}:{self._port}: {type(exc).__name__}"
            ) from exc
