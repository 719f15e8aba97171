"""Entities and their relations (pods, workloads, services, nodes, dependencies) for correlation."""

from daemon.topology.builders import (
    InstantQuery,
    add_from_entities,
    add_from_settings,
    add_request_edges,
    infer_owner,
    link_selected_pods,
    refresh_request_edges,
    selector_matches,
)
from daemon.topology.graph import HUB_KINDS, WORKLOAD_KINDS, Change, Topology, anchor_of, kind_of

__all__ = [
    "HUB_KINDS",
    "WORKLOAD_KINDS",
    "Change",
    "InstantQuery",
    "Topology",
    "add_from_entities",
    "add_from_settings",
    "add_request_edges",
    "anchor_of",
    "infer_owner",
    "kind_of",
    "link_selected_pods",
    "refresh_request_edges",
    "selector_matches",
]
