"""What the change advisor needs from the running system, as Protocols, plus the change calendar.

The daemon implements `ChangeContext` over its store (``daemon/changes``); `OfflineContext` is what the CLI uses
without a store: the calendar only, no live health, no history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from change_advisor.request import ChangeRequest, ChangeWindow, Target

Outcome = Literal["success", "failed", "rolled-back"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetHealth(_Frozen):
    """The live state of the targets now: anomaly level in [0, 1], open problems, incidents of the last weeks."""

    anomaly_level: float = Field(0.0, ge=0, le=1)
    anomalies: int = 0
    open_problems: list[str] = Field(default_factory=list)
    recent_incidents: list[str] = Field(default_factory=list)
    known: bool = Field(True, description="False when no live source was consulted (offline scoring)")


class PastChange(_Frozen):
    id: str
    title: str
    type: str
    result: Outcome
    at: datetime | None = None
    probability: float | None = None


class CalendarVerdict(_Frozen):
    freeze: str | None = None
    peak_hours: bool = False
    weekend: bool = False
    off_hours: bool = False


class Freeze(_Frozen):
    name: str
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if self.end <= self.start:
            raise ValueError(f"freeze {self.name!r}: end must be after start")
        return self


class PeakHours(_Frozen):
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday")
    start_hour: int = Field(9, ge=0, le=23)
    end_hour: int = Field(18, ge=1, le=24)


class ChangeCalendar(_Frozen):
    """Freezes, peak hours and working hours, in a fixed offset from UTC."""

    utc_offset_hours: float = Field(0.0, ge=-14, le=14)
    freezes: list[Freeze] = Field(default_factory=list)
    peak_hours: list[PeakHours] = Field(default_factory=lambda: [PeakHours()])
    working_hours: tuple[int, int] = (7, 20)

    def verdict(self, window: ChangeWindow) -> CalendarVerdict:
        """What the window overlaps: a freeze, peak hours, a weekend, time outside working hours (hour by hour,
        in local time, over at most the first week of the window)."""
        zone = timezone(timedelta(hours=self.utc_offset_hours))
        start = window.start.astimezone(zone)
        end = min(window.end.astimezone(zone), start + timedelta(days=7))
        hours = []
        at = start
        while at < end:
            hours.append(at)
            at = (at + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        freeze = next((f.name for f in self.freezes if f.start < window.end and window.start < f.end), None)
        first, last = self.working_hours
        return CalendarVerdict(
            freeze=freeze,
            peak_hours=any(
                h.weekday() in p.days and p.start_hour <= h.hour < p.end_hour for h in hours for p in self.peak_hours
            ),
            weekend=any(h.weekday() >= 5 for h in hours),
            off_hours=any(not first <= h.hour < last for h in hours),
        )


class ChangeContext(Protocol):
    """What the running system tells the advisor about a change."""

    def target_health(self, targets: Sequence[Target], at: datetime) -> TargetHealth: ...

    def similar_changes(self, request: ChangeRequest, limit: int) -> list[PastChange]: ...

    def calendar(self, window: ChangeWindow) -> CalendarVerdict: ...


class OfflineContext:
    """No daemon, no store: the calendar is known, live health and history are not."""

    def __init__(self, calendar: ChangeCalendar | None = None) -> None:
        self._calendar = calendar or ChangeCalendar()

    def target_health(self, targets: Sequence[Target], at: datetime) -> TargetHealth:
        return TargetHealth(known=False)

    def similar_changes(self, request: ChangeRequest, limit: int) -> list[PastChange]:
        return []

    def calendar(self, window: ChangeWindow) -> CalendarVerdict:
        return self._calendar.verdict(window)
