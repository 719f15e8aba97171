from __future__ import annotations

import pytest

from daemon.topology import Topology, anchor_of
from tests.daemon.correlation.factory import shop


def test_owner_chain_and_workload_of_a_pod() -> None:
    topo = shop()
    assert topo.owners("pod/shop/cart-def34-ccccc") == ["replicaset/shop/cart-def34", "deployment/shop/cart"]
    assert topo.workload_of("pod/shop/redis-0") == "statefulset/shop/redis"
    assert topo.workload_of("service/shop/cart") == "deployment/shop/cart"
    assert topo.node_of("pod/shop/redis-0") == "node//worker-2"


def test_dependencies_declared_on_services_resolve_to_workloads() -> None:
    topo = shop()
    assert topo.dependencies("deployment/shop/frontend") == {"deployment/shop/cart", "deployment/shop/catalog"}
    assert topo.dependents("statefulset/shop/redis") == {"deployment/shop/cart"}
    assert topo.upstream_of("deployment/shop/frontend") == {
        "deployment/shop/cart",
        "deployment/shop/catalog",
        "statefulset/shop/redis",
    }


def test_distance_follows_one_direction_of_dependencies() -> None:
    topo = shop()
    near = topo.distances({"deployment/shop/cart"}, limit=2)
    assert near["pod/shop/cart-def34-ccccc"] == 0  # ownership is free
    assert near["deployment/shop/frontend"] == 1  # its caller
    assert near["statefulset/shop/redis"] == 1  # its callee
    # catalog is only a sibling (both called by frontend): not related through frontend
    assert "deployment/shop/catalog" not in near


def test_hubs_end_paths_unless_passable() -> None:
    topo = shop()
    pod = "pod/shop/checkout-jkl78-fffff"
    closed = topo.distances({pod}, limit=3)
    assert closed["node//worker-1"] == 1
    assert "pod/shop/frontend-abc12-aaaaa" not in closed  # only shares the node
    opened = topo.distances({pod}, limit=3, through_hubs={"node//worker-1"})
    assert opened["pod/shop/frontend-abc12-aaaaa"] == 2


def test_remove_entity_drops_its_relations() -> None:
    topo = shop()
    topo.remove_entity("pod/shop/redis-0")
    assert topo.workload_of("pod/shop/redis-0") is None
    assert "pod/shop/redis-0" not in topo.related("statefulset/shop/redis", "owns")


def test_bad_keys_and_relation_kinds_are_refused() -> None:
    topo = Topology()
    with pytest.raises(ValueError):
        topo.add_entity("no-slashes")
    with pytest.raises(ValueError, match="unknown relation kind"):
        topo.add_relation("pod/a/b", "likes", "pod/a/c")  # type: ignore[arg-type]


def test_anchor_is_the_most_specific_entity() -> None:
    assert anchor_of({"namespace": "namespace//shop", "pod": "pod/shop/x"}) == "pod/shop/x"
    assert anchor_of({"node": "node//w1", "namespace": "namespace//shop"}) == "node//w1"
    assert anchor_of({}) is None


def test_recent_changes_include_the_owner_chain() -> None:
    topo = shop()
    topo.record_change("deployment/shop/cart", 100.0, "new ReplicaSet")
    assert [c.what for c in topo.recent_changes("replicaset/shop/cart-def34", 0, 200)] == ["new ReplicaSet"]
    assert topo.recent_changes("replicaset/shop/cart-def34", 150, 200) == []
