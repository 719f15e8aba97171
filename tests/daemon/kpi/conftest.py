from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.kpi.scenario import DAY, WEEK, Scenario

S = 1_780_000_000.0  # start of the KPI window (2026-05-28); the window is [S, S + 7 d)
U = S + WEEK


def build_week(tmp: Path) -> Scenario:
    """Five problems in the window and one the week before; the expected KPIs are worked out in test_compute.py."""
    sc = Scenario.create(tmp)
    # F (previous week): a leak fixed by a verified restart
    f = sc.open("cart2", "memory_leak", S - 3 * DAY - 60, S - 3 * DAY)
    sc.act(f, S - 3 * DAY + 100, "rollout-restart", "verified", 0.85)
    sc.advance(S - 3 * DAY + 600)
    # A: leak, restart verified, resolved by the quiet period — deflected and auto-resolved
    a = sc.open("cart", "memory_leak", S + 1000, S + 1060)
    sc.act(a, S + 1200, "rollout-restart", "verified", 0.9)
    sc.advance(S + 1600)
    # B: leak, restart failed, escalated, resolved by a person
    b = sc.open("api", "memory_leak", S + 5000, S + 5030)
    sc.act(b, S + 5100, "rollout-restart", "failed", 0.7)
    sc.escalate(b, S + 5101, "verification_failed", 0.7, "rollout-restart")
    sc.resolve_by(b, S + 6830, "alice")
    # C: latency, a guard refused, escalated and acknowledged, then recovered by itself
    c = sc.open("web", "latency", S + 9000, S + 9120)
    sc.escalate(c, S + 9130, "guard:max_unavailable", 0.95, "scale")
    sc.acknowledge(c, S + 9200, "bob")
    sc.advance(S + 9920)
    # D: latency that went away with nobody doing anything
    sc.open("db", "latency", S + 12000, S + 12000)
    sc.advance(S + 12400)
    # E: disk filling, not trusted enough to act: escalated, still open
    e = sc.open("store", "disk_full", S + 20000, S + 20030)
    sc.escalate(e, S + 20040, "low_confidence", 0.4, "expand-volume")
    return sc


@pytest.fixture
def week(tmp_path: Path) -> Scenario:
    return build_week(tmp_path)
