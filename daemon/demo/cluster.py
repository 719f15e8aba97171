"""The demo shop on a local control plane: its workloads as real Deployments/StatefulSet/CronJob (kwok runs the
pods), and a mirror that feeds what the cluster does back into the simulation — a rollout restart gives new pods
without the leak, a rollback brings the good version back, a cordon relieves node pressure, a cleanup Job frees the
disk. Plain HTTPS with the admin token (the kubernetes client is reserved to the adapter modules)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from daemon.demo.workload import BAD_VERSION, DAY, GOOD_VERSION, NAMESPACE, WORKLOADS, PodInfo, Shop

logger = logging.getLogger(__name__)
AUTO_HEAL = {"aiops.example.com/auto-heal": "true"}


def _ts(text: str | None) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else time.time()


def _container(name: str, version: str) -> dict[str, Any]:
    return {"name": name, "image": f"shop/{name}:{version}",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}}  # fmt: skip


def workload_manifests() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for w in WORKLOADS:
        labels = {"app": w.name, **AUTO_HEAL}
        template = {"metadata": {"labels": labels}, "spec": {"containers": [_container(w.name, GOOD_VERSION)]}}
        spec: dict[str, Any] = {"replicas": w.replicas, "selector": {"matchLabels": {"app": w.name}},
                                "template": template}  # fmt: skip
        if w.kind == "statefulset":
            spec["serviceName"] = w.name
            out.append(("statefulsets", {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                         "metadata": {"name": w.name, "labels": labels}, "spec": spec}))  # fmt: skip
        else:
            spec["revisionHistoryLimit"] = 5
            out.append(("deployments", {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "metadata": {"name": w.name, "labels": labels}, "spec": spec}))  # fmt: skip
    cleanup = {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "db-cleanup", "labels": AUTO_HEAL},
        "spec": {"schedule": "0 3 * * *", "suspend": True, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [_container("db-cleanup", GOOD_VERSION)]}}}}},
    }  # fmt: skip
    return [*out, ("cronjobs", cleanup)]


class ShopCluster:
    """Creates the shop in namespace ``shop`` and mirrors pods, cordons and cleanup Jobs into ``shop``."""

    def __init__(self, server: str, ca_file: Path, token: str, shop: Shop) -> None:
        self.http = httpx.Client(base_url=server, verify=str(ca_file), timeout=10.0,
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        self.shop = shop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._mirror_forever, name="shop-mirror", daemon=True)
        self._initial: set[str] = set()
        self._jobs_seen: set[str] = set()
        self._rolled_out: set[str] = set()

    # -- set-up ----------------------------------------------------------------------------------------------
    def _create(self, path: str, body: dict[str, Any]) -> None:
        response = self.http.post(path, json=body)
        if response.status_code not in (200, 201, 409):
            raise RuntimeError(f"creating {path}: HTTP {response.status_code}: {response.text[:300]}")

    def setup(self, timeout: float = 90.0) -> None:
        for ns in (NAMESPACE, "aiopsd-system"):
            self._create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for resource, body in workload_manifests():
            group = "batch/v1" if resource == "cronjobs" else "apps/v1"
            self._create(f"/apis/{group}/namespaces/{NAMESPACE}/{resource}", body)
        nodes = sorted(n["metadata"]["name"] for n in self.http.get("/api/v1/nodes").json()["items"])
        self.shop.nodes = tuple(nodes)
        wanted = sum(w.replicas for w in WORKLOADS)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [p for p in self._pods() if p["status"].get("phase") == "Running"]
            if len(running) >= wanted:
                self._initial = {p["metadata"]["name"] for p in running}
                self.shop.mirrored = True
                self.mirror_once()
                return
            time.sleep(0.5)
        raise RuntimeError(f"the shop's {wanted} pods did not become Running within {timeout}s")

    def _pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.http.get(f"/api/v1/namespaces/{NAMESPACE}/pods").json()["items"]
        return items

    # -- mirroring -------------------------------------------------------------------------------------------
    def mirror_once(self) -> None:
        now = time.time()
        by_app: dict[str, list[PodInfo]] = {w.name: [] for w in WORKLOADS}
        for pod in self._pods():
            meta, spec = pod["metadata"], pod["spec"]
            app = meta.get("labels", {}).get("app")
            if app not in by_app or meta.get("deletionTimestamp") or pod["status"].get("phase") != "Running":
                continue
            image = spec["containers"][0]["image"]
            labels = meta.get("labels", {})
            template = labels.get("pod-template-hash") or labels.get("controller-revision-hash", "")
            started = self.shop.start - 7 * DAY if meta["name"] in self._initial else _ts(meta.get("creationTimestamp"))
            by_app[app].append(PodInfo(meta["name"], spec.get("nodeName", ""), started, image.rsplit(":", 1)[-1],
                                       template))  # fmt: skip
        for app, pods in by_app.items():
            self.shop.sync_pods(app, sorted(pods, key=lambda p: p.name), now)
        nodes = self.http.get("/api/v1/nodes").json()["items"]
        self.shop.set_cordoned({n["metadata"]["name"] for n in nodes if n["spec"].get("unschedulable")})
        jobs = self.http.get(f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs").json()["items"]
        for job in jobs:
            name = job["metadata"]["name"]
            if name not in self._jobs_seen:
                self._jobs_seen.add(name)
                logger.info("cleanup job %s ran: freeing the database volume", name)
                self.shop.clean_volume("db", now)
        self._roll_out_scheduled(now)

    def _roll_out_scheduled(self, now: float) -> None:
        """A bad rollout is something a person does: the demo patches the image at the fault's time."""
        for fault in self.shop.faults:
            if fault.kind != "bad_rollout" or fault.name in self._rolled_out or not self.shop.fault_active(fault, now):
                continue
            self._rolled_out.add(fault.name)
            patch = {"spec": {"template": {"spec": {"containers": [_container(fault.target, BAD_VERSION)]}}}}
            self.http.patch(
                f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{fault.target}", json=patch,
                headers={"Content-Type": "application/strategic-merge-patch+json"},
            ).raise_for_status()  # fmt: skip

    def _mirror_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.mirror_once()
            except (httpx.HTTPError, KeyError, RuntimeError) as exc:
                logger.warning("mirroring the cluster into the shop failed: %s", exc)
            self._stop.wait(1.0)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.http.close()
