"""Prometheus-style durations (``15s``, ``5m``, ``1h30m``, ``7d``) for settings and the CLI."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(value: Any) -> timedelta:
    """Parse ``90``, ``90s``, ``1h30m`` or a timedelta; raise ValueError saying what is expected."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 15s, 5m, 1h or 7d, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or pos == 0:
                raise ValueError(f"expected a duration such as 15s, 5m, 1h30m or 7d, got {value!r}") from None
    else:
        raise ValueError(f"expected a duration such as 15s, 5m, 1h or 7d, got {value!r}")
    if seconds < 0:
        raise ValueError(f"expected a non-negative duration, got {value!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    total = value.total_seconds()
    if total and total == int(total):
        for unit in ("d", "h", "m"):
            size = _UNITS[unit]
            if total % size == 0:
                return f"{int(total // size)}{unit}"
        return f"{int(total)}s"
    return f"{total}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
