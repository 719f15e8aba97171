"""Times on the command line: RFC 3339, unix seconds, ``now``, or relative to now (``-2h``, ``now-30m``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from daemon.durations import parse_duration


def parse_time(text: str, now: float | None = None) -> float:
    now = time.time() if now is None else now
    value = text.strip()
    if value == "now":
        return now
    relative = value.removeprefix("now")
    if relative[:1] in "-+" and relative[1:2].isdigit():
        try:
            delta = parse_duration(relative[1:]).total_seconds()
        except ValueError:
            pass
        else:
            return now - delta if relative[0] == "-" else now + delta
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected a time as RFC 3339 (2026-11-24T10:00:00Z), unix seconds, 'now' or '-2h'; got {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
