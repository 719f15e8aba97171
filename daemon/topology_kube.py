"""Topology from the Kubernetes API by watching (list once, then watch from that resourceVersion; re-list on 410).

One thread per resource reads the API and queues events; the daemon applies them to its `Topology` from the loop
thread (`KubeTopologyWatcher.apply_pending()` before correlating), so the graph is never mutated mid-tick.
This is the only daemon module besides daemon.leader that imports the ``kubernetes`` client.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from daemon.errors import SourceUnavailable
from daemon.topology.graph import Topology
from daemon.topology.kube_events import RESOURCES, KubeTopologyEvents, Resource

logger = logging.getLogger(__name__)

Event = tuple[Resource, str, dict[str, Any]]


def _lister(api: client.ApiClient, resource: Resource, namespace: str | None) -> Callable[..., Any]:
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    table: dict[Resource, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "pods": (core.list_pod_for_all_namespaces, core.list_namespaced_pod),
        "services": (core.list_service_for_all_namespaces, core.list_namespaced_service),
        "replicasets": (apps.list_replica_set_for_all_namespaces, apps.list_namespaced_replica_set),
        "deployments": (apps.list_deployment_for_all_namespaces, apps.list_namespaced_deployment),
        "statefulsets": (apps.list_stateful_set_for_all_namespaces, apps.list_namespaced_stateful_set),
        "daemonsets": (apps.list_daemon_set_for_all_namespaces, apps.list_namespaced_daemon_set),
        "jobs": (batch.list_job_for_all_namespaces, batch.list_namespaced_job),
    }
    every, one = table[resource]
    if namespace is None:
        return every

    def namespaced(**kwargs: Any) -> Any:
        return one(namespace, **kwargs)

    return namespaced


class KubeTopologyWatcher:
    def __init__(
        self,
        api: client.ApiClient,
        topology: Topology,
        namespaces: list[str] | None = None,
        resources: tuple[Resource, ...] = RESOURCES,
        watch_timeout: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.events = KubeTopologyEvents(topology)
        self.namespaces: list[str | None] = list(namespaces) if namespaces else [None]
        self.resources = resources
        self.watch_timeout = watch_timeout
        self.clock = clock
        self._queue: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._synced: set[tuple[Resource, str | None]] = set()
        self.last_error: str | None = None

    def start(self) -> None:
        for resource in self.resources:
            for namespace in self.namespaces:
                thread = threading.Thread(
                    target=self._run, args=(resource, namespace), name=f"topology-{resource}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    @property
    def synced(self) -> bool:
        """Every resource was listed at least once (the topology is complete, then kept current)."""
        return len(self._synced) == len(self.resources) * len(self.namespaces)

    def apply_pending(self) -> int:
        """Apply queued events to the topology (call from the loop thread); returns how many."""
        count = 0
        now = self.clock()
        while True:
            try:
                resource, event_type, obj = self._queue.get_nowait()
            except queue.Empty:
                return count
            self.events.apply(resource, event_type, obj, now)
            count += 1

    def sync_once(self) -> int:
        """List everything once and apply it (tests, and a first topology before the watch threads catch up)."""
        for resource in self.resources:
            for namespace in self.namespaces:
                for obj in self._list(resource, namespace)[1]:
                    self._queue.put((resource, "ADDED", obj))
        return self.apply_pending()

    def _list(self, resource: Resource, namespace: str | None) -> tuple[str, list[dict[str, Any]]]:
        try:
            result = _lister(self.api, resource, namespace)()
        except (ApiException, HTTPError) as exc:
            raise SourceUnavailable(f"listing {resource} from the Kubernetes API failed: {exc}") from exc
        items = [self.api.sanitize_for_serialization(item) for item in result.items]  # type: ignore[no-untyped-call]
        return str(result.metadata.resource_version or ""), items

    def _run(self, resource: Resource, namespace: str | None) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                version, items = self._list(resource, namespace)
                for obj in items:
                    self._queue.put((resource, "ADDED", obj))
                self._synced.add((resource, namespace))
                for event_type, obj in self._watch(resource, namespace, version):
                    self._queue.put((resource, event_type, obj))
                backoff = 1.0
            except SourceUnavailable as exc:
                self.last_error = str(exc)
                logger.warning("%s; retrying in %.0fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)

    def _watch(self, resource: Resource, namespace: str | None, version: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events from ``version`` on, until the server ends the watch; returns to re-list on 410 Gone."""
        while not self._stop.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in stream.stream(  # type: ignore[no-untyped-call]
                    _lister(self.api, resource, namespace),
                    resource_version=version,
                    timeout_seconds=self.watch_timeout,
                    allow_watch_bookmarks=True,
                ):
                    raw = event.get("raw_object") or {}
                    if event["type"] == "ERROR":
                        if raw.get("code") == 410:
                            return  # our resourceVersion is too old: list again
                        raise SourceUnavailable(f"watching {resource}: {raw.get('message', raw)}")
                    version = str((raw.get("metadata") or {}).get("resourceVersion") or version)
                    if event["type"] != "BOOKMARK":
                        yield event["type"], raw
                    if self._stop.is_set():
                        stream.stop()  # type: ignore[no-untyped-call]
                        return
            except ApiException as exc:
                if exc.status == 410:
                    return
                raise SourceUnavailable(f"watching {resource} from the Kubernetes API failed: {exc}") from exc
            except HTTPError as exc:
                raise SourceUnavailable(f"watching {resource}: connection failed: {exc}") from exc
