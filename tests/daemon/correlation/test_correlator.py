from __future__ import annotations

from datetime import timedelta

import pytest

from daemon.correlation import InvalidTransition, ProblemCorrelator, UnknownProblem
from daemon.settings.correlation import CorrelationSettings
from tests.daemon.correlation.factory import T0, TICK, anomaly, node_anomaly, shop

SETTINGS = CorrelationSettings(
    group_window=timedelta(minutes=5), quiet_period=timedelta(minutes=2), reopen_window=timedelta(minutes=30)
)


def correlator() -> ProblemCorrelator:
    return ProblemCorrelator(shop(), SETTINGS, tick=TICK)


def kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.kind for e in events]


def test_a_cascade_becomes_one_problem_rooted_at_the_callee() -> None:
    c = correlator()
    opened = c.observe([anomaly("redis-0", T0, 0.99, "errors")], T0)
    assert kinds(opened) == ["opened"]
    assert opened[0].ts == T0  # opened in the tick of the first anomaly
    later = c.observe(
        [
            anomaly("cart-def34-ccccc", T0 + TICK, 0.9, "errors"),
            anomaly("frontend-abc12-aaaaa", T0 + 2 * TICK, 0.8, "latency"),
        ],
        T0 + 2 * TICK,
    )
    assert kinds(later) == ["updated"]
    (problem,) = c.problems()
    assert problem.candidates[0].entity == "statefulset/shop/redis"
    assert problem.candidates[0].confidence > 0.5
    assert "earliest onset" in problem.candidates[0].reasons
    assert "no anomalous dependency upstream of it" in problem.candidates[0].reasons
    snap = problem.snapshot()
    assert snap.anomaly_count == 3
    assert snap.severity == "critical"  # three units affected
    assert snap.signature == "statefulset:errors"
    assert "deployment/shop/frontend" in snap.entities


def test_unrelated_anomalies_at_the_same_time_stay_apart() -> None:
    c = correlator()
    c.observe([anomaly("redis-0", T0), anomaly("checkout-jkl78-fffff", T0)], T0)
    assert len(c.problems()) == 2  # checkout shares a node with no one anomalous and calls nothing anomalous


def test_far_apart_in_time_is_a_new_problem() -> None:
    c = correlator()
    c.observe([anomaly("redis-0", T0)], T0)
    late = T0 + 6 * 60
    events = c.observe([anomaly("cart-def34-ccccc", late, symptom="errors")], late)
    assert "opened" in kinds(events)


def test_duplicates_are_dropped() -> None:
    c = correlator()
    a = anomaly("redis-0", T0)
    c.observe([a, a], T0)
    assert kinds(c.observe([a], T0 + TICK)) == []
    assert c.problems()[0].snapshot().anomaly_count == 1


def test_hysteresis_resolve_only_after_the_quiet_period_then_close() -> None:
    c = correlator()
    c.observe([anomaly("redis-0", T0)], T0)
    # flapping: anomalies keep coming within the quiet period, so no resolve
    for k in range(1, 6):
        assert "resolved" not in kinds(c.observe([anomaly("redis-0", T0 + k * 60)], T0 + k * 60))
    last = T0 + 5 * 60
    assert kinds(c.observe([], last + 119)) == []
    resolved = c.observe([], last + 120)
    assert kinds(resolved) == ["resolved"]
    assert resolved[0].problem.resolved_at == last + 120
    closed = c.observe([], last + 120 + 30 * 60 + 1)
    assert kinds(closed) == ["closed"]
    assert c.problems() == []


def test_recurrence_within_the_window_reopens_the_same_problem() -> None:
    c = correlator()
    first = c.observe([anomaly("redis-0", T0)], T0)[0].problem
    c.observe([], T0 + 120)
    again = T0 + 600
    events = c.observe([anomaly("redis-0", again)], again)
    assert kinds(events) == ["reopened"]
    assert events[0].problem.id == first.id
    assert events[0].problem.fingerprint == first.fingerprint
    assert events[0].problem.reopen_count == 1
    assert events[0].problem.status == "open"
    assert events[0].problem.resolved_at is None


def test_a_node_fault_after_a_workload_problem_on_it_is_a_new_problem_not_a_recurrence() -> None:
    c = correlator()
    first = c.observe([anomaly("checkout-jkl78-fffff", T0)], T0)[0].problem
    c.observe([], T0 + 120)  # resolved after the quiet period
    later = T0 + 300
    (event,) = c.observe([node_anomaly("worker-1", later)], later)
    assert event.kind == "opened" and event.problem.id != first.id
    assert event.problem.root_causes[0].entity == "node//worker-1"


def test_recurrence_after_the_window_is_a_new_problem_linked_to_the_old() -> None:
    c = correlator()
    first = c.observe([anomaly("redis-0", T0)], T0)[0].problem
    c.observe([], T0 + 120)
    c.observe([], T0 + 120 + 30 * 60 + 1)  # closed
    again = T0 + 3 * 3600
    (event,) = c.observe([anomaly("redis-0", again)], again)
    assert event.kind == "opened"
    assert event.problem.id != first.id
    assert event.problem.fingerprint != first.fingerprint
    assert event.problem.linked_to == first.id


