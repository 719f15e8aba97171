"""Targets, quantities, GitOps detection, rollout status and params validation."""

from __future__ import annotations

import pytest

from remediations.errors import InvalidParams, InvalidTarget
from remediations.model import Target
from remediations.runbook import gitops_owner
from remediations.runbooks import builtin_registry
from remediations.runbooks.rollout import max_unavailable, parse_quantity, rollout_complete


def test_target_parse_and_errors() -> None:
    assert Target.parse("Deployment/shop/cart").key == "deployment/shop/cart"
    assert Target.parse("node//worker-1").namespace == ""
    with pytest.raises(InvalidTarget, match="expected KIND/NAMESPACE/NAME"):
        Target.parse("deployment/cart")
    with pytest.raises(InvalidTarget, match="unknown kind 'service'"):
        Target.parse("service/shop/cart")
    with pytest.raises(InvalidTarget, match="has no namespace"):
        Target.parse("node/default/w1")
    with pytest.raises(InvalidTarget, match="needs a namespace"):
        Target.parse("pod//p")


def test_quantities() -> None:
    assert parse_quantity("512Mi") == 512 * 2**20
    assert parse_quantity("250m") == pytest.approx(0.25)
    assert parse_quantity("2") == 2
    with pytest.raises(ValueError, match="expected a Kubernetes quantity"):
        parse_quantity("lots")


@pytest.mark.parametrize(
    ("labels", "annotations", "owner"),
    [
        ({}, {"argocd.argoproj.io/tracking-id": "app:apps/Deployment:shop/cart"}, "Argo CD"),
        ({"app.kubernetes.io/instance": "cart"}, {"argocd.argoproj.io/sync-wave": "1"}, "Argo CD"),
        ({"app.kubernetes.io/instance": "cart"}, {}, None),  # Helm sets this label too: not Argo by itself
        ({"kustomize.toolkit.fluxcd.io/name": "apps"}, {}, "Flux"),
        ({"helm.toolkit.fluxcd.io/name": "cart"}, {}, "Flux"),
        ({"app": "cart"}, {}, None),
    ],
)
def test_gitops_detection(labels: dict[str, str], annotations: dict[str, str], owner: str | None) -> None:
    found = gitops_owner({"metadata": {"labels": labels, "annotations": annotations}})
    assert (found or "").startswith(owner or "") and (found is None) == (owner is None)


def test_rollout_helpers() -> None:
    obj = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 8},
        "status": {"observedGeneration": 2, "replicas": 8, "updatedReplicas": 8, "availableReplicas": 8},
    }
    assert rollout_complete(obj, "deployment")
    assert max_unavailable(obj, "deployment") == 2  # default 25% of 8
    obj["status"]["observedGeneration"] = 1
    assert not rollout_complete(obj, "deployment")


def test_params_errors_say_which_field() -> None:
    registry = builtin_registry()
    with pytest.raises(InvalidParams, match="replicas: Field required"):
        registry.get("scale").parse_params({})
    with pytest.raises(InvalidParams, match="unexpected: Extra inputs are not permitted"):
        registry.get("scale").parse_params({"replicas": 2, "unexpected": 1})
    with pytest.raises(InvalidParams, match="memory: expected a Kubernetes quantity"):
        registry.get("raise-limits").parse_params({"memory": "big"})
    assert len(registry.names()) == 8


def test_suggested_command_is_a_runnable_cli_line() -> None:
    from remediations.runbook import suggested_command

    line = suggested_command("scale", "deployment/shop/cart", {"replicas": 4, "max_replicas": 10})
    assert line == (
        "aiopsd runbook run scale --target deployment/shop/cart --param max_replicas=10 --param replicas=4 --execute"
    )
    assert "'--param' 'force=true'" not in suggested_command("delete-pod", "pod/a/b c", {"force": True})
    assert suggested_command("delete-pod", "pod/a/b c", {"force": True}).endswith("--param force=true --execute")


def test_leader_election_settings_are_checked_and_used() -> None:
    from daemon.errors import ConfigError
    from daemon.leader import elector_from_settings
    from daemon.settings import load_settings

    settings = load_settings(None, {"AIOPSD_REMEDIATION__LEADER_ELECTION__LEASE_DURATION": "30s"})
    assert settings.remediation.leader_election.lease_duration.total_seconds() == 30
    with pytest.raises(ConfigError, match="retry_period < renew_deadline < lease_duration"):
        load_settings(None, {"AIOPSD_REMEDIATION__LEADER_ELECTION__RENEW_DEADLINE": "1m"})
    from kubernetes import client

    elector = elector_from_settings(settings.remediation.leader_election, client.ApiClient(), "pod-0")
    assert (elector.namespace, elector.name, elector.timing.lease_duration) == ("aiopsd-system", "aiopsd-leader", 30)
    assert not elector.is_leader
