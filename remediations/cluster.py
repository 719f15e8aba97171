"""What runbooks and guards need from a cluster, as a Protocol over plain JSON objects.

``remediations.kube.KubeCluster`` implements it with the Kubernetes API (the only module importing ``kubernetes``);
unit tests pass a hand-written fake. Errors follow ``remediations.errors``: a missing object is ``TargetNotFound``,
conflicts, throttling and 5xx are ``TemporaryError``, the rest ``PermanentError``.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from remediations.model import Target

Json = dict[str, Any]
PatchType = Literal["strategic", "merge", "json"]


class ClusterApi(Protocol):
    def get(self, target: Target) -> Json:
        """The live object (deployment, statefulset, daemonset, pod, node, cronjob, job) as JSON."""
        ...

    def patch(self, target: Target, body: Json | list[Json], patch_type: PatchType = "strategic") -> Json: ...

    def list_pods(
        self, namespace: str | None = None, selector: dict[str, str] | None = None, node: str | None = None
    ) -> list[Json]: ...

    def list_replicasets(self, namespace: str, selector: dict[str, str]) -> list[Json]: ...

    def list_nodes(self) -> list[Json]: ...

    def delete_pod(self, namespace: str, name: str, uid: str | None = None, grace_seconds: int | None = None) -> None:
        """Delete a pod; a pod already gone (or replaced by one with another uid) is not an error."""
        ...

    def evict_pod(self, namespace: str, name: str) -> None:
        """Evict through the eviction API; a PodDisruptionBudget refusal raises ``TemporaryError``."""
        ...

    def create_job(self, namespace: str, body: Json) -> Json:
        """Create a Job; one of that name already there is returned, not an error (idempotent)."""
        ...

    def delete_job(self, namespace: str, name: str) -> None: ...

    def read_config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """The data of a ConfigMap, or None when it does not exist."""
        ...
