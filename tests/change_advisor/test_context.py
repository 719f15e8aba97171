from __future__ import annotations

from datetime import UTC, datetime

from change_advisor.context import ChangeCalendar, Freeze, PeakHours
from change_advisor.request import ChangeWindow


def _window(start: str, end: str) -> ChangeWindow:
    return ChangeWindow(start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


def test_window_running_into_peak_hours_and_the_weekend() -> None:
    calendar = ChangeCalendar(peak_hours=[PeakHours(days=[0, 1, 2, 3, 4], start_hour=9, end_hour=18)])
    early = calendar.verdict(_window("2026-03-03T07:30:00+00:00", "2026-03-03T08:45:00+00:00"))  # a Tuesday
    assert not early.peak_hours and not early.off_hours and not early.weekend
    overlap = calendar.verdict(_window("2026-03-03T08:30:00+00:00", "2026-03-03T09:15:00+00:00"))
    assert overlap.peak_hours
    friday_night = calendar.verdict(_window("2026-03-06T22:00:00+00:00", "2026-03-07T01:00:00+00:00"))
    assert friday_night.weekend and friday_night.off_hours and not friday_night.peak_hours


def test_local_time_and_freezes() -> None:
    calendar = ChangeCalendar(
        utc_offset_hours=9,
        freezes=[
            Freeze(name="year end", start=datetime(2026, 12, 20, tzinfo=UTC), end=datetime(2027, 1, 5, tzinfo=UTC))
        ],
    )
    # 01:00 UTC is 10:00 in UTC+9: peak hours on a Wednesday
    verdict = calendar.verdict(_window("2026-03-04T01:00:00+00:00", "2026-03-04T01:30:00+00:00"))
    assert verdict.peak_hours and verdict.freeze is None
    frozen = calendar.verdict(_window("2026-12-19T23:00:00+00:00", "2026-12-20T01:00:00+00:00"))
    assert frozen.freeze == "year end"
