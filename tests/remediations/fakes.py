"""Hand-written fakes for unit tests: a clock, a cluster holding JSON objects, and a scriptable runbook."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from remediations.cluster import ClusterApi, Json, PatchType
from remediations.errors import TargetNotFound, TemporaryError
from remediations.executor import Verification
from remediations.model import ActionRecord, Change, Impact, Plan, Target
from remediations.runbook import PlanContext, Runbook, RunbookParams


class FakeClock:
    """``clock()`` gives the time; ``sleep(s)`` advances it (nothing ever waits)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeCluster(ClusterApi):
    def __init__(self, objects: dict[str, Json] | None = None, config_maps: dict[str, dict[str, str]] | None = None):
        self.objects = objects or {}
        self.config_maps = config_maps or {}
        self.patches: list[tuple[str, Any]] = []
        self.unreachable = False

    def get(self, target: Target) -> Json:
        if self.unreachable:
            raise TemporaryError("cannot reach the API server", delay=1)
        if target.key not in self.objects:
            raise TargetNotFound(f"{target} not found")
        return copy.deepcopy(self.objects[target.key])

    def patch(self, target: Target, body: Json | list[Json], patch_type: PatchType = "strategic") -> Json:
        self.patches.append((target.key, body))
        obj = self.objects[target.key]
        if isinstance(body, dict):
            _merge(obj, body)
        return copy.deepcopy(obj)

    def list_pods(
        self, namespace: str | None = None, selector: dict[str, str] | None = None, node: str | None = None
    ) -> list[Json]:
        return []

    def list_replicasets(self, namespace: str, selector: dict[str, str]) -> list[Json]:
        return []

    def list_nodes(self) -> list[Json]:
        return []

    def delete_pod(self, namespace: str, name: str, uid: str | None = None, grace_seconds: int | None = None) -> None:
        self.objects.pop(f"pod/{namespace}/{name}", None)

    def evict_pod(self, namespace: str, name: str) -> None:
        self.objects.pop(f"pod/{namespace}/{name}", None)

    def create_job(self, namespace: str, body: Json) -> Json:
        return body

    def delete_job(self, namespace: str, name: str) -> None:
        return None

    def read_config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.config_maps.get(f"{namespace}/{name}")


def _merge(into: Json, patch: Json) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif value is None:
            into.pop(key, None)
        else:
            into[key] = value


def workload(name: str, replicas: int = 4, labels: dict[str, str] | None = None) -> Json:
    return {
        "metadata": {"name": name, "namespace": "shop", "labels": labels or {"app": name}, "generation": 1},
        "spec": {"replicas": replicas, "template": {"metadata": {}, "spec": {"containers": [{"name": "app"}]}}},
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
        },
    }


class CountingRunbook(Runbook):
    """Sets ``spec.replicas`` like scale does, counting every call; failures are scripted per call."""

    name = "counting"
    summary = "test runbook"
    kinds = frozenset({"deployment"})
    params_model = RunbookParams

    def __init__(self, apply_errors: list[Exception] | None = None, settles_after: int = 0) -> None:
        self.apply_errors = list(apply_errors or [])
        self.settles_after = settles_after
        self.applies = 0
        self.rollbacks = 0
        self.settle_checks = 0

    def plan(self, api: ClusterApi, target: Target, params: RunbookParams, ctx: PlanContext) -> Plan:
        obj = api.get(target)
        current = obj["spec"]["replicas"]
        return Plan(
            runbook=self.name,
            target=target,
            summary="bump",
            changes=[Change(path="spec.replicas", before=current, after=current + 1)],
            impact=Impact(scope="replicas", touched=1, total=current, healthy_after=current - 1),
            labels=obj["metadata"]["labels"],
            state={"replicas": current + 1, "previous": current},
        )

    def apply(self, api: ClusterApi, plan: Plan) -> None:
        self.applies += 1
        if self.apply_errors:
            raise self.apply_errors.pop(0)
        api.patch(plan.target, {"spec": {"replicas": plan.state["replicas"]}})

    def settled(self, api: ClusterApi, plan: Plan) -> bool:
        self.settle_checks += 1
        return self.settle_checks > self.settles_after

    def rollback(self, api: ClusterApi, plan: Plan) -> None:
        self.rollbacks += 1
        api.patch(plan.target, {"spec": {"replicas": plan.state["previous"]}})


class ScriptedVerification:
    def __init__(self, answers: list[Verification], clock: FakeClock | None = None, step: float = 0) -> None:
        self.answers = answers
        self.calls = 0

    def check(self, record: ActionRecord) -> Verification:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


Checkpoint = Callable[[str, ActionRecord], None]
