"""Small builders for anomalies and a shop topology used by the correlation tests."""

from __future__ import annotations

from daemon.domain import Anomaly
from daemon.topology import Topology

T0 = 1_700_000_000.0
TICK = 15.0


def shop() -> Topology:
    """frontend → cart → redis, frontend → catalog; pods spread over two nodes; checkout calls nothing."""
    topo = Topology()
    pods = {
        "frontend": [("frontend-abc12-aaaaa", "worker-1"), ("frontend-abc12-bbbbb", "worker-2")],
        "cart": [("cart-def34-ccccc", "worker-1"), ("cart-def34-ddddd", "worker-2")],
        "redis": [("redis-0", "worker-2")],
        "catalog": [("catalog-ghi56-eeeee", "worker-1")],
        "checkout": [("checkout-jkl78-fffff", "worker-1")],
    }
    for name, members in pods.items():
        kind = "statefulset" if name == "redis" else "deployment"
        workload = f"{kind}/shop/{name}"
        for pod, node in members:
            if kind == "deployment":
                rs = f"replicaset/shop/{pod.rsplit('-', 1)[0]}"
                topo.add_relation(workload, "owns", rs)
                topo.add_relation(rs, "owns", f"pod/shop/{pod}")
            else:
                topo.add_relation(workload, "owns", f"pod/shop/{pod}")
            topo.add_relation(f"pod/shop/{pod}", "runs_on", f"node//{node}")
            topo.add_relation(f"service/shop/{name}", "selects", f"pod/shop/{pod}")
    topo.add_relation("service/shop/frontend", "depends_on", "service/shop/cart")
    topo.add_relation("service/shop/cart", "depends_on", "service/shop/redis")
    topo.add_relation("service/shop/frontend", "depends_on", "service/shop/catalog")
    return topo


def anomaly(
    pod: str,
    ts: float,
    score: float = 0.95,
    symptom: str = "latency",
    workload: str | None = None,
    node: str | None = None,
    query: str = "latency_p99",
) -> Anomaly:
    entities = {"pod": f"pod/shop/{pod}", "namespace": "namespace//shop"}
    if workload:
        kind, name = workload.split("/")
        entities[kind] = f"{kind}/shop/{name}"
    if node:
        entities["node"] = f"node//{node}"
    return Anomaly(
        source="prom",
        query=query,
        series_key=f"{query}:{pod}",
        labels={"pod": pod, "namespace": "shop"},
        entities=entities,
        ts=ts,
        value=1.0,
        score=score,
        detector="robust",
        symptom=symptom,
    )


def node_anomaly(node: str, ts: float, score: float = 0.9) -> Anomaly:
    return Anomaly(
        source="prom",
        query="node_pressure",
        series_key=f"node:{node}",
        labels={"node": node},
        entities={"node": f"node//{node}"},
        ts=ts,
        value=1.0,
        score=score,
        detector="robust",
        symptom="memory_pressure",
    )
