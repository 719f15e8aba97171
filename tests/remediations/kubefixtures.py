"""Helpers for integration tests of remediations on the real control plane: objects, waiting, an executor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from remediations.executor import Executor, Timing
from remediations.journal import InMemoryAuditLog, InMemoryJournal
from remediations.kube import KubeCluster
from remediations.policy import GuardPolicy
from remediations.runbooks import builtin_registry

OPEN_POLICY: dict[str, Any] = {
    "allow": [{"namespaces": ["*"]}],
    "blast_radius": {"max_replica_share": 1.0, "min_healthy_replicas": 0, "max_node_share": 1.0, "min_ready_nodes": 0},
    "cooldowns": {"per_target": 0},
    "rate_limits": {"per_target": None, "per_runbook": None, "global": None},
}


def open_policy(**changes: Any) -> GuardPolicy:
    return GuardPolicy.model_validate({**OPEN_POLICY, **changes})


def make_executor(
    api: client.ApiClient, policy: GuardPolicy | None = None, journal: Any = None, audit: Any = None, **kw: Any
) -> Executor:
    kw.setdefault("timing", Timing(settle_timeout=60, verify_timeout=20, poll_interval=0.3, max_attempts=3))
    return Executor(
        builtin_registry(),
        KubeCluster(api),
        policy or open_policy(),
        journal if journal is not None else InMemoryJournal(),
        audit if audit is not None else InMemoryAuditLog(),
        **kw,
    )


def deployment(
    name: str,
    replicas: int = 2,
    image: str = "registry.local/app:1",
    labels: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    node: str | None = None,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": image}
    if limits:
        container["resources"] = {"limits": limits}
    spec: dict[str, Any] = {"containers": [container]}
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def wait_for(check: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout}s")


def create_ready_deployment(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, body)
    name, replicas = body["metadata"]["name"], body["spec"]["replicas"]

    def ready() -> bool:
        d = apps.read_namespaced_deployment(name, namespace)
        return (d.status.ready_replicas or 0) == replicas and (d.status.updated_replicas or 0) == replicas

    wait_for(ready, what=f"deployment {namespace}/{name} ready")


def ready_pods(api: client.ApiClient, namespace: str, selector: str) -> list[client.V1Pod]:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
    return [
        p
        for p in pods
        if p.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    ]


def replica_sets(api: client.ApiClient, namespace: str, selector: str) -> list[client.V1ReplicaSet]:
    return list(client.AppsV1Api(api).list_namespaced_replica_set(namespace, label_selector=selector).items)
