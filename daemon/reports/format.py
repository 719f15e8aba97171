"""Formatting of KPI values for people: rates as percentages, durations as 1h 5m, money with its currency."""

from __future__ import annotations

from datetime import UTC, datetime

NONE = "–"


def pct(value: float | None) -> str:
    return NONE if value is None else f"{value:.1%}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def money(value: float | None, currency: str) -> str:
    return NONE if value is None else f"{value:,.2f} {currency}"


def when(ts: float | None) -> str:
    return NONE if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def delta(current: float | None, previous: float | None, kind: str, currency: str = "") -> str:
    """The change from the previous week, signed, in the value's own unit."""
    if current is None or previous is None:
        return NONE
    diff = current - previous
    if kind == "rate":
        return f"{diff * 100:+.1f} pp"
    if kind == "seconds":
        return ("+" if diff >= 0 else "−") + duration(abs(diff))
    return f"{diff:+,.2f} {currency}".rstrip()
