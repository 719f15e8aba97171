"""The runbook interface and the registry of runbooks (an instance: tests make their own, duplicates raise)."""

from __future__ import annotations

import inspect
import shlex
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from remediations.cluster import ClusterApi, Json
from remediations.errors import DuplicateRunbook, GitOpsManaged, InvalidParams, PreconditionFailed, UnknownRunbook
from remediations.model import Plan, Target


class RunbookParams(BaseModel):
    """Base of every runbook's parameters: frozen, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(RunbookParams):
    pass


@dataclass(frozen=True)
class PlanContext:
    """What a plan may depend on besides the live object: the time and the action it belongs to."""

    now: float
    action_id: str


class Runbook(ABC):
    """A named, parameterised fix.

    ``plan`` reads the live object, checks preconditions (raising ``PreconditionFailed`` / ``GitOpsManaged``) and
    returns what will change and what rollback restores. ``apply`` must be idempotent for a given plan: the executor
    may call it again after a crash. ``settled`` is the runbook's own completion check (a rollout finished); the
    daemon's verification hook then decides whether the problem went away. ``rollback`` undoes ``apply``.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    params_model: ClassVar[type[RunbookParams]] = NoParams
    disruptive: ClassVar[bool] = False

    def parse_params(self, raw: Mapping[str, Any]) -> RunbookParams:
        try:
            return self.params_model.model_validate(dict(raw))
        except ValidationError as exc:
            issues = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(params)'}: {e['msg']}" for e in exc.errors())
            raise InvalidParams(f"runbook {self.name}: invalid params: {issues}") from None

    def check_target(self, target: Target) -> None:
        if target.kind not in self.kinds:
            raise InvalidParams(f"runbook {self.name} acts on {sorted(self.kinds)}, not on {target.kind} ({target})")

    @abstractmethod
    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan: ...

    @abstractmethod
    def apply(self, api: ClusterApi, plan: Plan) -> None: ...

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        return True

    @abstractmethod
    def rollback(self, api: ClusterApi, plan: Plan) -> None: ...

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "kinds": sorted(self.kinds),
            "disruptive": self.disruptive,
            "doc": inspect.cleandoc(type(self).__doc__ or ""),
            "params": self.params_model.model_json_schema().get("properties", {}),
        }


class RunbookRegistry:
    def __init__(self) -> None:
        self._runbooks: dict[str, Runbook] = {}

    def register(self, runbook: Runbook) -> Runbook:
        if runbook.name in self._runbooks:
            raise DuplicateRunbook(f"a runbook named {runbook.name!r} is already registered")
        self._runbooks[runbook.name] = runbook
        return runbook

    def get(self, name: str) -> Runbook:
        try:
            return self._runbooks[name]
        except KeyError:
            raise UnknownRunbook(f"no runbook {name!r}; known: {sorted(self._runbooks)}") from None

    def names(self) -> list[str]:
        return sorted(self._runbooks)

    def __iter__(self) -> Iterator[Runbook]:
        return iter(self._runbooks[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._runbooks


# GitOps ownership markers: the tool reconciles these objects, so a patch behind its back would be reverted or
# fight the tool; the runbook refuses and the daemon escalates.
ARGO_INSTANCE_LABEL = "app.kubernetes.io/instance"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
FLUX_LABELS = ("kustomize.toolkit.fluxcd.io/name", "helm.toolkit.fluxcd.io/name")


def gitops_owner(obj: Json) -> str | None:
    """Which GitOps tool manages ``obj`` and why we think so, or None."""
    meta = obj.get("metadata", {})
    labels: dict[str, str] = meta.get("labels") or {}
    annotations: dict[str, str] = meta.get("annotations") or {}
    if ARGO_TRACKING in annotations or ARGO_TRACKING in labels:
        return f"Argo CD (annotation {ARGO_TRACKING}={annotations.get(ARGO_TRACKING, labels.get(ARGO_TRACKING))})"
    argo_annotations = sorted(a for a in annotations if a.startswith("argocd.argoproj.io/"))
    if ARGO_INSTANCE_LABEL in labels and argo_annotations:
        return f"Argo CD (label {ARGO_INSTANCE_LABEL}={labels[ARGO_INSTANCE_LABEL]}, annotation {argo_annotations[0]})"
    for label in FLUX_LABELS:
        if label in labels:
            return f"Flux (label {label}={labels[label]})"
    return None


def refuse_gitops(obj: Json, target: Target) -> None:
    owner = gitops_owner(obj)
    if owner:
        raise GitOpsManaged(f"{target} is managed by {owner}: change it in Git instead; escalating to a human")


def labels_of(obj: Json) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def require(condition: bool, message: str) -> None:
    if not condition:
        raise PreconditionFailed(message)


def suggested_command(runbook: str, target: str, params: dict[str, Any] | None = None) -> str:
    """The exact CLI line a person runs to carry out a suggestion (for tickets): dry run first, then --execute."""
    parts = ["aiopsd", "runbook", "run", runbook, "--target", target]
    for key, value in sorted((params or {}).items()):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        parts += ["--param", f"{key}={text}"]
    return shlex.join([*parts, "--execute"])
