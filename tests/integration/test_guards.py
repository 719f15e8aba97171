"""Guards that read the cluster: the kill switch flipped without a restart, the allowlist by namespace and selector,
blast radius on live replica counts, one action per target."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from remediations.journal import InMemoryJournal
from remediations.model import ActionStatus, Target, Verdict
from tests.harness.cluster import ControlPlane
from tests.remediations.kubefixtures import create_ready_deployment, deployment, make_executor, open_policy

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


def _decision(result, guard: str):  # type: ignore[no-untyped-def]
    return next(d for d in result.record.decisions if d.guard == guard)


def test_kill_switch_flipped_in_the_cluster_stops_the_next_decision(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("ks", replicas=1))
    policy = open_policy(kill_switch={"namespace": namespace, "name": "aiopsd-kill-switch", "key": "automation"})
    executor = make_executor(api, policy)
    target = Target.parse(f"deployment/{namespace}/ks")
    core = client.CoreV1Api(api)

    assert executor.run("scale", target, {"replicas": 2}, "t", "daemon:a", dry_run=False).status is (
        ActionStatus.verified
    )
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "aiopsd-kill-switch"}, "data": {"automation": "paused"}}
    )

    stopped = executor.run("scale", target, {"replicas": 3}, "t", "daemon:a", dry_run=False)

    assert stopped.status is ActionStatus.refused
    assert _decision(stopped, "kill_switch").verdict is Verdict.deny
    assert "paused" in _decision(stopped, "kill_switch").reason
    assert client.AppsV1Api(api).read_namespaced_deployment("ks", namespace).spec.replicas == 2

    core.patch_namespaced_config_map("aiopsd-kill-switch", namespace, {"data": {"automation": "on"}})
    again = executor.run("scale", target, {"replicas": 3}, "t", "daemon:a", dry_run=False)
    assert again.status is ActionStatus.verified

    client.AppsV1Api(api).patch_namespaced_deployment(
        "ks", namespace, {"metadata": {"annotations": {"aiopsd.io/automation": "paused"}}}
    )
    one = executor.run("scale", target, {"replicas": 2}, "t", "daemon:a", dry_run=False)
    assert one.status is ActionStatus.refused
    assert "by its annotation aiopsd.io/automation='paused'" in _decision(one, "kill_switch").reason


def test_outside_the_allowlist_is_a_dry_run(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("shop", replicas=1, labels={"tier": "web"}))
    create_ready_deployment(api, namespace, deployment("db", replicas=1, labels={"tier": "data"}))
    policy = open_policy(allow=[{"namespaces": [namespace], "selector": {"tier": "web"}, "runbooks": ["scale"]}])
    executor = make_executor(api, policy)
    apps = client.AppsV1Api(api)

    outside = executor.run(
        "scale", Target.parse(f"deployment/{namespace}/db"), {"replicas": 2}, "t", "daemon:a", dry_run=False
    )
    inside = executor.run(
        "scale", Target.parse(f"deployment/{namespace}/shop"), {"replicas": 2}, "t", "daemon:a", dry_run=False
    )

    assert outside.status is ActionStatus.dry_run
    assert _decision(outside, "allowlist").verdict is Verdict.dry_run
    assert apps.read_namespaced_deployment("db", namespace).spec.replicas == 1
    assert inside.status is ActionStatus.verified
    assert apps.read_namespaced_deployment("shop", namespace).spec.replicas == 2


def test_blast_radius_uses_live_replicas(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("big", replicas=4))
    policy = open_policy(blast_radius={"max_replica_share": 0.5, "min_healthy_replicas": 3})
    executor = make_executor(api, policy)

    result = executor.run(
        "scale", Target.parse(f"deployment/{namespace}/big"), {"replicas": 1}, "t", "daemon:a", dry_run=False
    )

    assert result.status is ActionStatus.refused
    assert "3/4 replicas (75%) exceeds 50%" in _decision(result, "blast_radius").reason
    assert client.AppsV1Api(api).read_namespaced_deployment("big", namespace).spec.replicas == 4


def test_cooldown_and_rate_limit_per_target(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("hot", replicas=1))
    journal = InMemoryJournal()
    executor = make_executor(api, open_policy(cooldowns={"per_target": "10m"}), journal=journal)
    target = Target.parse(f"deployment/{namespace}/hot")

    assert executor.run("scale", target, {"replicas": 2}, "t", "daemon:a", dry_run=False).status is (
        ActionStatus.verified
    )
    second = executor.run("scale", target, {"replicas": 3}, "t", "daemon:a", dry_run=False)

    assert second.status is ActionStatus.refused
    assert _decision(second, "cooldown").verdict is Verdict.deny
    assert client.AppsV1Api(api).read_namespaced_deployment("hot", namespace).spec.replicas == 2
