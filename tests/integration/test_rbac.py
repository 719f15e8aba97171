"""deploy/rbac applied to the real apiserver: every runbook succeeds with the ServiceAccount's token, the topology
watch lists and watches what it reads, and anything outside that least privilege is forbidden (403)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from daemon.leader import LeaderElectionError, LeaseElector
from daemon.topology import Topology
from daemon.topology_kube import KubeTopologyWatcher
from remediations.model import ActionStatus, Target
from tests.harness.cluster import ControlPlane
from tests.harness.common import wait_until
from tests.remediations.kubefixtures import (
    create_ready_deployment,
    deployment,
    make_executor,
    open_policy,
    ready_pods,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
RBAC_DIR = Path(__file__).resolve().parents[2] / "deploy" / "rbac"
SYSTEM_NS = "aiopsd-system"


def _apply(api: client.ApiClient, doc: dict[str, Any]) -> None:
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    ns = doc["metadata"].get("namespace")
    creators: dict[str, Callable[[], Any]] = {
        "ServiceAccount": lambda: core.create_namespaced_service_account(ns, doc),
        "ClusterRole": lambda: rbac.create_cluster_role(doc),
        "ClusterRoleBinding": lambda: rbac.create_cluster_role_binding(doc),
        "Role": lambda: rbac.create_namespaced_role(ns, doc),
        "RoleBinding": lambda: rbac.create_namespaced_role_binding(ns, doc),
    }
    try:
        creators[doc["kind"]]()
    except ApiException as exc:
        if exc.status != 409:
            raise


@pytest.fixture(scope="module")
def sa_token(control_plane: ControlPlane) -> str:
    with control_plane.api_client() as api:
        try:
            client.CoreV1Api(api).create_namespace({"metadata": {"name": SYSTEM_NS}})
        except ApiException as exc:
            if exc.status != 409:
                raise
        for path in sorted(RBAC_DIR.glob("*.yaml")):
            for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if doc:
                    _apply(api, doc)
        spec = client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        request = client.AuthenticationV1TokenRequest(spec=spec)
        token = client.CoreV1Api(api).create_namespaced_service_account_token("aiopsd", SYSTEM_NS, request)
        return str(token.status.token)


@pytest.fixture
def admin(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api:
        yield api


@pytest.fixture
def sa(control_plane: ControlPlane, sa_token: str) -> Iterator[client.ApiClient]:
    with control_plane.api_client(sa_token) as api:
        yield api


def test_every_runbook_succeeds_with_the_service_account(
    admin: client.ApiClient, sa: client.ApiClient, namespace: str
) -> None:
    create_ready_deployment(admin, namespace, deployment("web", replicas=2, limits={"memory": "128Mi"}))
    apps = client.AppsV1Api(admin)
    apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}})
    wait_for(lambda: len(ready_pods(admin, namespace, "app=web,v=2")) == 2, what="revision 2 ready")
    executor = make_executor(sa, open_policy(kill_switch={"namespace": SYSTEM_NS, "name": "aiopsd-kill-switch"}))
    web = Target.parse(f"deployment/{namespace}/web")

    for name, params in (
        ("rollout-restart", {}),
        ("scale", {"replicas": 3}),
        ("raise-limits", {"memory": "256Mi"}),
        ("rollback-deployment", {}),
    ):
        result = executor.run(name, web, params, "rbac test", "daemon:sa", dry_run=False)
        assert result.status is ActionStatus.verified, (name, result.record)

    pod = ready_pods(admin, namespace, "app=web")[0]
    result = executor.run(
        "delete-pod",
        Target.parse(f"pod/{namespace}/{pod.metadata.name}"),
        {"force": True},
        "rbac test",
        "daemon:sa",
        dry_run=False,
    )
    assert result.status is ActionStatus.verified, result.record

    client.BatchV1Api(admin).create_namespaced_cron_job(
        namespace,
        {
            "metadata": {"name": "cj"},
            "spec": {
                "schedule": "0 3 * * *",
                "suspend": True,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "registry.local/c:1"}],
                            }
                        }
                    }
                },
            },
        },
    )
    result = executor.run("run-job", Target.parse(f"cronjob/{namespace}/cj"), {}, "rbac", "daemon:sa", dry_run=False)
    assert result.status is ActionStatus.verified, result.record

    node = f"rbac-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(admin)
    core.create_node({"metadata": {"name": node, "annotations": {"kwok.x-k8s.io/node": "fake"}}})
    try:
        wait_for(lambda: not (core.read_node(node).spec.taints or []), what="node ready")
        for name in ("cordon-drain", "uncordon"):
            result = executor.run(name, Target.parse(f"node//{node}"), {}, "rbac", "daemon:sa", dry_run=False)
            assert result.status is ActionStatus.verified, (name, result.record)
    finally:
        core.delete_node(node)


def _status(call: Callable[[], Any]) -> int:
    try:
        call()
    except ApiException as exc:
        return int(exc.status)
    return 200


def test_anything_outside_the_role_is_forbidden(admin: client.ApiClient, sa: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(admin, namespace, deployment("keep", replicas=1))
    apps, core = client.AppsV1Api(sa), client.CoreV1Api(sa)
    forbidden = {
        "delete deployment": lambda: apps.delete_namespaced_deployment("keep", namespace),
        "create deployment": lambda: apps.create_namespaced_deployment(namespace, deployment("new")),
        "list secrets": lambda: core.list_namespaced_secret(namespace),
        "create namespace": lambda: core.create_namespace({"metadata": {"name": "nope"}}),
        "delete node": lambda: core.delete_node("kwok-node-0"),
        "patch service": lambda: core.patch_namespaced_service("svc", namespace, {"metadata": {"labels": {"a": "b"}}}),
        "other configmap": lambda: core.read_namespaced_config_map("other", SYSTEM_NS),
        "watch nodes": lambda: core.list_node(watch=True, timeout_seconds=1),
        "create clusterrolebinding": lambda: client.RbacAuthorizationV1Api(sa).create_cluster_role_binding(
            {
                "metadata": {"name": "x"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [],
            }
        ),
    }
    statuses = {what: _status(call) for what, call in forbidden.items()}
    assert statuses == dict.fromkeys(forbidden, 403)
    assert client.AppsV1Api(admin).read_namespaced_deployment("keep", namespace).spec.replicas == 1


def test_topology_watch_reads_every_namespace_and_writes_nothing(
    admin: client.ApiClient, sa: client.ApiClient, namespace: str
) -> None:
    """What `correlation.topology.kubernetes: true` does in the daemon: the watcher on the ServiceAccount's client,
    across all namespaces. It lists everything, then follows a new deployment's ReplicaSet and pods through the
    watch; the same identity still cannot write what the watch only reads."""
    client.CoreV1Api(admin).create_namespaced_service(
        namespace, {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    )
    topology = Topology()
    watcher = KubeTopologyWatcher(sa, topology, watch_timeout=5)
    watcher.start()
    try:

        def listed() -> bool:
            assert watcher.last_error is None, watcher.last_error
            return watcher.synced

        wait_until(listed, 30, "the first list of every resource")
        create_ready_deployment(admin, namespace, deployment("web", replicas=2))

        def pods_linked() -> bool:
            watcher.apply_pending()
            pods = topology.related(f"service/{namespace}/web", "selects")
            return len(pods) == 2 and all(topology.workload_of(p) == f"deployment/{namespace}/web" for p in pods)

        wait_until(pods_linked, 60, "two web pods selected by the service and owned by the deployment")
        assert watcher.last_error is None, watcher.last_error  # no watch of any resource was refused
    finally:
        watcher.stop()

    [replicaset] = client.AppsV1Api(admin).list_namespaced_replica_set(namespace, label_selector="app=web").items
    apps, core, batch = client.AppsV1Api(sa), client.CoreV1Api(sa), client.BatchV1Api(sa)
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "registry.local/c:1"}]}}
    forbidden = {
        "delete service": lambda: core.delete_namespaced_service("web", namespace),
        "create service": lambda: core.create_namespaced_service(namespace, {"metadata": {"name": "s"}}),
        "create pod": lambda: core.create_namespaced_pod(namespace, pod),
        "patch pod": lambda: core.patch_namespaced_pod("p", namespace, {"metadata": {"labels": {"a": "b"}}}),
        "delete replicaset": lambda: apps.delete_namespaced_replica_set(replicaset.metadata.name, namespace),
        "delete daemonset": lambda: apps.delete_namespaced_daemon_set("ds", namespace),
        "delete statefulset": lambda: apps.delete_namespaced_stateful_set("sts", namespace),
        "patch job": lambda: batch.patch_namespaced_job("j", namespace, {"metadata": {"labels": {"a": "b"}}}),
        "delete all pods": lambda: core.delete_collection_namespaced_pod(namespace),
    }
    statuses = {what: _status(call) for what, call in forbidden.items()}
    assert statuses == dict.fromkeys(forbidden, 403)
    assert client.CoreV1Api(admin).read_namespaced_service("web", namespace).metadata.name == "web"


def test_leader_election_only_on_its_own_lease(sa: client.ApiClient) -> None:
    elector = LeaseElector(sa, SYSTEM_NS, "aiopsd-leader", f"replica-{uuid.uuid4().hex[:6]}")
    other = LeaseElector(sa, SYSTEM_NS, "someone-elses-lease", "replica-x")
    assert elector.try_acquire_or_renew()
    elector.release()
    with pytest.raises(LeaderElectionError, match="403"):
        other.try_acquire_or_renew()
