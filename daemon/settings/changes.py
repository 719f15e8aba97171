"""Settings of the change advisor: the change calendar, the model's training settings, look-back windows."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from change_advisor.context import ChangeCalendar
from change_advisor.model_settings import ModelSettings
from daemon.durations import Duration
from daemon.settings.base import StrictModel


class ChangeAdvisorSettings(StrictModel):
    calendar: ChangeCalendar = Field(default_factory=ChangeCalendar, description="Freezes, peak and working hours.")
    model: ModelSettings = Field(default_factory=ModelSettings, description="Training of the risk model.")
    health_window: Duration = Field(timedelta(hours=1), description="Anomalies this recent count as live health.")
    incident_window: Duration = Field(timedelta(days=30), description="Incidents this recent count as recent.")
    api_local_paths: bool = Field(
        False,
        description="Let POST /api/v1/changes/score read git repositories and manifest files on the daemon's host.",
    )
    link_window: Duration = Field(
        timedelta(hours=6), description="A problem starting this soon after a change on its targets is linked to it."
    )
