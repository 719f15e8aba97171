"""HTTP calls of the adapters: transport failures and server errors become retryable, refusals permanent."""

from __future__ import annotations

from typing import Any

import httpx

from daemon.tickets.errors import TicketNotFound, TicketRejected, TicketSystemUnavailable


def call(
    client: httpx.Client, system: str, method: str, url: str, secret_url: bool = False, **kwargs: Any
) -> httpx.Response:
    """One request; raises TicketSystemUnavailable (network, timeout, 5xx, 429), TicketNotFound (404) or
    TicketRejected (other 4xx). Error texts carry the method, URL and status, never credentials; with
    ``secret_url`` (a webhook whose URL is its token) not even the URL."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        url = "<secret URL>" if secret_url else url
        raise TicketSystemUnavailable(f"{system}: {method} {url} failed: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    url = "<secret URL>" if secret_url else url
    if status >= 500 or status in (408, 429):
        raise TicketSystemUnavailable(f"{system}: {method} {url} answered {status}: {response.text[:300]}")
    if status == 404:
        raise TicketNotFound(f"{system}: {method} {url} answered 404: {response.text[:300]}")
    if status >= 400:
        raise TicketRejected(f"{system}: {method} {url} answered {status}: {response.text[:300]}")
    return response


def json_of(response: httpx.Response, system: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TicketSystemUnavailable(f"{system}: expected JSON from {response.request.url.path}") from exc
