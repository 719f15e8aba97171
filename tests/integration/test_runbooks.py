"""Each runbook against the real control plane (apiserver + controller-manager + scheduler + kwok)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from remediations.model import ActionStatus, Target
from tests.harness.cluster import ControlPlane
from tests.remediations.kubefixtures import (
    create_ready_deployment,
    deployment,
    make_executor,
    ready_pods,
    replica_sets,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


def test_rollout_restart_makes_a_new_replicaset_whose_pods_become_ready(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("web", replicas=2))
    before = {rs.metadata.name for rs in replica_sets(api, namespace, "app=web")}

    result = make_executor(api).run(
        "rollout-restart", Target.parse(f"deployment/{namespace}/web"), {}, "test", "user:test", dry_run=False
    )

    assert result.status is ActionStatus.verified, result.record
    new = [rs for rs in replica_sets(api, namespace, "app=web") if rs.metadata.name not in before]
    assert len(new) == 1
    pods = ready_pods(api, namespace, "app=web")
    assert len(pods) == 2
    assert {p.metadata.owner_references[0].name for p in pods} == {new[0].metadata.name}


def test_scale_sets_replicas_and_refuses_out_of_bounds(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("api", replicas=1))
    executor = make_executor(api)
    target = Target.parse(f"deployment/{namespace}/api")

    result = executor.run("scale", target, {"replicas": 3}, "load", "user:test", dry_run=False)

    assert result.status is ActionStatus.verified
    assert len(ready_pods(api, namespace, "app=api")) == 3
    from remediations.errors import InvalidParams

    with pytest.raises(InvalidParams, match="replicas 30 is outside"):
        executor.run("scale", target, {"replicas": 30}, "load", "user:test", dry_run=False)


def test_rollback_restores_the_previous_template(api: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(api)
    create_ready_deployment(api, namespace, deployment("shop", image="registry.local/shop:1"))
    apps.patch_namespaced_deployment(
        "shop",
        namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.local/shop:2"}]}}}},
    )
    wait_for(
        lambda: (
            apps.read_namespaced_deployment("shop", namespace).metadata.annotations.get(
                "deployment.kubernetes.io/revision"
            )
            == "2"
        ),
        what="revision 2",
    )

    result = make_executor(api).run(
        "rollback-deployment",
        Target.parse(f"deployment/{namespace}/shop"),
        {},
        "bad release",
        "user:test",
        dry_run=False,
    )

    assert result.status is ActionStatus.verified, result.record
    current = apps.read_namespaced_deployment("shop", namespace)
    assert current.spec.template.spec.containers[0].image == "registry.local/shop:1"
    assert all(p.spec.containers[0].image == "registry.local/shop:1" for p in ready_pods(api, namespace, "app=shop"))


def test_delete_pod_removes_a_crash_looping_pod_and_refuses_a_healthy_one(
    api: client.ApiClient, namespace: str
) -> None:
    create_ready_deployment(api, namespace, deployment("worker", replicas=1))
    core = client.CoreV1Api(api)
    pod = ready_pods(api, namespace, "app=worker")[0]
    executor = make_executor(api)
    target = Target.parse(f"pod/{namespace}/{pod.metadata.name}")

    healthy = executor.run("delete-pod", target, {}, "test", "user:test", dry_run=False)
    assert healthy.status is ActionStatus.refused
    assert "neither crash-looping" in (healthy.record.error or "")

    core.patch_namespaced_pod_status(
        pod.metadata.name,
        namespace,
        {
            "status": {
                "containerStatuses": [
                    {
                        "name": "app",
                        "image": "registry.local/app:1",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 7,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ]
            }
        },
    )
    result = executor.run("delete-pod", target, {}, "crash loop", "user:test", dry_run=False)

    assert result.status is ActionStatus.verified, result.record
    wait_for(lambda: len(ready_pods(api, namespace, "app=worker")) == 1, what="replacement pod")
    assert ready_pods(api, namespace, "app=worker")[0].metadata.uid != pod.metadata.uid


def test_raise_limits_within_bounds(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("mem", replicas=1, limits={"memory": "128Mi", "cpu": "500m"}))
    executor = make_executor(api)
    target = Target.parse(f"deployment/{namespace}/mem")

    too_high = executor.run("raise-limits", target, {"memory": "16Gi"}, "oom", "user:test", dry_run=False)
    assert too_high.status is ActionStatus.refused
    assert "above the bound" in (too_high.record.error or "")

    result = executor.run("raise-limits", target, {"memory": "256Mi"}, "oom", "user:test", dry_run=False)

    assert result.status is ActionStatus.verified, result.record
    limits = client.AppsV1Api(api).read_namespaced_deployment("mem", namespace).spec.template.spec.containers[0]
    assert limits.resources.limits == {"memory": "256Mi", "cpu": "500m"}


def test_run_job_from_a_cronjob_template(api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_cron_job(
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "cleanup"},
            "spec": {
                "schedule": "0 3 * * *",
                "suspend": True,
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "c", "image": "registry.local/cleanup:1"}],
                            }
                        }
                    }
                },
            },
        },
    )

    result = make_executor(api).run(
        "run-job", Target.parse(f"cronjob/{namespace}/cleanup"), {}, "disk full", "user:test", dry_run=False
    )

    assert result.status is ActionStatus.verified, result.record
    jobs = batch.list_namespaced_job(namespace).items
    assert len(jobs) == 1
    assert jobs[0].status.succeeded == 1


def test_gitops_managed_objects_are_refused_and_left_alone(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(
        api, namespace, deployment("flux", replicas=1, labels={"kustomize.toolkit.fluxcd.io/name": "apps"})
    )
    apps = client.AppsV1Api(api)
    version = apps.read_namespaced_deployment("flux", namespace).metadata.resource_version

    result = make_executor(api).run(
        "scale", Target.parse(f"deployment/{namespace}/flux"), {"replicas": 2}, "t", "user:test", dry_run=False
    )

    assert result.status is ActionStatus.refused
    assert result.record.decisions[0].guard == "gitops"
    assert "Flux (label kustomize.toolkit.fluxcd.io/name=apps)" in (result.record.error or "")
    assert apps.read_namespaced_deployment("flux", namespace).metadata.resource_version == version


def test_dry_run_changes_nothing(api: client.ApiClient, namespace: str) -> None:
    create_ready_deployment(api, namespace, deployment("calm", replicas=2))
    apps = client.AppsV1Api(api)
    version = apps.read_namespaced_deployment("calm", namespace).metadata.resource_version
    executor = make_executor(api)

    for name, params in (("rollout-restart", {}), ("scale", {"replicas": 4}), ("raise-limits", {"memory": "1Gi"})):
        result = executor.run(name, Target.parse(f"deployment/{namespace}/calm"), params, "t", "user:test")
        assert result.status is ActionStatus.dry_run, result.record
        assert result.record.plan is not None and result.record.plan.changes

    assert apps.read_namespaced_deployment("calm", namespace).metadata.resource_version == version
    assert len(replica_sets(api, namespace, "app=calm")) == 1


@pytest.mark.parametrize("kind", ["statefulset", "daemonset"])
def test_rollout_restart_of_statefulsets_and_daemonsets(api: client.ApiClient, namespace: str, kind: str) -> None:
    apps = client.AppsV1Api(api)
    template = {"metadata": {"labels": {"app": kind}}, "spec": {"containers": [{"name": "c", "image": "r.local/c:1"}]}}
    spec = {"selector": {"matchLabels": {"app": kind}}, "template": template}
    if kind == "statefulset":
        apps.create_namespaced_stateful_set(
            namespace, {"metadata": {"name": kind}, "spec": {**spec, "replicas": 2, "serviceName": kind}}
        )
        read = apps.read_namespaced_stateful_set
    else:
        apps.create_namespaced_daemon_set(namespace, {"metadata": {"name": kind}, "spec": spec})
        read = apps.read_namespaced_daemon_set
    wait_for(lambda: len(ready_pods(api, namespace, f"app={kind}")) >= 2, what=f"{kind} pods ready")
    before = {p.metadata.uid for p in ready_pods(api, namespace, f"app={kind}")}

    result = make_executor(api).run(
        "rollout-restart", Target.parse(f"{kind}/{namespace}/{kind}"), {}, "test", "user:test", dry_run=False
    )

    assert result.status is ActionStatus.verified, result.record
    annotations = read(kind, namespace).spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    after = {p.metadata.uid for p in ready_pods(api, namespace, f"app={kind}")}
    assert after and not (after & before), "every pod was replaced"
