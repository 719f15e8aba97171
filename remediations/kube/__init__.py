"""The Kubernetes adapter: the only module of ``remediations`` that imports the ``kubernetes`` client.

``KubeCluster`` implements ``remediations.cluster.ClusterApi`` over plain JSON objects and turns client errors into
``TargetNotFound`` / ``TemporaryError`` / ``PermanentError``, raised ``from`` the original.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from remediations.cluster import Json, PatchType
from remediations.errors import PermanentError, TargetNotFound, TemporaryError
from remediations.model import Target

logger = logging.getLogger(__name__)
T = TypeVar("T")


def api_client_from(kubeconfig: Path | None = None, context: str | None = None) -> client.ApiClient:
    """An ApiClient from a kubeconfig file, else in-cluster config, else ``~/.kube/config``."""
    try:
        if kubeconfig is not None:
            return _any(config.new_client_from_config(config_file=str(kubeconfig), context=context))  # type: ignore[no-untyped-call,no-any-return]
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call,no-any-return]
            return client.ApiClient()
        except ConfigException:
            return _any(config.new_client_from_config(context=context))  # type: ignore[no-untyped-call,no-any-return]
    except (ConfigException, OSError) as exc:
        where = kubeconfig or "in-cluster config or ~/.kube/config"
        raise PermanentError(f"cannot load Kubernetes credentials from {where}: {exc}") from exc


def _message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
        return str(body.get("message") or exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


def _any(value: Any) -> Any:
    return value


def translate(what: str, call: Callable[[], T]) -> T:
    """Run a client call; map its errors to the library's retry meaning."""
    try:
        return call()
    except ApiException as exc:
        text = f"{what}: HTTP {exc.status} {_message(exc)}"
        if exc.status == 404:
            raise TargetNotFound(text) from exc
        if exc.status in (409, 429) or (exc.status or 0) >= 500:
            retry_after = (exc.headers or {}).get("Retry-After") if exc.headers else None
            raise TemporaryError(text, delay=float(retry_after) if retry_after else 1.0) from exc
        raise PermanentError(text) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise TemporaryError(f"{what}: cannot reach the API server: {exc}") from exc


class KubeCluster:
    """ClusterApi over the Kubernetes API."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.policy = client.PolicyV1Api(api_client)

    def _json(self, obj: Any) -> Json:
        data: Json = self.api_client.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call,no-any-return]
        return data

    def _reader(self, target: Target) -> Callable[[], Any]:
        ns, name = target.namespace, target.name
        readers: dict[str, Callable[[], Any]] = {
            "deployment": lambda: self.apps.read_namespaced_deployment(name, ns),
            "statefulset": lambda: self.apps.read_namespaced_stateful_set(name, ns),
            "daemonset": lambda: self.apps.read_namespaced_daemon_set(name, ns),
            "pod": lambda: self.core.read_namespaced_pod(name, ns),
            "node": lambda: self.core.read_node(name),
            "cronjob": lambda: self.batch.read_namespaced_cron_job(name, ns),
            "job": lambda: self.batch.read_namespaced_job(name, ns),
        }
        return readers[target.kind]

    def get(self, target: Target) -> Json:
        return self._json(translate(f"read {target}", self._reader(target)))

    def patch(self, target: Target, body: Json | list[Json], patch_type: PatchType = "strategic") -> Json:
        ns, name = target.namespace, target.name
        content_type = {
            "strategic": "application/strategic-merge-patch+json",
            "merge": "application/merge-patch+json",
            "json": "application/json-patch+json",
        }[patch_type]
        patchers: dict[str, Callable[..., Any]] = {
            "deployment": lambda **kw: self.apps.patch_namespaced_deployment(name, ns, body, **kw),
            "statefulset": lambda **kw: self.apps.patch_namespaced_stateful_set(name, ns, body, **kw),
            "daemonset": lambda **kw: self.apps.patch_namespaced_daemon_set(name, ns, body, **kw),
            "pod": lambda **kw: self.core.patch_namespaced_pod(name, ns, body, **kw),
            "node": lambda **kw: self.core.patch_node(name, body, **kw),
            "cronjob": lambda **kw: self.batch.patch_namespaced_cron_job(name, ns, body, **kw),
            "job": lambda **kw: self.batch.patch_namespaced_job(name, ns, body, **kw),
        }
        patcher = patchers[target.kind]
        result = translate(f"patch {target}", lambda: patcher(_content_type=content_type))
        return self._json(result)

    def list_pods(
        self, namespace: str | None = None, selector: dict[str, str] | None = None, node: str | None = None
    ) -> list[Json]:
        kwargs: dict[str, Any] = {}
        if selector:
            kwargs["label_selector"] = ",".join(f"{k}={v}" for k, v in selector.items())
        if node:
            kwargs["field_selector"] = f"spec.nodeName={node}"
        if namespace:
            pods = translate(f"list pods in {namespace}", lambda: self.core.list_namespaced_pod(namespace, **kwargs))
        else:
            pods = translate("list pods", lambda: self.core.list_pod_for_all_namespaces(**kwargs))
        return [self._json(p) for p in pods.items]

    def list_replicasets(self, namespace: str, selector: dict[str, str]) -> list[Json]:
        label_selector = ",".join(f"{k}={v}" for k, v in selector.items())
        found = translate(
            f"list replicasets in {namespace}",
            lambda: self.apps.list_namespaced_replica_set(namespace, label_selector=label_selector),
        )
        return [self._json(rs) for rs in found.items]

    def list_nodes(self) -> list[Json]:
        return [self._json(n) for n in translate("list nodes", self.core.list_node).items]

    def delete_pod(self, namespace: str, name: str, uid: str | None = None, grace_seconds: int | None = None) -> None:
        options = client.V1DeleteOptions(
            preconditions=client.V1Preconditions(uid=uid) if uid else None, grace_period_seconds=grace_seconds
        )
        try:
            translate(
                f"delete pod {namespace}/{name}", lambda: self.core.delete_namespaced_pod(name, namespace, body=options)
            )
        except TargetNotFound:
            logger.info("pod %s/%s already gone", namespace, name)
        except TemporaryError as exc:
            # a uid precondition failing (409) means the pod we meant is gone and another took its name
            if isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 409 and uid:
                logger.info("pod %s/%s was already replaced", namespace, name)
                return
            raise

    def evict_pod(self, namespace: str, name: str) -> None:
        eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace))
        try:
            translate(
                f"evict pod {namespace}/{name}",
                lambda: self.core.create_namespaced_pod_eviction(name, namespace, eviction),
            )
        except TargetNotFound:
            logger.info("pod %s/%s already gone", namespace, name)

    def create_job(self, namespace: str, body: Json) -> Json:
        name = body["metadata"]["name"]
        try:
            return self._json(
                translate(
                    f"create job {namespace}/{name}", lambda: self.batch.create_namespaced_job(namespace, _any(body))
                )
            )
        except TemporaryError as exc:
            if isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 409:
                return self.get(Target(kind="job", namespace=namespace, name=name))
            raise

    def delete_job(self, namespace: str, name: str) -> None:
        try:
            translate(
                f"delete job {namespace}/{name}",
                lambda: self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background"),
            )
        except TargetNotFound:
            logger.info("job %s/%s already gone", namespace, name)

    def read_config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = translate(
                f"read configmap {namespace}/{name}", lambda: self.core.read_namespaced_config_map(name, namespace)
            )
        except TargetNotFound:
            return None
        return dict(found.data or {})
