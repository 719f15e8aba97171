"""Filling a `Topology` without the Kubernetes API: from anomaly labels, from configuration, from request metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from daemon.domain import EntityRef
from daemon.settings.correlation import RequestEdgeQuerySettings, TopologySettings
from daemon.topology.graph import WORKLOAD_KINDS, Topology, kind_of

logger = logging.getLogger(__name__)

# Deployment pods are named <deployment>-<replicaset hash>-<pod suffix>
_DEPLOYMENT_POD = re.compile(r"^(?P<rs>(?P<deploy>[a-z0-9][-a-z0-9.]*?)-[a-z0-9]{5,10})-[a-z0-9]{5}$")


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Kubernetes equality-based selection: every selector pair is in the labels; an empty selector selects none."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def add_from_entities(topology: Topology, entities: Mapping[str, str]) -> None:
    """Relations implied by one anomaly's entities: its workload owns its pod, its pod runs on its node."""
    for key in entities.values():
        topology.add_entity(key)
    pod = entities.get("pod")
    workload = next((entities[k] for k in WORKLOAD_KINDS if k in entities), None)
    replicaset = entities.get("replicaset")
    if pod and not topology.owners(pod):
        if replicaset:
            topology.add_relation(replicaset, "owns", pod)
        elif workload:
            topology.add_relation(workload, "owns", pod)
        else:
            inferred = infer_owner(pod)
            if inferred:
                rs, deploy = inferred
                topology.add_relation(rs, "owns", pod)
                topology.add_relation(deploy, "owns", rs)
    if replicaset and workload and not topology.owners(replicaset):
        topology.add_relation(workload, "owns", replicaset)
    node = entities.get("node")
    if pod and node:
        topology.add_relation(pod, "runs_on", node)
    service = entities.get("service")
    if service and pod:
        topology.add_relation(service, "selects", pod)
    elif service and workload:
        topology.add_relation(service, "selects", workload)


def infer_owner(pod_key: str) -> tuple[str, str] | None:
    """A Deployment's pod name gives its ReplicaSet and Deployment: ``cart-7d9f8c6b5-x2k4q``."""
    ref = EntityRef.parse(pod_key)
    match = _DEPLOYMENT_POD.match(ref.name)
    if not match:
        return None
    rs = EntityRef(kind="replicaset", namespace=ref.namespace, name=match["rs"]).key
    deploy = EntityRef(kind="deployment", namespace=ref.namespace, name=match["deploy"]).key
    return rs, deploy


def add_from_settings(topology: Topology, settings: TopologySettings) -> None:
    """Services, their workloads and their declared dependencies."""
    for spec in settings.services:
        service = EntityRef(kind="service", namespace=spec.namespace, name=spec.name).key
        topology.add_entity(service)
        if spec.workload:
            kind, _, name = spec.workload.partition("/")
            topology.add_relation(service, "selects", EntityRef(kind=kind, namespace=spec.namespace, name=name).key)
        if spec.selector:
            topology.selectors[service] = dict(spec.selector)
        for dep in spec.depends_on:
            namespace, sep, name = dep.rpartition("/")
            target = EntityRef(kind="service", namespace=namespace if sep else spec.namespace, name=name).key
            topology.add_relation(service, "depends_on", target)
    link_selected_pods(topology)


def link_selected_pods(topology: Topology) -> int:
    """Service → pod relations for every service selector and pod labels known; returns relations added."""
    added = 0
    pods = [k for k in topology.entities if kind_of(k) == "pod"]
    for service, selector in topology.selectors.items():
        namespace = EntityRef.parse(service).namespace
        for pod in pods:
            if EntityRef.parse(pod).namespace != namespace:
                continue
            if selector_matches(selector, topology.labels.get(pod, {})) and pod not in topology.related(
                service, "selects"
            ):
                topology.add_relation(service, "selects", pod)
                added += 1
    return added


def add_request_edges(
    topology: Topology, query: RequestEdgeQuerySettings, samples: Iterable[tuple[Mapping[str, str], float]]
) -> int:
    """Dependencies from request metrics: one (labels, value) per caller/callee pair. Returns edges added."""
    added = 0
    for labels, value in samples:
        if value <= query.min_rate:
            continue
        source = labels.get(query.source_label)
        target = labels.get(query.target_label)
        if not source or not target or source == target or source == "unknown" or target == "unknown":
            continue
        src = EntityRef(kind=query.kind, namespace=labels.get(query.source_namespace_label, ""), name=source).key
        dst = EntityRef(kind=query.kind, namespace=labels.get(query.target_namespace_label, ""), name=target).key
        if dst not in topology.related(src, "depends_on"):
            topology.add_relation(src, "depends_on", dst)
            added += 1
    return added


class InstantQuery(Protocol):
    """What the topology needs from a metric source: run an instant PromQL query, get (labels, value) pairs."""

    def __call__(self, promql: str) -> list[tuple[dict[str, str], float]]: ...


def refresh_request_edges(topology: Topology, settings: TopologySettings, query: InstantQuery) -> int:
    """Run every configured request-metrics query and add the dependencies found; returns edges added."""
    added = 0
    for edge_query in settings.request_edges:
        added += add_request_edges(topology, edge_query, query(edge_query.promql))
    if added:
        logger.info("request metrics added %d service dependencies", added)
    return added
