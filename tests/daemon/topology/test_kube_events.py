from __future__ import annotations

from typing import Any

from daemon.topology import Topology
from daemon.topology.kube_events import KubeTopologyEvents

NOW = 1_714_564_800.0


def meta(name: str, owner: tuple[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "namespace": "shop", **extra}
    if owner:
        out["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True, "uid": "u"}]
    return out


def pod(name: str, rs: str, node: str | None, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": meta(name, ("ReplicaSet", rs), labels=labels), "spec": {"nodeName": node}}


def test_events_build_the_owner_chain_node_and_service_selection() -> None:
    topo = Topology()
    events = KubeTopologyEvents(topo)
    events.apply("services", "ADDED", {"metadata": meta("cart"), "spec": {"selector": {"app": "cart"}}}, NOW)
    events.apply("deployments", "ADDED", {"metadata": meta("cart", generation=1)}, NOW)
    rs = {"metadata": meta("cart-7d9f", ("Deployment", "cart"), creationTimestamp="2024-05-01T11:00:00Z")}
    events.apply("replicasets", "ADDED", rs, NOW)
    events.apply("pods", "ADDED", pod("cart-7d9f-x2", "cart-7d9f", "worker-1", {"app": "cart"}), NOW)
    events.apply("pods", "ADDED", pod("other-1", "other-rs", None, {"app": "other"}), NOW)

    assert topo.owners("pod/shop/cart-7d9f-x2") == ["replicaset/shop/cart-7d9f", "deployment/shop/cart"]
    assert topo.node_of("pod/shop/cart-7d9f-x2") == "node//worker-1"
    assert topo.related("service/shop/cart", "selects") == ["pod/shop/cart-7d9f-x2"]
    assert topo.workload_of("service/shop/cart") == "deployment/shop/cart"
    (change,) = topo.changes
    assert (change.entity, change.what, change.ts) == ("deployment/shop/cart", "new ReplicaSet cart-7d9f", NOW - 3600)


def test_modified_pods_move_nodes_and_relabelled_pods_leave_the_service() -> None:
    topo = Topology()
    events = KubeTopologyEvents(topo)
    events.apply("services", "ADDED", {"metadata": meta("cart"), "spec": {"selector": {"app": "cart"}}}, NOW)
    events.apply("pods", "ADDED", pod("p", "rs", "worker-1", {"app": "cart"}), NOW)
    events.apply("pods", "MODIFIED", pod("p", "rs", "worker-2", {"app": "debug"}), NOW)
    assert topo.related("pod/shop/p", "runs_on") == ["node//worker-2"]
    assert topo.related("service/shop/cart", "selects") == []
    events.apply("pods", "DELETED", pod("p", "rs", "worker-2", {}), NOW)
    assert "pod/shop/p" not in topo.entities


def test_a_service_added_after_its_pods_selects_them() -> None:
    topo = Topology()
    events = KubeTopologyEvents(topo)
    events.apply("pods", "ADDED", pod("p", "rs", None, {"app": "cart", "tier": "web"}), NOW)
    events.apply("services", "ADDED", {"metadata": meta("web"), "spec": {"selector": {"tier": "web"}}}, NOW)
    assert topo.related("service/shop/web", "selects") == ["pod/shop/p"]


def test_a_spec_change_of_a_workload_is_recorded_once() -> None:
    topo = Topology()
    events = KubeTopologyEvents(topo)
    events.apply("deployments", "ADDED", {"metadata": meta("cart", generation=3)}, NOW)
    events.apply("deployments", "MODIFIED", {"metadata": meta("cart", generation=3)}, NOW + 5)  # status only
    events.apply("deployments", "MODIFIED", {"metadata": meta("cart", generation=4)}, NOW + 10)
    assert [(c.ts, c.what) for c in topo.changes] == [(NOW + 10, "spec changed (generation 3 → 4)")]


def test_events_without_names_or_of_unknown_types_change_nothing() -> None:
    topo = Topology()
    events = KubeTopologyEvents(topo)
    events.apply("pods", "ADDED", {"metadata": {}}, NOW)
    events.apply("pods", "BOOKMARK", pod("p", "rs", None, {}), NOW)
    assert topo.entities == set()


def test_late_events_of_garbage_collected_dependents_do_not_resurrect_their_owner() -> None:
    topo = Topology()
    events = KubeTopologyEvents(topo)
    events.apply("deployments", "ADDED", {"metadata": meta("cart", generation=1)}, NOW)
    rs = {"metadata": meta("cart-7d9f", ("Deployment", "cart"))}
    events.apply("replicasets", "ADDED", rs, NOW)
    events.apply("pods", "ADDED", pod("cart-7d9f-x2", "cart-7d9f", "worker-1", {"app": "cart"}), NOW)

    events.apply("deployments", "DELETED", {"metadata": meta("cart")}, NOW + 1)
    events.apply("replicasets", "MODIFIED", rs, NOW + 2)  # the garbage collector touches it before deleting it
    terminating = pod("cart-7d9f-x2", "cart-7d9f", "worker-1", {"app": "cart"})
    terminating["metadata"]["deletionTimestamp"] = "2024-05-01T12:00:03Z"
    events.apply("pods", "MODIFIED", terminating, NOW + 3)

    assert "deployment/shop/cart" not in topo.entities
    assert "pod/shop/cart-7d9f-x2" not in topo.entities
    assert topo.owners("replicaset/shop/cart-7d9f") == []  # namespaces are not part of the owner chain
    events.apply("deployments", "ADDED", {"metadata": meta("cart", generation=1)}, NOW + 4)  # created again
    assert "deployment/shop/cart" in topo.entities
