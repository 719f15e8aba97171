"""The vocabulary of remediation: targets, plans, guard decisions, action records and results."""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remediations.errors import InvalidTarget

TARGET_KINDS = ("deployment", "statefulset", "daemonset", "pod", "node", "cronjob", "job")
CLUSTER_SCOPED = frozenset({"node"})
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(Frozen):
    """What a runbook acts on: ``deployment/shop/cart``, ``node//worker-1`` (nodes have no namespace)."""

    kind: str
    namespace: str = ""
    name: str

    @classmethod
    def parse(cls, text: str) -> Target:
        parts = text.split("/")
        if len(parts) != 3:
            raise InvalidTarget(f"target {text!r}: expected KIND/NAMESPACE/NAME, e.g. deployment/shop/cart or node//w1")
        kind, namespace, name = parts[0].lower(), parts[1], parts[2]
        if kind not in TARGET_KINDS:
            raise InvalidTarget(f"target {text!r}: unknown kind {kind!r}; expected one of {list(TARGET_KINDS)}")
        if kind in CLUSTER_SCOPED and namespace:
            raise InvalidTarget(f"target {text!r}: a {kind} has no namespace; write {kind}//{name}")
        if kind not in CLUSTER_SCOPED and not _DNS.match(namespace):
            raise InvalidTarget(f"target {text!r}: a {kind} needs a namespace (lower-case DNS name)")
        if not _DNS.match(name):
            raise InvalidTarget(f"target {text!r}: name {name!r} is not a lower-case DNS name")
        return cls(kind=kind, namespace=namespace, name=name)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return self.key


class Change(Frozen):
    """One field the action changes, for people reading the plan (the diff)."""

    path: str
    before: Any = None
    after: Any = None


class Impact(Frozen):
    """How much of a group the action touches, for blast-radius guards."""

    scope: Literal["replicas", "nodes", "none"] = "none"
    touched: int = 0
    total: int = 0
    healthy_after: int | None = Field(None, description="Replicas (or nodes) still serving while it acts.")


class Plan(Frozen):
    """What a runbook will do to a target, computed from the live object before anything changes."""

    runbook: str
    target: Target
    summary: str
    changes: list[Change] = Field(default_factory=list)
    impact: Impact = Impact()
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the target, for selectors.")
    state: dict[str, Any] = Field(
        default_factory=dict, description="What the action applies and what rollback restores (JSON)."
    )
    reversible: bool = True


class Verdict(StrEnum):
    allow = "allow"
    deny = "deny"
    dry_run = "dry_run"
    needs_approval = "needs_approval"


class GuardDecision(Frozen):
    guard: str
    verdict: Verdict
    reason: str


class ActionStatus(StrEnum):
    planned = "planned"
    running = "running"
    verifying = "verifying"
    verified = "verified"
    rolled_back = "rolled_back"
    failed = "failed"
    refused = "refused"
    dry_run = "dry_run"

    @property
    def finished(self) -> bool:
        return self not in (ActionStatus.planned, ActionStatus.running, ActionStatus.verifying)


class Step(StrEnum):
    """Where an unfinished action stopped; ``recover()`` continues from here."""

    journaled = "journaled"  # recorded, API not yet called (or call in flight when the process died)
    applied = "applied"  # the API call returned
    settled = "settled"  # the runbook's own check passed (rollout done); verification next
    done = "done"


class ActionRecord(Frozen):
    """One action, journaled before it runs and completed after."""

    id: str
    idempotency_key: str
    runbook: str
    target: Target
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    actor: str = Field(description="'daemon:<instance>' or 'user:<name>'.")
    dry_run: bool = False
    status: ActionStatus = ActionStatus.planned
    step: Step = Step.journaled
    plan: Plan | None = None
    decisions: list[GuardDecision] = Field(default_factory=list)
    attempts: int = 0
    error: str | None = None
    verification: str | None = None
    created_at: float
    updated_at: float
    deadline: float | None = Field(None, description="When verification gives up (clock seconds).")


class ExitCode(IntEnum):
    """Exit codes of ``aiopsd runbook run``."""

    ok = 0  # verified, or a dry run that guards would allow
    failed = 1  # the action failed (API error, precondition, verification could not run) and nothing was undone
    usage = 2  # bad target, params or policy file
    refused = 3  # a guard stopped it (or it needs approval / is outside the allowlist and --execute was asked)
    rolled_back = 4  # it ran, verification said it did not help, and it was undone


class ActionResult(Frozen):
    record: ActionRecord
    repeated: bool = Field(False, description="True when the key had already finished: nothing was done again.")

    @property
    def status(self) -> ActionStatus:
        return self.record.status

    @property
    def exit_code(self) -> ExitCode:
        return {
            ActionStatus.verified: ExitCode.ok,
            ActionStatus.dry_run: ExitCode.ok,
            ActionStatus.refused: ExitCode.refused,
            ActionStatus.rolled_back: ExitCode.rolled_back,
        }.get(self.record.status, ExitCode.failed)


class AuditEntry(Frozen):
    """One line of the audit trail: who, what, why, and the outcome."""

    ts: float
    actor: str
    event: str = Field(description="decided | started | applied | verified | rolled_back | failed | refused | ...")
    action_id: str
    runbook: str
    target: str
    reason: str = ""
    decisions: list[GuardDecision] = Field(default_factory=list)
    outcome: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
