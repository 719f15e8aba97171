"""Runbooks on pods, nodes and jobs: delete a crash-looping or stuck pod, cordon and drain, uncordon, run a Job."""

from __future__ import annotations

import calendar
import hashlib
import time
from typing import Any

from pydantic import Field

from remediations.cluster import ClusterApi, Json
from remediations.errors import PermanentError, TargetNotFound, TemporaryError
from remediations.model import Change, Impact, Plan, Target
from remediations.runbook import PlanContext, Runbook, RunbookParams, labels_of, require


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))


def _controller(obj: Json) -> Json | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


class DeletePodParams(RunbookParams):
    min_restarts: int = Field(3, ge=1, description="Restarts from which a pod counts as crash-looping.")
    stuck_after_seconds: int = Field(300, ge=0, description="Pending or Terminating longer than this is stuck.")
    force: bool = Field(False, description="Delete even if neither crash-looping nor stuck, or not controller-owned.")


class DeletePod(Runbook):
    """Delete a crash-looping or stuck pod so its controller replaces it.

    Preconditions: the pod is crash-looping (a container waits in CrashLoopBackOff or restarted ``min_restarts``
    times), stuck (Pending, or Terminating, longer than ``stuck_after_seconds``), and has a controller that recreates
    it — unless ``force``. A Terminating pod is deleted with grace period 0. The delete carries the pod's uid, so a
    replacement of the same name is never deleted by a retry. Not reversible: the controller makes a new pod.
    """

    name = "delete-pod"
    summary = "Delete a crash-looping or stuck pod (its controller recreates it)."
    kinds = frozenset({"pod"})
    params_model = DeletePodParams

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        assert isinstance(params, DeletePodParams)
        pod = api.get(target)
        meta, status = pod["metadata"], pod.get("status", {})
        statuses = status.get("containerStatuses") or []
        restarts = max((int(s.get("restartCount") or 0) for s in statuses), default=0)
        waiting = [((s.get("state") or {}).get("waiting") or {}).get("reason") for s in statuses]
        crash_looping = "CrashLoopBackOff" in waiting or restarts >= params.min_restarts
        deleting_since = _ts(meta.get("deletionTimestamp"))
        created = _ts(meta.get("creationTimestamp")) or ctx.now
        stuck_terminating = deleting_since is not None and ctx.now - deleting_since >= params.stuck_after_seconds
        stuck_pending = status.get("phase") == "Pending" and ctx.now - created >= params.stuck_after_seconds
        why = (
            "crash-looping"
            if crash_looping
            else "stuck terminating"
            if stuck_terminating
            else "stuck pending"
            if stuck_pending
            else "forced"
        )
        require(
            params.force or crash_looping or stuck_terminating or stuck_pending,
            f"{target} is neither crash-looping ({restarts} restarts, waiting {waiting}) nor stuck; use force=true",
        )
        owner = _controller(pod)
        require(params.force or owner is not None, f"{target} has no controller to recreate it; use force=true")
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"delete {why} pod {target}" + (f" (owned by {owner['kind']} {owner['name']})" if owner else ""),
            changes=[Change(path="pod", before=f"{status.get('phase')} uid={meta['uid']}", after="deleted")],
            impact=Impact(scope="replicas", touched=1, total=1),
            labels=labels_of(pod),
            state={"uid": meta["uid"], "grace": 0 if stuck_terminating else None, "why": why},
            reversible=False,
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        api.delete_pod(plan.target.namespace, plan.target.name, plan.state["uid"], plan.state["grace"])

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        try:
            pod = api.get(plan.target)
        except TargetNotFound:
            return True
        return bool(pod["metadata"]["uid"] != plan.state["uid"])

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        """Nothing to undo: the pod's controller has made a new one."""


def _node_ready(node: Json) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _evictable(pod: Json) -> bool:
    owner = _controller(pod)
    if owner is not None and owner.get("kind") == "DaemonSet":
        return False
    if "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {}):
        return False
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


class DrainParams(RunbookParams):
    pass


