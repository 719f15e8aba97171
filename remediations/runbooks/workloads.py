"""Runbooks on workloads (Deployment, StatefulSet, DaemonSet): rollout restart, scale, roll back, raise limits."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from remediations.cluster import ClusterApi, Json
from remediations.model import Change, Impact, Plan, Target
from remediations.runbook import PlanContext, Runbook, RunbookParams, labels_of, refuse_gitops, require
from remediations.runbooks.rollout import (
    WORKLOADS,
    desired_replicas,
    max_unavailable,
    parse_quantity,
    ready_replicas,
    rollout_complete,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"


def _rolling_impact(obj: Json, kind: str) -> Impact:
    total = desired_replicas(obj, kind)
    down = max_unavailable(obj, kind)
    return Impact(scope="replicas", touched=down, total=total, healthy_after=max(0, ready_replicas(obj, kind) - down))


class RolloutRestart(Runbook):
    """Restart every pod of a workload by a rolling update, as ``kubectl rollout restart`` does.

    Sets the pod template annotation ``kubectl.kubernetes.io/restartedAt`` to the plan's time, so applying the same
    plan twice starts one rollout only. Settled when the rollout is complete (all replicas updated and available).
    Rollback restores the previous annotation (which rolls the pods once more, onto the old template).
    """

    name = "rollout-restart"
    summary = "Rolling restart of a Deployment, StatefulSet or DaemonSet."
    kinds = WORKLOADS

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        obj = api.get(target)
        refuse_gitops(obj, target)
        annotations = obj["spec"]["template"].get("metadata", {}).get("annotations") or {}
        stamp = datetime.fromtimestamp(ctx.now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"rolling restart of {target} ({desired_replicas(obj, target.kind)} replicas)",
            changes=[
                Change(
                    path=f"spec.template.metadata.annotations[{RESTARTED_AT}]",
                    before=annotations.get(RESTARTED_AT),
                    after=stamp,
                )
            ],
            impact=_rolling_impact(obj, target.kind),
            labels=labels_of(obj),
            state={"restarted_at": stamp, "previous": annotations.get(RESTARTED_AT)},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: plan.state["restarted_at"]}}}}}
        api.patch(plan.target, body)

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        return rollout_complete(api.get(plan.target), plan.target.kind)

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: plan.state["previous"]}}}}}
        api.patch(plan.target, body)


class ScaleParams(RunbookParams):
    replicas: int = Field(ge=0, description="The replica count to set.")
    min_replicas: int = Field(1, ge=0, description="Refuse to go below this (keeps the service up).")
    max_replicas: int = Field(20, ge=1, description="Refuse to go above this (cost and quota bound).")

    @model_validator(mode="after")
    def _bounds(self) -> ScaleParams:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}")
        if not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(f"replicas {self.replicas} is outside [{self.min_replicas}, {self.max_replicas}]")
        return self


class Scale(Runbook):
    """Set the replica count of a Deployment or StatefulSet within ``[min_replicas, max_replicas]``.

    Settled when that many replicas are ready. Rollback sets the previous count back.
    """

    name = "scale"
    summary = "Scale a Deployment or StatefulSet within bounds."
    kinds = frozenset({"deployment", "statefulset"})
    params_model = ScaleParams

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        assert isinstance(params, ScaleParams)
        obj = api.get(target)
        refuse_gitops(obj, target)
        current = desired_replicas(obj, target.kind)
        require(current != params.replicas, f"{target} already has {current} replicas")
        removed = max(0, current - params.replicas)
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"scale {target} from {current} to {params.replicas} replicas",
            changes=[Change(path="spec.replicas", before=current, after=params.replicas)],
            impact=Impact(
                scope="replicas", touched=removed, total=current, healthy_after=min(current, params.replicas)
            ),
            labels=labels_of(obj),
            state={"replicas": params.replicas, "previous": current},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, {"spec": {"replicas": plan.state["replicas"]}}, "merge")

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        obj = api.get(plan.target)
        return (
            rollout_complete(obj, plan.target.kind) and ready_replicas(obj, plan.target.kind) == plan.state["replicas"]
        )

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, {"spec": {"replicas": plan.state["previous"]}}, "merge")


def _template_of(replica_set: Json) -> Json:
    template = copy.deepcopy(replica_set["spec"]["template"])
    labels = template.get("metadata", {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    return dict(template)


class RollbackDeployment(Runbook):
    """Roll a Deployment back to its previous revision (the ReplicaSet with the highest revision below the current).

    Replaces ``spec.template`` with that ReplicaSet's template (a JSON patch: exact, idempotent). Settled when the
    rollout is complete. Rollback puts the template it replaced back.
    """

    name = "rollback-deployment"
    summary = "Roll a Deployment back to its previous revision."
    kinds = frozenset({"deployment"})
    disruptive = True

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        obj = api.get(target)
        refuse_gitops(obj, target)
        current = int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
        uid = obj["metadata"]["uid"]
        owned = [
            rs
            for rs in api.list_replicasets(target.namespace, obj["spec"]["selector"].get("matchLabels") or {})
            if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
        ]
        older = [rs for rs in owned if int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) < current]
        require(bool(older), f"{target} has no revision before {current} to roll back to")
        previous = max(older, key=lambda rs: int(rs["metadata"]["annotations"][REVISION]))
        revision = int(previous["metadata"]["annotations"][REVISION])
        template_to, template_from = _template_of(previous), obj["spec"]["template"]
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"roll {target} back from revision {current} to {revision} ({previous['metadata']['name']})",
            changes=_template_diff(template_from, template_to),
            impact=_rolling_impact(obj, target.kind),
            labels=labels_of(obj),
            state={"template": template_to, "previous": template_from, "revision": revision, "from_revision": current},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, [{"op": "replace", "path": "/spec/template", "value": plan.state["template"]}], "json")

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        return rollout_complete(api.get(plan.target), plan.target.kind)

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, [{"op": "replace", "path": "/spec/template", "value": plan.state["previous"]}], "json")


def _template_diff(before: Json, after: Json) -> list[Change]:
    changes: list[Change] = []
    old = {c["name"]: c for c in before.get("spec", {}).get("containers", [])}
    new = {c["name"]: c for c in after.get("spec", {}).get("containers", [])}
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, {}), new.get(name, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                changes.append(
                    Change(path=f"spec.template.spec.containers[{name}].{key}", before=a.get(key), after=b.get(key))
                )
    if (before.get("metadata") or {}).get("annotations") != (after.get("metadata") or {}).get("annotations"):
        changes.append(
            Change(
                path="spec.template.metadata.annotations",
                before=(before.get("metadata") or {}).get("annotations"),
                after=(after.get("metadata") or {}).get("annotations"),
            )
        )
    return changes or [Change(path="spec.template", before="(current)", after="(previous revision)")]


class RaiseLimitsParams(RunbookParams):
    container: str | None = Field(None, description="Container name; may be omitted when the pod has one.")
    memory: str | None = Field(None, description="New memory limit, e.g. 768Mi.")
    cpu: str | None = Field(None, description="New CPU limit, e.g. 1500m.")
    factor: float = Field(
        1.5, gt=1, le=4, description="When neither memory nor cpu is given: every current limit × factor."
    )
    max_memory: str = Field("8Gi", description="Never raise memory above this.")
    max_cpu: str = Field("4", description="Never raise CPU above this.")

    @model_validator(mode="after")
    def _quantities(self) -> RaiseLimitsParams:
        for field in ("memory", "cpu", "max_memory", "max_cpu"):
            value = getattr(self, field)
            if value is not None:
                try:
                    parse_quantity(value)
                except ValueError as exc:
                    raise ValueError(f"{field}: {exc}") from None
        return self


def _format_memory(value: float) -> str:
    return f"{int(value // 2**20)}Mi"


def _format_cpu(value: float) -> str:
    return f"{round(value * 1000)}m"


class RaiseLimits(Runbook):
    """Raise a container's memory and/or CPU limit, within ``max_memory`` / ``max_cpu``.

    New values are given or computed as current × ``factor``; a limit may only go up. Settled when the rollout is
    complete. Rollback restores the previous limits exactly.
    """

    name = "raise-limits"
    summary = "Raise a container's memory/CPU limit within bounds."
    kinds = WORKLOADS
    params_model = RaiseLimitsParams

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        assert isinstance(params, RaiseLimitsParams)
        obj = api.get(target)
        refuse_gitops(obj, target)
        containers = obj["spec"]["template"]["spec"]["containers"]
        names = [c["name"] for c in containers]
        if params.container is None:
            require(len(names) == 1, f"{target} has containers {names}: say which with --param container=NAME")
            name = names[0]
        else:
            require(params.container in names, f"{target} has no container {params.container!r}; it has {names}")
            name = params.container
        container = next(c for c in containers if c["name"] == name)
        limits: dict[str, str] = dict((container.get("resources") or {}).get("limits") or {})
        new: dict[str, str] = {}
        changes: list[Change] = []
        for resource, given, bound, fmt in (
            ("memory", params.memory, params.max_memory, _format_memory),
            ("cpu", params.cpu, params.max_cpu, _format_cpu),
        ):
            current = limits.get(resource)
            explicit = params.memory is not None or params.cpu is not None
            if (given is None and current is None) or (given is None and explicit):
                continue
            value = given if given is not None else fmt(parse_quantity(str(current)) * params.factor)
            if current is not None:
                require(
                    parse_quantity(value) > parse_quantity(str(current)),
                    f"{resource} limit {value} is not above the current {current}",
                )
            require(
                parse_quantity(value) <= parse_quantity(bound), f"{resource} limit {value} is above the bound {bound}"
            )
            new[resource] = value
            changes.append(
                Change(
                    path=f"spec.template.spec.containers[{name}].resources.limits.{resource}",
                    before=current,
                    after=value,
                )
            )
        require(bool(new), f"container {name} of {target} has no limits to raise; give memory= or cpu=")
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"raise limits of {target} container {name}: " + ", ".join(f"{k}={v}" for k, v in new.items()),
            changes=changes,
            impact=_rolling_impact(obj, target.kind),
            labels=labels_of(obj),
            state={"container": name, "limits": new, "previous": {k: limits.get(k) for k in new}},
        )

    def _patch(self, api: ClusterApi, plan: Plan, limits: dict[str, Any]) -> None:
        container = {"name": plan.state["container"], "resources": {"limits": limits}}
        api.patch(plan.target, {"spec": {"template": {"spec": {"containers": [container]}}}})

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        self._patch(api, plan, plan.state["limits"])

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        return rollout_complete(api.get(plan.target), plan.target.kind)

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        self._patch(api, plan, plan.state["previous"])