def test_problems_sharing_a_root_cause_are_merged() -> None:
    topo = shop()
    for pod in ("ads-mno90-ggggg", "ads-mno90-hhhhh"):  # worker-1 now runs six pods
        topo.add_relation("deployment/shop/ads", "owns", f"pod/shop/{pod}")
        topo.add_relation(f"pod/shop/{pod}", "runs_on", "node//worker-1")
    c = ProblemCorrelator(topo, SETTINGS, tick=TICK)
    c.observe([anomaly("checkout-jkl78-fffff", T0)], T0)
    c.observe([anomaly("catalog-ghi56-eeeee", T0 + TICK)], T0 + TICK)
    assert len(c.problems()) == 2  # unrelated workloads, only two of six pods on worker-1 anomalous
    events = c.observe([anomaly("frontend-abc12-aaaaa", T0 + 2 * TICK)], T0 + 2 * TICK)
    # half of worker-1 is anomalous now, across three workloads: the node is their shared cause
    (merged,) = [e for e in events if e.kind == "merged"]
    (problem,) = c.problems()
    assert merged.details["into"] == problem.id
    assert problem.snapshot().anomaly_count == 3
    assert problem.candidates[0].entity == "node//worker-1"
    assert c.problem_of(problem.members[0].key) == problem.id


def test_a_failing_node_links_the_workloads_on_it() -> None:
    c = correlator()
    batch = [
        anomaly("frontend-abc12-aaaaa", T0, 0.9, node="worker-1"),
        anomaly("cart-def34-ccccc", T0, 0.9, node="worker-1"),
        anomaly("catalog-ghi56-eeeee", T0 + TICK, 0.9, node="worker-1"),
        anomaly("checkout-jkl78-fffff", T0 + TICK, 0.9, node="worker-1"),
    ]
    c.observe(batch, T0 + TICK)
    (problem,) = c.problems()
    assert problem.candidates[0].entity == "node//worker-1"


def test_recent_change_breaks_a_tie() -> None:
    topo = shop()
    topo.record_change("deployment/shop/catalog", T0 - 60, "new ReplicaSet catalog-ghi56")
    c = ProblemCorrelator(topo, SETTINGS, tick=TICK)
    c.observe(
        [anomaly("frontend-abc12-bbbbb", T0, 0.9), anomaly("catalog-ghi56-eeeee", T0, 0.9)],
        T0,
    )
    (problem,) = c.problems()
    top = problem.candidates[0]
    assert top.entity == "deployment/shop/catalog"
    assert "recent change: new ReplicaSet catalog-ghi56" in top.reasons


def test_lifecycle_calls_from_remediation_and_people() -> None:
    c = correlator()
    pid = c.observe([anomaly("redis-0", T0)], T0)[0].problem.id
    event = c.mark_mitigating(pid, T0 + 1, "rollout-restart", {"target": "statefulset/shop/redis"})
    assert event.kind == "mitigating"
    assert event.problem.status == "mitigating"
    assert event.details["action"] == "rollout-restart"
    assert c.record_action(pid, T0 + 2, "restart done").kind == "action"
    assert c.record_verification(pid, T0 + 3, True, "p99 back to normal").details == {"recovered": True}
    assert c.escalate(pid, T0 + 4, "runbook not allowed in prod").kind == "escalated"
    assert c.acknowledge(pid, T0 + 5, "alice").problem.status == "mitigating"
    # a mitigating problem resolves by the quiet period like any other
    assert kinds(c.observe([], T0 + 120)) == ["resolved"]
    with pytest.raises(InvalidTransition):
        c.resolve(pid, T0 + 130, "bob")
    with pytest.raises(UnknownProblem):
        c.mark_mitigating("p-nope", T0, "x")


def test_manual_resolve_then_recurrence_reopens() -> None:
    c = correlator()
    pid = c.observe([anomaly("redis-0", T0)], T0)[0].problem.id
    assert c.resolve(pid, T0 + 30, "bob", "fixed by hand").message == "resolved by bob: fixed by hand"
    assert kinds(c.observe([anomaly("redis-0", T0 + 60)], T0 + 60)) == ["reopened"]


def test_open_min_score_keeps_weak_anomalies_from_opening_problems() -> None:
    c = ProblemCorrelator(shop(), SETTINGS.model_copy(update={"open_min_score": 0.8}), tick=TICK)
    assert c.observe([anomaly("redis-0", T0, 0.5)], T0) == []
    c.observe([anomaly("redis-0", T0 + TICK, 0.9, query="errors")], T0 + TICK)
    events = c.observe([anomaly("cart-def34-ccccc", T0 + 2 * TICK, 0.5)], T0 + 2 * TICK)
    assert kinds(events) == ["updated"]  # weak, but it joins an existing problem


def test_an_alert_storm_in_one_tick_lands_every_anomaly_in_exactly_one_problem() -> None:
    from daemon.correlation import anomaly_key
    from daemon.correlation.scenario import generate_scenario

    # regression: chains of merges within one tick (B into A, A into D) once lost track of the survivors
    scenario = generate_scenario(services=1000, incidents=40, background=100, seed=5)
    c = ProblemCorrelator(scenario.build_topology(), tick=TICK)
    events = c.observe(scenario.anomalies, max(a.ts for a in scenario.anomalies))
    live = {p.id for p in c.problems()}
    assert {c.problem_of(anomaly_key(a)) for a in scenario.anomalies} == live
    assert sum(p.snapshot().anomaly_count for p in c.problems()) == len(scenario.anomalies)
    merged = [e for e in events if e.kind == "merged"]
    assert merged and all(e.details["into"] in live for e in merged)


def test_a_node_anomaly_links_the_pods_on_it_and_ranks_the_node_first() -> None:
    c = correlator()
    c.observe([node_anomaly("worker-1", T0, 0.99)], T0)
    events = c.observe(
        [anomaly("checkout-jkl78-fffff", T0 + TICK, 0.8), anomaly("catalog-ghi56-eeeee", T0 + TICK, 0.8)],
        T0 + TICK,
    )
    assert [e.kind for e in events] == ["updated"]
    (problem,) = c.problems()
    assert problem.candidates[0].entity == "node//worker-1"
    assert problem.candidates[0].reasons[:2] == ["explains 3 of 3 anomalies", "earliest onset"]
