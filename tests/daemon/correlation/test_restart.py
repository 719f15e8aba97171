"""The correlator's state survives a restart through the store (real SQLite in a temp dir)."""

from __future__ import annotations

import random
from pathlib import Path

from daemon.correlation import ProblemCorrelator
from daemon.correlation.scenario import generate_scenario
from daemon.problems import SqlProblemRepository
from daemon.store import Store
from tests.daemon.correlation.factory import T0, TICK, anomaly, shop
from tests.daemon.correlation.test_correlator import SETTINGS


def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'aiopsd.db'}")
    s.migrate()
    return s


def test_migration_creates_the_problem_tables(tmp_path: Path) -> None:
    assert {"problems", "problem_members", "problem_events"} <= set(store(tmp_path).tables())


def test_restart_loads_open_problems_and_drops_redelivered_anomalies(tmp_path: Path) -> None:
    s = store(tmp_path)
    first = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(s), tick=TICK)
    a, b = anomaly("redis-0", T0), anomaly("cart-def34-ccccc", T0 + TICK)
    (opened,) = first.observe([a], T0)
    first.observe([b], T0 + TICK)

    second = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(s), tick=TICK)
    (problem,) = second.problems()
    assert problem.id == opened.problem.id
    assert problem.fingerprint == opened.problem.fingerprint
    assert problem.snapshot().anomaly_count == 2
    assert second.observe([a, b], T0 + 2 * TICK) == []  # the same detections again: nothing new
    events = second.observe([anomaly("frontend-abc12-aaaaa", T0 + 2 * TICK)], T0 + 2 * TICK)
    assert [e.kind for e in events] == ["updated"]
    assert [e.problem.id for e in events] == [opened.problem.id]


def test_a_new_problem_after_restart_gets_a_new_fingerprint_and_link(tmp_path: Path) -> None:
    s = store(tmp_path)
    first = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(s), tick=TICK)
    old = first.observe([anomaly("redis-0", T0)], T0)[0].problem
    first.observe([], T0 + 120)
    first.observe([], T0 + 120 + 31 * 60)  # closed
    second = ProblemCorrelator(shop(), SETTINGS, SqlProblemRepository(s), tick=TICK)
    assert second.problems() == []
    new = second.observe([anomaly("redis-0", T0 + 3 * 3600)], T0 + 3 * 3600)[0].problem
    assert new.linked_to == old.id
    assert new.fingerprint != old.fingerprint
    repo = SqlProblemRepository(s)
    assert [p.id for p in repo.list_snapshots()] == [new.id, old.id]
    assert [e.kind for e in repo.timeline(old.id)] == ["opened", "resolved", "closed"]


def test_restarts_at_random_points_give_the_same_problems_as_one_run(tmp_path: Path) -> None:
    scenario = generate_scenario(services=30, incidents=3, background=3, seed=7)
    ticks: dict[float, list] = {}  # type: ignore[type-arg]
    for a in scenario.anomalies:
        ticks.setdefault((a.ts // TICK + 1) * TICK, []).append(a)
    times = sorted(ticks)
    times += [times[-1] + k * TICK for k in range(1, 30)]

    def run(restarts: set[int], path: Path) -> list[tuple[str, str, int]]:
        s = store(path)
        c = ProblemCorrelator(scenario.build_topology(), SETTINGS, SqlProblemRepository(s), tick=TICK)
        for i, now in enumerate(times):
            if i in restarts:
                c = ProblemCorrelator(scenario.build_topology(), SETTINGS, SqlProblemRepository(s), tick=TICK)
            c.observe(ticks.get(now, []), now)
        snaps = SqlProblemRepository(s).list_snapshots(limit=1000)
        return sorted((p.fingerprint, p.status, p.anomaly_count) for p in snaps)

    baseline = run(set(), tmp_path / "a")
    restarted = run(set(random.Random(1).sample(range(len(times)), 8)), tmp_path / "b")
    assert restarted == baseline
    assert len({f for f, _, _ in baseline}) == len(baseline)  # no duplicate fingerprints


def test_a_restart_without_a_topology_rebuilds_relations_from_stored_anomalies(tmp_path: Path) -> None:
    from daemon.topology import Topology

    s = store(tmp_path)
    first = ProblemCorrelator(Topology(), SETTINGS, SqlProblemRepository(s), tick=TICK)
    first.observe([anomaly("cart-def34-ccccc", T0, workload="deployment/cart", node="worker-1")], T0)
    topology = Topology()
    second = ProblemCorrelator(topology, SETTINGS, SqlProblemRepository(s), tick=TICK)
    assert topology.workload_of("pod/shop/cart-def34-ccccc") == "deployment/shop/cart"
    # another pod of the same deployment joins the loaded problem
    events = second.observe([anomaly("cart-def34-ddddd", T0 + TICK, workload="deployment/cart")], T0 + TICK)
    assert [e.kind for e in events] == ["updated"]
