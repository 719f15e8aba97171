"""A small simulated shop: deployments and their pods with daily seasonality, noise and scripted faults.

Every metric is a function of time (history and live values come from the same model), and the shop reacts to
actions: restarting a deployment replaces its pods (new names, counters from zero) and clears a memory leak;
cleaning a volume frees its disk. Faults start at fixed offsets from the demo's start.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

MiB = 1024.0 * 1024.0
DAY = 86400.0
NAMESPACE = "shop"


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str  # memory_leak | latency | errors | disk_fill | bad_rollout | node_pressure
    target: str  # deployment or statefulset name
    start: float  # seconds after the demo starts
    duration: float | None = None  # None: until remediated
    description: str = ""


DEFAULT_FAULTS = (
    Fault("disk filling", "disk_fill", "db", 45, None, "the database volume fills up: full in about 15 minutes"),
    Fault("memory leak", "memory_leak", "cart", 90, None, "cart leaks memory until it is restarted"),
    Fault("bad rollout", "bad_rollout", "checkout", 180, None, "checkout v2 is rolled out: slow and failing"),
    Fault("node pressure", "node_pressure", "node-2", 330, None, "a noisy neighbour exhausts node-2's memory"),
    Fault("error burst", "errors", "frontend", 450, 60, "frontend returns 8% errors for a minute (transient)"),
)
GOOD_VERSION, BAD_VERSION = "v1", "v2"


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # deployment | statefulset
    replicas: int
    cpu: float  # cores at the daily mean
    memory: float  # bytes
    memory_limit: float
    rps: float  # requests per second per pod at the daily mean
    latency: float  # p99 seconds
    error_ratio: float
    depends_on: tuple[str, ...] = ()
    volume: float | None = None  # bytes of disk, statefulsets


WORKLOADS = (
    Workload("frontend", "deployment", 3, 0.30, 180 * MiB, 512 * MiB, 40, 0.20, 0.002, ("cart", "checkout", "catalog")),
    Workload("cart", "deployment", 2, 0.15, 200 * MiB, 512 * MiB, 25, 0.05, 0.001, ("db",)),
    Workload("checkout", "deployment", 2, 0.20, 220 * MiB, 512 * MiB, 10, 0.25, 0.001, ("db",)),
    Workload("catalog", "deployment", 2, 0.10, 150 * MiB, 384 * MiB, 30, 0.04, 0.0005, ("db",)),
    Workload("db", "statefulset", 1, 0.50, 900 * MiB, 2048 * MiB, 60, 0.01, 0.0001, (), 20 * 1024 * MiB),
)
NODES = ("node-1", "node-2")


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _noise(key: str, t: float, step: float = 5.0) -> float:
    """Deterministic standard-normal-ish noise for (series, time bucket), so history and live agree."""
    rng = np.random.default_rng([_hash(key) & 0xFFFFFFFF, int(t // step) & 0xFFFFFFFF])
    return float(rng.standard_normal())


@dataclass
class Pod:
    name: str
    workload: Workload
    node: str
    started: float
    version: str = GOOD_VERSION
    template: str = ""  # pod-template-hash: a new one means a new rollout
    oom_restarts: int = 0
    last_oom: float | None = None


@dataclass(frozen=True)
class PodInfo:
    """A pod as the cluster reports it (cluster mode: the shop's pods mirror the control plane's)."""

    name: str
    node: str
    started: float
    version: str
    template: str


@dataclass
class Shop:
    """The shop's state. ``start`` is when the demo began (faults are relative to it)."""

    start: float
    faults: tuple[Fault, ...] = DEFAULT_FAULTS
    pods: dict[str, list[Pod]] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=dict)
    volume_cleaned_at: dict[str, float] = field(default_factory=dict)
    cleared: set[str] = field(default_factory=set)  # faults remediated
    nodes: tuple[str, ...] = NODES
    cordoned: set[str] = field(default_factory=set)
    mirrored: bool = False  # pods come from the cluster (sync_pods) instead of being simulated
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        for w in WORKLOADS:
            self.generation[w.name] = 0
            self.pods[w.name] = self._make_pods(w, self.start - 7 * DAY)

    # -- topology ----------------------------------------------------------------------------------------
    def _make_pods(self, w: Workload, started: float) -> list[Pod]:
        gen = self.generation[w.name]
        pods = []
        for i in range(w.replicas):
            if w.kind == "statefulset":
                name = f"{w.name}-{i}"
            else:
                rs = f"{_hash(f'{w.name}/{gen}') % 0xFFFFFFFFFF:010x}"[:9]
                name = f"{w.name}-{rs}-{_hash(f'{w.name}/{gen}/{i}') % 10**5:05d}"
            pods.append(Pod(name, w, self.nodes[(_hash(name) + i) % len(self.nodes)], started))
        return pods

    def workload(self, name: str) -> Workload:
        return next(w for w in WORKLOADS if w.name == name)

    # -- actions -----------------------------------------------------------------------------------------
    def restart(self, name: str, now: float) -> list[str]:
        """A rollout restart: new pods replace the old ones; a memory leak goes away with them."""
        with self._lock:
            w = self.workload(name)
            self.generation[name] += 1
            self.pods[name] = self._make_pods(w, now)
            for fault in self.faults:
                if fault.target == name and fault.kind == "memory_leak":
                    self.cleared.add(fault.name)
            return [p.name for p in self.pods[name]]

    def sync_pods(self, name: str, pods: list[PodInfo], now: float) -> None:
        """Cluster mode: the workload's pods are the cluster's. A new rollout (pod template) ends a memory leak."""
        with self._lock:
            w = self.workload(name)
            before = {p.template for p in self.pods.get(name, []) if p.template}
            after = {p.template for p in pods}
            known = {p.name: p for p in self.pods.get(name, [])}
            self.pods[name] = [
                known.get(i.name) or Pod(i.name, w, i.node, i.started, i.version, i.template) for i in pods
            ]
            for pod, info in zip(self.pods[name], pods, strict=True):
                pod.node, pod.version, pod.template = info.node, info.version, info.template
            if before and after - before:
                for fault in self.faults:
                    if fault.target == name and fault.kind == "memory_leak" and self.fault_active(fault, now):
                        self.cleared.add(fault.name)

    def set_cordoned(self, nodes: set[str]) -> None:
        with self._lock:
            self.cordoned = set(nodes)
            for fault in self.faults:
                if fault.kind == "node_pressure" and self._node_name(fault) in self.cordoned:
                    self.cleared.add(fault.name)

    def clean_volume(self, name: str, now: float) -> None:
        with self._lock:
            self.volume_cleaned_at[name] = now
            for fault in self.faults:
                if fault.target == name and fault.kind == "disk_fill":
                    self.cleared.add(fault.name)

    # -- faults ------------------------------------------------------------------------------------------
    def fault_active(self, fault: Fault, t: float) -> bool:
        begin = self.start + fault.start
        if t < begin or fault.name in self.cleared:
            return False
        return fault.duration is None or t < begin + fault.duration

    def _active(self, target: str, kind: str, t: float) -> Fault | None:
        for fault in self.faults:
            if fault.target == target and fault.kind == kind and self.fault_active(fault, t):
                return fault
        return None

    # -- metrics -----------------------------------------------------------------------------------------
    def samples(self, t: float) -> Iterator[tuple[str, dict[str, str], float]]:
        """Every series' value at time ``t``: (metric name, labels, value)."""
        with self._lock:
            season = math.sin(2 * math.pi * ((t % DAY) / DAY - 0.25))  # low at night, high in the afternoon
            load = 1.0 + 0.35 * season
            for w in WORKLOADS:
                latency_fault = self._latency_extra(w, t)
                errors = w.error_ratio
                if self._active(w.name, "errors", t):
                    errors = 0.08
                if not self.mirrored and self._active(w.name, "bad_rollout", t):
                    for pod in self.pods[w.name]:
                        pod.version = BAD_VERSION  # simulated: without a cluster nothing can roll it back
                for pod in self.pods[w.name]:
                    if pod.started > t:
                        continue
                    bad = pod.version == BAD_VERSION
                    yield from self._pod_samples(
                        w, pod, t, load, latency_fault + (0.9 if bad else 0.0), 0.12 if bad else errors
                    )
                if w.volume is not None:
                    yield from self._volume_samples(w, t)
            yield from self._node_samples(t)

    def _latency_extra(self, w: Workload, t: float) -> float:
        if self._active(w.name, "latency", t):
            return 1.6
        extra = 0.0
        for dep in w.depends_on:  # a slow dependency makes its callers slower, a little later
            if self._active(dep, "latency", t - 20):
                extra += 0.5
        return extra

    def _pod_samples(
        self, w: Workload, pod: Pod, t: float, load: float, latency_extra: float, errors: float
    ) -> Iterator[tuple[str, dict[str, str], float]]:
        labels = {"namespace": NAMESPACE, "pod": pod.name, "node": pod.node, w.kind: w.name, "container": w.name}
        key = pod.name
        memory = w.memory * (1 + 0.02 * _noise(key + "m", t, 30)) + 0.1 * w.memory * (load - 1)
        leak = self._active(w.name, "memory_leak", t)
        restarts = pod.oom_restarts
        if leak is not None:
            leak_start = max(self.start + leak.start, pod.started)
            if pod.last_oom is not None and pod.last_oom >= leak_start:
                leak_start = pod.last_oom
            memory += 1.5 * MiB * (t - leak_start)
            if memory >= w.memory_limit:  # OOM-killed: the container restarts with fresh memory
                pod.oom_restarts += 1
                pod.last_oom = t
                restarts = pod.oom_restarts
                memory = w.memory
        cpu = w.cpu * load * (1 + 0.05 * _noise(key + "c", t)) + (0.1 if leak is not None else 0.0)
        rps = w.rps * load
        # requests served since the pod started: the integral of the (smooth) rate, so it is exact at any t
        phase = 2 * math.pi / DAY

        def integral(x: float) -> float:
            return w.rps * (x - 0.35 * math.cos(phase * (x % DAY) - math.pi / 2) / phase)

        requests = max(0.0, integral(t) - integral(pod.started))
        latency = w.latency * (1 + 0.04 * _noise(key + "l", t)) * (0.9 + 0.1 * load) + latency_extra
        error_ratio = max(0.0, errors * (1 + 0.2 * _noise(key + "e", t)))
        yield "shop_container_cpu_usage_cores", labels, max(cpu, 0.0)
        yield "shop_container_memory_working_set_bytes", labels, memory
        yield "shop_container_memory_limit_bytes", labels, w.memory_limit
        yield "shop_http_requests_total", labels, float(int(requests))
        yield "shop_http_request_rate", labels, rps
        yield "shop_http_error_ratio", labels, error_ratio
        yield "shop_http_request_duration_p99_seconds", labels, latency
        yield "shop_container_restarts_total", labels, float(restarts)

    def _node_samples(self, t: float) -> Iterator[tuple[str, dict[str, str], float]]:
        for node in self.nodes:
            used = 0.55 + 0.01 * _noise(node + "n", t, 10)
            for fault in self.faults:
                if fault.kind == "node_pressure" and self.fault_active(fault, t) and node == self._node_name(fault):
                    used += min((t - (self.start + fault.start)) * 0.004, 0.4)
            yield "shop_node_memory_used_ratio", {"node": node}, min(used, 1.0)
            yield "shop_node_schedulable", {"node": node}, 0.0 if node in self.cordoned else 1.0

    def _node_name(self, fault: Fault) -> str:
        """Faults name nodes node-1, node-2…; in cluster mode they are the cluster's nodes in order."""
        if fault.target in self.nodes:
            return fault.target
        index = int(fault.target.rsplit("-", 1)[-1]) - 1
        return self.nodes[index] if 0 <= index < len(self.nodes) else fault.target

    def _volume_samples(self, w: Workload, t: float) -> Iterator[tuple[str, dict[str, str], float]]:
        assert w.volume is not None
        labels = {"namespace": NAMESPACE, "statefulset": w.name, "persistentvolumeclaim": f"data-{w.name}-0"}
        cleaned = self.volume_cleaned_at.get(w.name)
        base = 0.50 if cleaned is not None and t >= cleaned else 0.55
        used = base + 0.00002 * ((t - self.start) / 60) + 0.001 * _noise(w.name + "d", t, 60)
        fault = self._active(w.name, "disk_fill", t)
        if fault is not None:
            used += (t - (self.start + fault.start)) * 0.45 / 900  # from ~0.55 to full in about 15 minutes
        yield "shop_volume_used_bytes", labels, min(used, 1.0) * w.volume
        yield "shop_volume_capacity_bytes", labels, w.volume
