"""The built-in runbooks. ``builtin_registry()`` returns a fresh registry holding all of them."""

from __future__ import annotations

from remediations.runbook import RunbookRegistry
from remediations.runbooks.pods_nodes import CordonDrain, DeletePod, RunJob, Uncordon
from remediations.runbooks.workloads import RaiseLimits, RollbackDeployment, RolloutRestart, Scale

BUILTIN = (RolloutRestart, Scale, RollbackDeployment, RaiseLimits, DeletePod, CordonDrain, Uncordon, RunJob)


def builtin_registry() -> RunbookRegistry:
    registry = RunbookRegistry()
    for runbook in BUILTIN:
        registry.register(runbook())
    return registry


__all__ = [
    "BUILTIN",
    "CordonDrain",
    "DeletePod",
    "RaiseLimits",
    "RollbackDeployment",
    "RolloutRestart",
    "RunJob",
    "Scale",
    "Uncordon",
    "builtin_registry",
]
