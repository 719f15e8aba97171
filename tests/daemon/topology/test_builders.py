from __future__ import annotations

import pytest
from pydantic import ValidationError

from daemon.settings.correlation import RequestEdgeQuerySettings, TopologySettings
from daemon.topology import (
    Topology,
    add_from_entities,
    add_from_settings,
    add_request_edges,
    infer_owner,
    link_selected_pods,
    refresh_request_edges,
    selector_matches,
)


def test_selector_matching_is_equality_based_and_empty_selects_nothing() -> None:
    assert selector_matches({"app": "cart"}, {"app": "cart", "tier": "web"})
    assert not selector_matches({"app": "cart"}, {"app": "catalog"})
    assert not selector_matches({}, {"app": "cart"})


def test_owner_is_inferred_from_a_deployment_pod_name() -> None:
    assert infer_owner("pod/shop/cart-7d9f8c6b5-x2k4q") == ("replicaset/shop/cart-7d9f8c6b5", "deployment/shop/cart")
    assert infer_owner("pod/shop/redis-0") is None


def test_anomaly_entities_link_pod_workload_and_node() -> None:
    topo = Topology()
    add_from_entities(
        topo,
        {"pod": "pod/shop/cart-1", "deployment": "deployment/shop/cart", "node": "node//w1"},
    )
    assert topo.workload_of("pod/shop/cart-1") == "deployment/shop/cart"
    assert topo.node_of("pod/shop/cart-1") == "node//w1"
    add_from_entities(topo, {"pod": "pod/shop/web-7d9f8c6b5-x2k4q"})
    assert topo.workload_of("pod/shop/web-7d9f8c6b5-x2k4q") == "deployment/shop/web"


def test_settings_declare_services_workloads_selectors_and_dependencies() -> None:
    settings = TopologySettings.model_validate(
        {
            "services": [
                {"name": "frontend", "namespace": "shop", "workload": "deployment/frontend", "depends_on": ["cart"]},
                {"name": "cart", "namespace": "shop", "selector": {"app": "cart"}, "depends_on": ["data/redis"]},
            ]
        }
    )
    topo = Topology()
    topo.add_entity("pod/shop/cart-1", labels={"app": "cart"})
    topo.add_entity("pod/shop/other", labels={"app": "other"})
    topo.add_relation("deployment/shop/cart", "owns", "pod/shop/cart-1")
    add_from_settings(topo, settings)
    assert topo.related("service/shop/cart", "selects") == ["pod/shop/cart-1"]
    assert topo.related("service/shop/cart", "depends_on") == ["service/data/redis"]
    assert topo.dependencies("deployment/shop/frontend") == {"deployment/shop/cart"}
    assert link_selected_pods(topo) == 0  # idempotent


def test_invalid_service_settings_say_what_was_expected() -> None:
    with pytest.raises(ValidationError, match="expected kind/name"):
        TopologySettings.model_validate({"services": [{"name": "cart", "workload": "pod/cart"}]})
    with pytest.raises(ValidationError, match="repeated"):
        TopologySettings.model_validate({"services": [{"name": "cart"}, {"name": "cart"}]})


def test_request_metrics_add_dependencies_above_the_rate_floor() -> None:
    query = RequestEdgeQuerySettings(promql="sum by (a) (rate(istio_requests_total[5m]))", min_rate=0.1)
    topo = Topology()
    samples = [
        ({"source_workload": "web", "source_workload_namespace": "shop",
          "destination_workload": "cart", "destination_workload_namespace": "shop"}, 5.0),
        ({"source_workload": "web", "source_workload_namespace": "shop",
          "destination_workload": "ads", "destination_workload_namespace": "shop"}, 0.05),
        ({"source_workload": "unknown", "destination_workload": "cart"}, 9.0),
    ]  # fmt: skip
    assert add_request_edges(topo, query, samples) == 1
    assert topo.related("deployment/shop/web", "depends_on") == ["deployment/shop/cart"]
    assert add_request_edges(topo, query, samples) == 0


def test_refresh_runs_each_configured_query() -> None:
    settings = TopologySettings.model_validate(
        {"request_edges": [{"promql": "sum by (source_workload, destination_workload) (rate(x[5m]))", "kind": "service",
                            "source_namespace_label": "ns", "target_namespace_label": "ns"}]}
    )  # fmt: skip
    asked: list[str] = []

    def query(promql: str) -> list[tuple[dict[str, str], float]]:
        asked.append(promql)
        return [({"source_workload": "web", "destination_workload": "cart", "ns": "shop"}, 2.0)]

    topo = Topology()
    assert refresh_request_edges(topo, settings, query) == 1
    assert asked == [settings.request_edges[0].promql]
    assert topo.related("service/shop/web", "depends_on") == ["service/shop/cart"]
