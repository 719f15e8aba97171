"""The watch-based topology against a real control plane (fixtures from tests/harness/cluster.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from daemon.topology import Topology
from daemon.topology_kube import KubeTopologyWatcher
from tests.harness.common import unavailable, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> tuple[Any, str]:
    try:
        return request.getfixturevalue("control_plane"), request.getfixturevalue("namespace")
    except pytest.FixtureLookupError:
        unavailable("Kubernetes control plane", "the tests/harness/cluster.py plugin is not registered")
        raise


def _deployment(name: str) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
            ),
        ),
    )


def test_watch_follows_pods_workloads_services_and_rollouts(cluster: tuple[Any, str]) -> None:
    control_plane, namespace = cluster
    api = control_plane.api_client()
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="cart"),
            spec=client.V1ServiceSpec(selector={"app": "cart"}, ports=[client.V1ServicePort(port=80)]),
        ),
    )
    topology = Topology()
    watcher = KubeTopologyWatcher(api, topology, namespaces=[namespace], watch_timeout=30)
    watcher.start()
    try:
        wait_until(lambda: watcher.synced, 20, "the initial list")
        apps.create_namespaced_deployment(namespace, _deployment("cart"))  # arrives through the watch

        def pods_linked() -> bool:
            watcher.apply_pending()
            pods = topology.related("service/" + namespace + "/cart", "selects")
            return len(pods) == 2 and all(topology.workload_of(p) == f"deployment/{namespace}/cart" for p in pods)

        wait_until(pods_linked, 60, "two cart pods selected by the service and owned by the deployment")
        assert any(c.what.startswith("new ReplicaSet cart-") for c in topology.changes)

        # a rollout: new pod template → a new ReplicaSet is a recent change of the deployment
        patch = {"spec": {"template": {"metadata": {"annotations": {"rollout": str(time.time())}}}}}
        apps.patch_namespaced_deployment("cart", namespace, patch)

        def rolled_out() -> bool:
            watcher.apply_pending()
            new_rs = [c for c in topology.changes if c.what.startswith("new ReplicaSet cart-")]
            return len(new_rs) == 2 and any(c.what.startswith("spec changed") for c in topology.changes)

        wait_until(rolled_out, 60, "the rollout's new ReplicaSet and the spec change")
        apps.delete_namespaced_deployment("cart", namespace)
        core.delete_namespaced_service("cart", namespace)

        def gone() -> bool:
            watcher.apply_pending()
            return f"deployment/{namespace}/cart" not in topology.entities and (
                f"service/{namespace}/cart" not in topology.entities
            )

        wait_until(gone, 60, "the deleted deployment and service")
    finally:
        watcher.stop()
        api.close()
