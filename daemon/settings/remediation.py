"""Settings of remediation: the guard policy file, cluster access, timing of verification, and leader election."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator

from daemon.durations import Duration
from daemon.settings.automation import AutomationSettings
from daemon.settings.base import StrictModel


class LeaderElectionSettings(StrictModel):
    enabled: bool = Field(False, description="Run several replicas; only the Lease holder acts and writes tickets.")
    namespace: str = Field("aiopsd-system", description="Namespace of the coordination.k8s.io Lease.")
    lease_name: str = Field("aiopsd-leader", description="Name of the Lease all replicas compete for.")
    lease_duration: Duration = Field(timedelta(seconds=15), description="A silent leader loses the lease after this.")
    renew_deadline: Duration = Field(
        timedelta(seconds=10), description="A leader that cannot renew by then steps down."
    )
    retry_period: Duration = Field(timedelta(seconds=2), description="Time between tries to acquire or renew.")

    @model_validator(mode="after")
    def _order(self) -> LeaderElectionSettings:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("expected retry_period < renew_deadline < lease_duration")
        return self


class RemediationSettings(StrictModel):
    policy_file: Path | None = Field(
        None, description="Guard policy YAML (examples/policy.yaml); without one every action is a dry run."
    )
    kubeconfig: Path | None = Field(
        None, description="Kubeconfig to act with; default in-cluster, then ~/.kube/config."
    )
    context: str | None = Field(None, description="Kubeconfig context; default its current-context.")
    settle_timeout: Duration = Field(timedelta(minutes=5), description="How long a rollout may take to finish.")
    verify_timeout: Duration = Field(timedelta(minutes=5), description="How long metrics may take to recover after.")
    poll_interval: Duration = Field(timedelta(seconds=5), description="Time between rollout / verification checks.")
    max_attempts: int = Field(3, ge=1, le=10, description="Tries of an API call failing with a temporary error.")
    leader_election: LeaderElectionSettings = LeaderElectionSettings()
    automation: AutomationSettings = AutomationSettings()
