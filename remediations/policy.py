"""The guard policy: what automation may touch, how much, how often and when. Loaded from YAML (see
``examples/policy.yaml``); errors name the file, the field and what was expected."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from remediations.errors import PolicyError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _seconds(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ValueError(f"expected a duration such as 30s, 10m, 1h, 1d or a number of seconds, got {value!r}")
    return float(match.group(1)) * _UNIT[match.group(2)]


Seconds = Annotated[float, BeforeValidator(_seconds)]


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AllowRule(PolicyModel):
    """Targets automation may act on for real. Empty ``runbooks`` means every runbook."""

    namespaces: list[str] = Field(description="Namespaces, or '*' for all (and for cluster-scoped nodes).")
    selector: dict[str, str] = Field(default_factory=dict, description="Labels the target must carry.")
    runbooks: list[str] = Field(default_factory=list)
    kinds: list[str] = Field(default_factory=list, description="Target kinds; empty means every kind.")


class BlastRadius(PolicyModel):
    max_replica_share: float = Field(0.5, gt=0, le=1, description="Largest share of a workload's replicas down.")
    min_healthy_replicas: int = Field(1, ge=0, description="Replicas that must stay ready while it acts.")
    max_node_share: float = Field(0.34, gt=0, le=1, description="Largest share of the cluster's nodes drained.")
    min_ready_nodes: int = Field(1, ge=0, description="Schedulable Ready nodes that must remain.")


class RateLimit(PolicyModel):
    max_actions: int = Field(ge=0)
    per: Seconds = Field(description="The sliding window, e.g. 1h.")


class RateLimits(PolicyModel):
    per_target: RateLimit | None = RateLimit(max_actions=3, per=3600)
    per_runbook: RateLimit | None = RateLimit(max_actions=10, per=3600)
    global_: RateLimit | None = Field(RateLimit(max_actions=20, per=3600), alias="global")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Cooldowns(PolicyModel):
    per_target: Seconds = Field(600, ge=0, description="Quiet time on a target after an action on it.")
    per_runbook: Seconds = Field(0, ge=0, description="Quiet time for a runbook after it ran anywhere.")
    global_: Seconds = Field(0, ge=0, alias="global", description="Quiet time after any action.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Freeze(PolicyModel):
    """A change freeze: no action at all between ``start`` and ``end``."""

    start: datetime
    end: datetime
    reason: str = ""

    @model_validator(mode="after")
    def _order(self) -> Freeze:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone, e.g. 2026-12-20T00:00:00Z")
        if self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")
        return self


class MaintenanceWindow(PolicyModel):
    """A weekly window in which disruptive runbooks (drain, rollback) may run."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; expected an IANA name such as Europe/Berlin") from None
        return value

    def contains(self, ts: float) -> bool:
        local = datetime.fromtimestamp(ts, ZoneInfo(self.timezone))
        now = local.time()
        inside = self.start <= now < self.end if self.start <= self.end else (now >= self.start or now < self.end)
        return DAYS[local.weekday()] in self.days and inside


class StormBreaker(PolicyModel):
    max_open_problems: int = Field(10, ge=1, description="More open problems than this pause automation.")


class KillSwitch(PolicyModel):
    """A ConfigMap read at every decision: ``data[key]`` in ``paused_values`` stops all automation at once; the
    ``target_annotation`` on one object stops automation for that object only."""

    namespace: str = "aiopsd-system"
    name: str = "aiopsd-kill-switch"
    key: str = "automation"
    paused_values: list[str] = Field(default_factory=lambda: ["paused", "off", "false", "stop"])
    target_annotation: str | None = Field(
        "aiopsd.io/automation", description="An annotation on one target with a paused value stops it alone."
    )


class GuardPolicy(PolicyModel):
    allow: list[AllowRule] = Field(default_factory=list)
    dry_run_outside_allowlist: bool = Field(True, description="Outside the allowlist: dry-run (True) or refuse.")
    approval_required: list[str] = Field(
        default_factory=list, description="Runbooks the daemon may only suggest; a person runs them with --yes."
    )
    blast_radius: BlastRadius = BlastRadius()
    rate_limits: RateLimits = RateLimits()
    cooldowns: Cooldowns = Cooldowns()
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    change_freezes: list[Freeze] = Field(default_factory=list)
    storm_breaker: StormBreaker = StormBreaker()
    kill_switch: KillSwitch | None = KillSwitch()

    def freeze_at(self, ts: float) -> Freeze | None:
        moment = datetime.fromtimestamp(ts, UTC)
        return next((f for f in self.change_freezes if f.start <= moment < f.end), None)


def load_policy(path: Path, known_runbooks: list[str] | None = None) -> GuardPolicy:
    """Read a policy file; every problem is reported with the file, the field and what was expected."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping of policy sections at the top level")
    try:
        policy = GuardPolicy.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"  - {path}: {where}: {msg}")
        raise PolicyError(f"{path}: {len(lines)} policy error(s)\n" + "\n".join(lines)) from None
    if known_runbooks is not None:
        named = {r for rule in policy.allow for r in rule.runbooks} | set(policy.approval_required)
        unknown = sorted(named - set(known_runbooks))
        if unknown:
            raise PolicyError(f"{path}: unknown runbook(s) {unknown}; expected some of {sorted(known_runbooks)}")
    return policy
