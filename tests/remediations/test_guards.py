"""Each guard stopping what it should, with a fake cluster, journal and clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remediations.errors import PolicyError
from remediations.guards import GuardEvaluator, GuardRequest, overall
from remediations.journal import InMemoryJournal
from remediations.model import ActionRecord, ActionStatus, Impact, Plan, Target, Verdict
from remediations.policy import GuardPolicy, load_policy
from tests.remediations.fakes import FakeClock, FakeCluster

TARGET = Target.parse("deployment/shop/cart")
# 2027-01-13 is a Wednesday
WEDNESDAY_NOON = datetime(2027, 1, 13, 12, 0, tzinfo=UTC).timestamp()
BASE: dict[str, Any] = {"allow": [{"namespaces": ["shop"], "selector": {"tier": "web"}}], "kill_switch": None}


def request(plan_impact: Impact | None = None, runbook: str = "scale", **kw: Any) -> GuardRequest:
    plan = Plan(
        runbook=runbook,
        target=kw.pop("target", TARGET),
        summary="s",
        labels=kw.pop("labels", {"tier": "web"}),
        impact=plan_impact or Impact(),
    )
    return GuardRequest(
        action_id="new",
        runbook=runbook,
        disruptive=kw.pop("disruptive", False),
        target=plan.target,
        plan=plan,
        by_daemon=kw.pop("by_daemon", True),
        **kw,
    )


def evaluate(
    policy: dict[str, Any],
    req: GuardRequest,
    journal: InMemoryJournal | None = None,
    cluster: FakeCluster | None = None,
    now: float = WEDNESDAY_NOON,
) -> dict[str, Any]:
    evaluator = GuardEvaluator(
        GuardPolicy.model_validate({**BASE, **policy}),
        cluster or FakeCluster(),
        journal or InMemoryJournal(),
        FakeClock(now),
    )
    decisions = evaluator.evaluate(req)
    return {"overall": overall(decisions), **{d.guard: d for d in decisions}}


def past_action(
    ago: float,
    status: ActionStatus = ActionStatus.verified,
    target: Target = TARGET,
    runbook: str = "scale",
    now: float = WEDNESDAY_NOON,
) -> ActionRecord:
    return ActionRecord(
        id=f"old-{ago}-{target.name}-{status}",
        idempotency_key=f"k-{ago}-{target.name}-{status}",
        runbook=runbook,
        target=target,
        actor="daemon:a",
        status=status,
        created_at=now - ago,
        updated_at=now - ago,
    )


def test_all_pass_inside_the_allowlist() -> None:
    result = evaluate({}, request(Impact(scope="replicas", touched=1, total=4, healthy_after=3)))
    assert result["overall"] is Verdict.allow


def test_allowlist_selector_mismatch_is_dry_run_or_deny() -> None:
    assert evaluate({}, request(labels={"tier": "db"}))["allowlist"].verdict is Verdict.dry_run
    assert evaluate({"dry_run_outside_allowlist": False}, request(labels={"tier": "db"}))["overall"] is Verdict.deny
    other_ns = request(target=Target.parse("deployment/payments/api"))
    assert evaluate({}, other_ns)["allowlist"].verdict is Verdict.dry_run


def test_approval_required_for_the_daemon_but_not_for_an_approving_person() -> None:
    policy = {"approval_required": ["scale"]}
    assert evaluate(policy, request())["overall"] is Verdict.needs_approval
    assert evaluate(policy, request(by_daemon=False, approved=True))["approval"].verdict is Verdict.allow


def test_blast_radius_share_and_minimum_healthy() -> None:
    policy = {"blast_radius": {"max_replica_share": 0.25, "min_healthy_replicas": 2, "max_node_share": 0.34}}
    assert (
        evaluate(policy, request(Impact(scope="replicas", touched=2, total=4, healthy_after=2)))["blast_radius"].verdict
        is Verdict.deny
    )
    assert evaluate(policy, request(Impact(scope="replicas", touched=1, total=4, healthy_after=1)))[
        "blast_radius"
    ].reason.startswith("only 1 replicas would stay healthy")
    nodes = request(Impact(scope="nodes", touched=1, total=2, healthy_after=1), target=Target.parse("node//n1"))
    assert "1/2 nodes (50%) exceeds 34%" in evaluate(policy, nodes)["blast_radius"].reason


def test_cooldown_and_rate_limits_count_only_real_actions() -> None:
    journal = InMemoryJournal()
    journal.record(past_action(120))
    assert evaluate({"cooldowns": {"per_target": "5m"}}, request(), journal)["cooldown"].verdict is Verdict.deny
    assert evaluate({"cooldowns": {"per_target": "1m"}}, request(), journal)["cooldown"].verdict is Verdict.allow

    dry = InMemoryJournal()
    for ago in (10, 20, 30):
        dry.record(past_action(ago, ActionStatus.dry_run))
    limits = {"cooldowns": {"per_target": 0}, "rate_limits": {"per_target": {"max_actions": 1, "per": "1h"}}}
    assert evaluate(limits, request(), dry)["rate_limit"].verdict is Verdict.allow

    busy = InMemoryJournal()
    for ago, name in ((100, "a"), (200, "b"), (300, "c")):
        busy.record(past_action(ago, target=Target.parse(f"deployment/shop/{name}")))
    global_limit = {"cooldowns": {"per_target": 0}, "rate_limits": {"global": {"max_actions": 3, "per": "1h"}}}
    assert "per global: 3 action(s)" in evaluate(global_limit, request(), busy)["rate_limit"].reason


def test_one_action_per_target_at_a_time() -> None:
    journal = InMemoryJournal()
    journal.record(past_action(5, ActionStatus.running))
    result = evaluate({"cooldowns": {"per_target": 0}}, request(), journal)
    assert result["one_per_target"].verdict is Verdict.deny
    other = request(target=Target.parse("deployment/shop/other"))
    assert evaluate({"cooldowns": {"per_target": 0}}, other, journal)["one_per_target"].verdict is Verdict.allow


def test_change_freeze_and_maintenance_windows() -> None:
    freeze = {
        "change_freezes": [{"start": "2027-01-10T00:00:00Z", "end": "2027-01-20T00:00:00Z", "reason": "year-end"}]
    }
    assert "year-end" in evaluate(freeze, request())["change_freeze"].reason
    assert evaluate(freeze, request())["overall"] is Verdict.deny

    windows = {"maintenance_windows": [{"days": ["sat", "sun"], "start": "02:00", "end": "06:00"}]}
    assert evaluate(windows, request(disruptive=True))["maintenance_window"].verdict is Verdict.deny
    assert evaluate(windows, request(disruptive=False))["maintenance_window"].verdict is Verdict.allow
    saturday_3am = datetime(2027, 1, 16, 3, 0, tzinfo=UTC).timestamp()
    assert evaluate(windows, request(disruptive=True), now=saturday_3am)["maintenance_window"].verdict is Verdict.allow


def test_storm_breaker_pauses_the_daemon_only() -> None:
    policy = {"storm_breaker": {"max_open_problems": 5}}
    assert evaluate(policy, request(open_problems=9))["storm_breaker"].verdict is Verdict.deny
    assert evaluate(policy, request(open_problems=3))["storm_breaker"].verdict is Verdict.allow
    assert evaluate(policy, request(open_problems=9, by_daemon=False))["storm_breaker"].verdict is Verdict.allow


def test_kill_switch_read_at_decision_time() -> None:
    cluster = FakeCluster()
    policy = {"kill_switch": {"namespace": "aiopsd-system", "name": "ks"}}
    assert evaluate(policy, request(), cluster=cluster)["kill_switch"].verdict is Verdict.allow
    cluster.config_maps["aiopsd-system/ks"] = {"automation": "Paused"}
    assert evaluate(policy, request(), cluster=cluster)["kill_switch"].verdict is Verdict.deny
    cluster.config_maps["aiopsd-system/ks"] = {"automation": "on"}
    assert evaluate(policy, request(), cluster=cluster)["kill_switch"].verdict is Verdict.allow
    cluster.objects[TARGET.key] = {"metadata": {"annotations": {"aiopsd.io/automation": "off"}}}
    assert "by its annotation" in evaluate(policy, request(), cluster=cluster)["kill_switch"].reason
    other = request(target=Target.parse("deployment/shop/other"))
    assert evaluate(policy, other, cluster=cluster)["kill_switch"].verdict is Verdict.allow


def test_policy_file_errors_name_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("allow:\n  - namespaces: [shop]\n    selectr: {a: b}\ncooldowns: {per_target: soon}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    text = str(info.value)
    assert f"{path}: allow.0.selectr: unknown key" in text
    assert "cooldowns.per_target: expected a duration" in text

    path.write_text("approval_required: [nuke]\n")
    with pytest.raises(PolicyError, match=r"unknown runbook\(s\) \['nuke'\]"):
        load_policy(path, ["scale"])


def test_example_policy_loads() -> None:
    from remediations.runbooks import builtin_registry

    example = Path(__file__).resolve().parents[2] / "examples" / "policy.yaml"
    policy = load_policy(example, builtin_registry().names())
    assert policy.allow and policy.kill_switch is not None
