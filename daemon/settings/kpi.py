"""Settings of the KPIs: the cost model of a resolution and the windows KPIs are computed over."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from daemon.durations import Duration
from daemon.settings.base import StrictModel


class KpiSettings(StrictModel):
    human_minutes_escalated: float = Field(
        30.0, ge=0, description="Minutes of people's time a problem costs when it is escalated or acknowledged."
    )
    human_minutes_manual: float = Field(
        90.0, ge=0, description="Minutes of people's time a problem costs when a person resolves it (a typical P3)."
    )
    cost_per_human_hour: float = Field(75.0, ge=0, description="Loaded cost of one hour of an engineer's time.")
    automation_cost_per_action: float = Field(
        0.10, ge=0, description="Cost of one automated action (compute, API calls, its share of the platform)."
    )
    currency: str = Field("USD", min_length=1, max_length=8, description="Shown next to costs; no conversion.")
    window: Duration = Field(timedelta(days=7), description="The window /metrics gauges are computed over.")
    weeks: int = Field(8, ge=1, le=104, description="Weeks shown in the week-over-week trend of the report.")
    freshness_window: Duration = Field(
        timedelta(days=30), description="An article is fresh if a fix was verified within this long."
    )
    cache_ttl: Duration = Field(
        timedelta(seconds=60), description="/metrics recomputes the KPIs at most this often (they read the store)."
    )
