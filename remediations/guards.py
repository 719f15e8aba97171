"""Guards: each looks at one aspect of a proposed action and says allow, deny, dry-run or needs-approval, with the
reason. Every decision is kept with the action and in the audit log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from remediations.cluster import ClusterApi
from remediations.errors import RemediationError, TargetNotFound
from remediations.journal import ActionJournal
from remediations.model import ActionRecord, ActionStatus, GuardDecision, Plan, Target, Verdict
from remediations.policy import GuardPolicy

logger = logging.getLogger(__name__)

# statuses that count as "acted": dry runs and refusals never touched anything
_ACTED = frozenset(
    {ActionStatus.running, ActionStatus.verifying, ActionStatus.verified, ActionStatus.rolled_back, ActionStatus.failed}
)


@dataclass(frozen=True)
class GuardRequest:
    action_id: str
    runbook: str
    disruptive: bool
    target: Target
    plan: Plan
    by_daemon: bool
    approved: bool = False
    open_problems: int | None = None


def overall(decisions: list[GuardDecision]) -> Verdict:
    verdicts = {d.verdict for d in decisions}
    if Verdict.deny in verdicts:
        return Verdict.deny
    if Verdict.needs_approval in verdicts:
        return Verdict.needs_approval
    if Verdict.dry_run in verdicts:
        return Verdict.dry_run
    return Verdict.allow


class GuardEvaluator:
    """Evaluates every guard of a policy; all are evaluated (not just up to the first no) so people see them all."""

    def __init__(
        self, policy: GuardPolicy, cluster: ClusterApi | None, journal: ActionJournal, clock: Callable[[], float]
    ) -> None:
        self.policy = policy
        self.cluster = cluster
        self.journal = journal
        self.clock = clock

    def evaluate(self, request: GuardRequest) -> list[GuardDecision]:
        now = self.clock()
        window = max(self._longest_window(), 1.0)
        history = [r for r in self.journal.since(now - window) if r.id != request.action_id]
        active = [r for r in self.journal.unfinished() if r.id != request.action_id]
        return [
            self._kill_switch(request.target),
            self._freeze(now),
            self._maintenance(request, now),
            self._storm(request),
            self._allowlist(request),
            self._approval(request),
            self._blast_radius(request),
            self._one_at_a_time(request, active),
            self._cooldown(request, history, now),
            self._rate_limits(request, history, now),
        ]

    def _longest_window(self) -> float:
        limits = self.policy.rate_limits
        cool = self.policy.cooldowns
        spans = [lim.per for lim in (limits.per_target, limits.per_runbook, limits.global_) if lim is not None]
        return max([*spans, cool.per_target, cool.per_runbook, cool.global_])

    def _kill_switch(self, target: Target) -> GuardDecision:
        switch = self.policy.kill_switch
        name = "kill_switch"
        if switch is None:
            return GuardDecision(guard=name, verdict=Verdict.allow, reason="no kill switch configured")
        where = f"ConfigMap {switch.namespace}/{switch.name} key {switch.key!r}"
        if self.cluster is None:
            return GuardDecision(guard=name, verdict=Verdict.allow, reason=f"no cluster to read {where} (dry run)")
        try:
            data = self.cluster.read_config_map(switch.namespace, switch.name)
        except RemediationError as exc:
            # fail safe: when the switch cannot be read, nobody can be sure automation is allowed
            return GuardDecision(guard=name, verdict=Verdict.deny, reason=f"cannot read {where}: {exc}")
        value = (data or {}).get(switch.key)
        if value is not None and value.strip().lower() in switch.paused_values:
            return GuardDecision(guard=name, verdict=Verdict.deny, reason=f"automation paused by {where}={value!r}")
        annotated = self._target_annotation(target, switch.target_annotation)
        if annotated is not None and annotated.strip().lower() in switch.paused_values:
            reason = f"automation paused for {target} by its annotation {switch.target_annotation}={annotated!r}"
            return GuardDecision(guard=name, verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard=name, verdict=Verdict.allow, reason=f"{where} is {value!r}: not paused")

    def _target_annotation(self, target: Target, annotation: str | None) -> str | None:
        if annotation is None or self.cluster is None:
            return None
        try:
            obj = self.cluster.get(target)
        except TargetNotFound:
            return None
        value = (obj.get("metadata", {}).get("annotations") or {}).get(annotation)
        return str(value) if value is not None else None

    def _freeze(self, now: float) -> GuardDecision:
        freeze = self.policy.freeze_at(now)
        if freeze is not None:
            why = f" ({freeze.reason})" if freeze.reason else ""
            reason = f"change freeze {freeze.start.isoformat()} – {freeze.end.isoformat()}{why}"
            return GuardDecision(guard="change_freeze", verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard="change_freeze", verdict=Verdict.allow, reason="no change freeze now")

    def _maintenance(self, request: GuardRequest, now: float) -> GuardDecision:
        name = "maintenance_window"
        windows = self.policy.maintenance_windows
        if not request.disruptive or not windows:
            why = "not a disruptive runbook" if not request.disruptive else "no maintenance windows declared"
            return GuardDecision(guard=name, verdict=Verdict.allow, reason=why)
        if any(w.contains(now) for w in windows):
            return GuardDecision(guard=name, verdict=Verdict.allow, reason="inside a maintenance window")
        return GuardDecision(
            guard=name,
            verdict=Verdict.deny,
            reason=f"{request.runbook} is disruptive: only inside a maintenance window",
        )

    def _storm(self, request: GuardRequest) -> GuardDecision:
        name = "storm_breaker"
        limit = self.policy.storm_breaker.max_open_problems
        if not request.by_daemon:
            return GuardDecision(guard=name, verdict=Verdict.allow, reason="a person runs it")
        if request.open_problems is not None and request.open_problems > limit:
            reason = f"{request.open_problems} open problems > {limit}: automation paused, escalate to a human"
            return GuardDecision(guard=name, verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard=name, verdict=Verdict.allow, reason=f"{request.open_problems or 0} open problems")

    def _allowlist(self, request: GuardRequest) -> GuardDecision:
        target, labels = request.target, request.plan.labels
        for index, rule in enumerate(self.policy.allow):
            in_ns = "*" in rule.namespaces or (bool(target.namespace) and target.namespace in rule.namespaces)
            selected = all(labels.get(k) == v for k, v in rule.selector.items())
            runbook_ok = not rule.runbooks or request.runbook in rule.runbooks
            kind_ok = not rule.kinds or target.kind in rule.kinds
            if in_ns and selected and runbook_ok and kind_ok:
                return GuardDecision(guard="allowlist", verdict=Verdict.allow, reason=f"matches allow rule {index}")
        verdict = Verdict.dry_run if self.policy.dry_run_outside_allowlist else Verdict.deny
        return GuardDecision(guard="allowlist", verdict=verdict, reason=f"{target} is outside the allowlist")

    def _approval(self, request: GuardRequest) -> GuardDecision:
        if request.runbook not in self.policy.approval_required:
            return GuardDecision(guard="approval", verdict=Verdict.allow, reason="no approval required")
        if request.approved and not request.by_daemon:
            return GuardDecision(
                guard="approval", verdict=Verdict.allow, reason="a person runs it: approved by --yes or confirmation"
            )
        reason = f"{request.runbook} requires a person's approval (run it by hand with --execute --yes)"
        return GuardDecision(guard="approval", verdict=Verdict.needs_approval, reason=reason)

    def _blast_radius(self, request: GuardRequest) -> GuardDecision:
        impact, radius = request.plan.impact, self.policy.blast_radius
        name = "blast_radius"
        if impact.scope == "none" or impact.total == 0:
            return GuardDecision(guard=name, verdict=Verdict.allow, reason="touches no group")
        share = impact.touched / impact.total
        cap, floor = (
            (radius.max_replica_share, radius.min_healthy_replicas)
            if impact.scope == "replicas"
            else (radius.max_node_share, radius.min_ready_nodes)
        )
        what = f"{impact.touched}/{impact.total} {impact.scope}"
        if share > cap + 1e-9 and impact.total > 1:
            return GuardDecision(guard=name, verdict=Verdict.deny, reason=f"{what} ({share:.0%}) exceeds {cap:.0%}")
        if impact.healthy_after is not None and impact.healthy_after < floor:
            reason = f"only {impact.healthy_after} {impact.scope} would stay healthy; minimum is {floor}"
            return GuardDecision(guard=name, verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard=name, verdict=Verdict.allow, reason=f"{what} ({share:.0%}) within {cap:.0%}")

    def _one_at_a_time(self, request: GuardRequest, active: list[ActionRecord]) -> GuardDecision:
        busy = [r for r in active if r.target.key == request.target.key and not r.dry_run]
        if busy:
            reason = f"action {busy[0].id} ({busy[0].runbook}) is still {busy[0].status} on {request.target}"
            return GuardDecision(guard="one_per_target", verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard="one_per_target", verdict=Verdict.allow, reason="no other action on the target")

    def _cooldown(self, request: GuardRequest, history: list[ActionRecord], now: float) -> GuardDecision:
        cool = self.policy.cooldowns
        spans = (cool.per_target, cool.per_runbook, cool.global_)
        for (scope, records), span in zip(_scoped_actions(request, history), spans, strict=True):
            recent = [r for r in records if r.updated_at > now - span]
            if span and recent:
                last = max(recent, key=lambda r: r.updated_at)
                reason = f"cooldown per {scope}: {last.runbook} on {last.target} {now - last.updated_at:.0f}s ago < {span:.0f}s"  # noqa: E501
                return GuardDecision(guard="cooldown", verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard="cooldown", verdict=Verdict.allow, reason="no recent action within the cooldowns")

    def _rate_limits(self, request: GuardRequest, history: list[ActionRecord], now: float) -> GuardDecision:
        limits = self.policy.rate_limits
        caps = (limits.per_target, limits.per_runbook, limits.global_)
        for (scope, records), limit in zip(_scoped_actions(request, history), caps, strict=True):
            if limit is None:
                continue
            count = sum(1 for r in records if r.created_at > now - limit.per)
            if count >= limit.max_actions:
                reason = (
                    f"rate limit per {scope}: {count} action(s) in the last {limit.per:.0f}s (max {limit.max_actions})"
                )
                return GuardDecision(guard="rate_limit", verdict=Verdict.deny, reason=reason)
        return GuardDecision(guard="rate_limit", verdict=Verdict.allow, reason="within every rate limit")


def _scoped_actions(request: GuardRequest, history: list[ActionRecord]) -> list[tuple[str, list[ActionRecord]]]:
    """Real (not dry-run) actions that count against the target, the runbook and the whole cluster."""
    acted = [r for r in history if r.status in _ACTED and not r.dry_run]
    return [
        ("target", [r for r in acted if r.target.key == request.target.key]),
        ("runbook", [r for r in acted if r.runbook == request.runbook]),
        ("global", acted),
    ]