class CordonDrain(Runbook):
    """Cordon a node and evict its pods through the eviction API, respecting PodDisruptionBudgets.

    DaemonSet pods and mirror pods are left alone. An eviction a PodDisruptionBudget refuses (HTTP 429) is a
    temporary error: the executor retries within its budget, then the action fails and is undone (the node is
    uncordoned; evicted pods have already been rescheduled by their controllers). Settled when no evictable pod
    remains on the node. Rollback uncordons the node if it was schedulable before.
    """

    name = "cordon-drain"
    summary = "Cordon a node and evict its pods (PodDisruptionBudgets respected)."
    kinds = frozenset({"node"})
    disruptive = True

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        node = api.get(target)
        nodes = api.list_nodes()
        ready = sum(1 for n in nodes if _node_ready(n) and not n.get("spec", {}).get("unschedulable"))
        pods = [p for p in api.list_pods(node=target.name) if _evictable(p)]
        names = sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods)
        was_unschedulable = bool(node.get("spec", {}).get("unschedulable"))
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"cordon {target.name} and evict {len(names)} pod(s)",
            changes=[
                Change(path="spec.unschedulable", before=was_unschedulable, after=True),
                *(Change(path=f"pod {name}", before="running", after="evicted") for name in names),
            ],
            impact=Impact(scope="nodes", touched=1, total=len(nodes), healthy_after=max(0, ready - 1)),
            labels=labels_of(node),
            state={"pods": names, "was_unschedulable": was_unschedulable},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, {"spec": {"unschedulable": True}})
        blocked: list[str] = []
        for pod in api.list_pods(node=plan.target.name):
            if not _evictable(pod):
                continue
            namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            try:
                api.evict_pod(namespace, name)
            except TemporaryError as exc:
                blocked.append(f"{namespace}/{name} ({exc})")
        if blocked:
            raise TemporaryError(f"drain of {plan.target.name} stopped: eviction refused for {blocked}", delay=2.0)

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        return not any(_evictable(p) for p in api.list_pods(node=plan.target.name))

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        if not plan.state["was_unschedulable"]:
            api.patch(plan.target, {"spec": {"unschedulable": None}})


class Uncordon(Runbook):
    """Mark a node schedulable again. Rollback cordons it again if it was cordoned."""

    name = "uncordon"
    summary = "Make a cordoned node schedulable again."
    kinds = frozenset({"node"})

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        node = api.get(target)
        cordoned = bool(node.get("spec", {}).get("unschedulable"))
        require(cordoned, f"{target.name} is not cordoned")
        nodes = api.list_nodes()
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"uncordon {target.name}",
            changes=[Change(path="spec.unschedulable", before=True, after=False)],
            impact=Impact(scope="nodes", touched=0, total=len(nodes)),
            labels=labels_of(node),
            state={"was_unschedulable": cordoned},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, {"spec": {"unschedulable": None}})

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        api.patch(plan.target, {"spec": {"unschedulable": True}})


class RunJobParams(RunbookParams):
    wait_for_completion: bool = Field(True, description="Settled only when the Job has succeeded.")


class RunJob(Runbook):
    """Run a Job from a CronJob's template, as ``kubectl create job --from=cronjob/NAME`` does.

    The Job's name is derived from the action id, so a retried apply finds the Job it made instead of starting a
    second one. Settled when the Job has succeeded (a failed Job is a permanent error). Rollback deletes the Job.
    """

    name = "run-job"
    summary = "Run a Job from a CronJob's template."
    kinds = frozenset({"cronjob"})
    params_model = RunJobParams

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        assert isinstance(params, RunJobParams)
        cronjob = api.get(target)
        template: dict[str, Any] = cronjob["spec"]["jobTemplate"]
        suffix = hashlib.sha256(ctx.action_id.encode()).hexdigest()[:8]
        job_name = f"{target.name[:40]}-aiops-{suffix}"
        meta = dict(template.get("metadata") or {})
        annotations = {**(meta.get("annotations") or {}), "cronjob.kubernetes.io/instantiate": "manual"}
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job_name,
                "namespace": target.namespace,
                "labels": meta.get("labels") or {},
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": target.name,
                        "uid": cronjob["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
        return Plan(
            runbook=self.name,
            target=target,
            summary=f"create Job {target.namespace}/{job_name} from {target}",
            changes=[Change(path=f"job {target.namespace}/{job_name}", before=None, after="created")],
            labels=labels_of(cronjob),
            state={"job": job, "job_name": job_name, "wait": params.wait_for_completion},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        api.create_job(plan.target.namespace, plan.state["job"])

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        if not plan.state["wait"]:
            return True
        job = api.get(Target(kind="job", namespace=plan.target.namespace, name=plan.state["job_name"]))
        status = job.get("status", {})
        if int(status.get("failed") or 0) and not int(status.get("active") or 0):
            raise PermanentError(f"job {plan.state['job_name']} failed")
        return int(status.get("succeeded") or 0) >= 1

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        api.delete_job(plan.target.namespace, plan.state["job_name"])
