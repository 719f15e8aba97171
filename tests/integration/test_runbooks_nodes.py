"""Cordon/drain and uncordon on a dedicated kwok node, with and without a PodDisruptionBudget in the way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kubernetes import client

from remediations.executor import Timing
from remediations.model import ActionStatus, Target
from tests.harness.cluster import ControlPlane
from tests.remediations.kubefixtures import create_ready_deployment, deployment, make_executor, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture
def node(api: client.ApiClient) -> Iterator[str]:
    """A fresh kwok node of its own, so draining it touches no other test's pods."""
    core = client.CoreV1Api(api)
    name = f"drain-{uuid.uuid4().hex[:8]}"
    core.create_node(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, "type": "kwok"},
                "annotations": {"kwok.x-k8s.io/node": "fake"},
            },
        }
    )
    wait_for(
        lambda: any(
            c.type == "Ready" and c.status == "True" and not (core.read_node(name).spec.taints or [])
            for c in (core.read_node(name).status.conditions or [])
        ),
        what=f"node {name} Ready",
    )
    yield name
    core.delete_node(name)


def _pods_on(api: client.ApiClient, node: str) -> list[str]:
    pods = client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    return sorted(p.metadata.name for p in pods if p.metadata.deletion_timestamp is None)


def test_drain_evicts_pods_and_uncordon_makes_the_node_schedulable(
    api: client.ApiClient, namespace: str, node: str
) -> None:
    core = client.CoreV1Api(api)
    body = deployment("batch", replicas=2, node=node)
    body["spec"]["template"]["spec"]["nodeSelector"] = {"type": "kwok"}
    prefer = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    soft = [{"weight": 100, "preference": {"matchExpressions": [prefer]}}]
    body["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": soft}
    }
    create_ready_deployment(api, namespace, body)
    wait_for(lambda: len(_pods_on(api, node)) >= 1, what="pods on the node")
    executor = make_executor(api)

    result = executor.run("cordon-drain", Target.parse(f"node//{node}"), {}, "disk pressure", "user:t", dry_run=False)

    assert result.status is ActionStatus.verified, result.record
    assert core.read_node(node).spec.unschedulable is True
    assert _pods_on(api, node) == []
    wait_for(
        lambda: (client.AppsV1Api(api).read_namespaced_deployment("batch", namespace).status.ready_replicas or 0) == 2,
        what="evicted pods rescheduled elsewhere",
    )

    back = executor.run("uncordon", Target.parse(f"node//{node}"), {}, "disk cleaned", "user:t", dry_run=False)

    assert back.status is ActionStatus.verified
    assert not core.read_node(node).spec.unschedulable


def test_drain_stops_at_a_pod_disruption_budget_and_is_undone(api: client.ApiClient, namespace: str, node: str) -> None:
    core = client.CoreV1Api(api)
    create_ready_deployment(api, namespace, deployment("guarded", replicas=1, node=node))
    client.PolicyV1Api(api).create_namespaced_pod_disruption_budget(
        namespace,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "guarded"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
        },
    )
    policy_api = client.PolicyV1Api(api)
    wait_for(
        lambda: (
            (policy_api.read_namespaced_pod_disruption_budget("guarded", namespace).status.current_healthy or 0) == 1
        ),
        what="PDB status observed",
    )
    before = _pods_on(api, node)
    executor = make_executor(api, timing=Timing(settle_timeout=10, verify_timeout=5, poll_interval=0.2, max_attempts=2))

    result = executor.run("cordon-drain", Target.parse(f"node//{node}"), {}, "kernel update", "user:t", dry_run=False)

    assert result.status is ActionStatus.failed
    assert "eviction refused" in (result.record.error or "")
    assert "undone" in (result.record.error or "")
    assert _pods_on(api, node) == before
    assert not core.read_node(node).spec.unschedulable
