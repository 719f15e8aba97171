"""Crash safety on the real control plane: a crash between journal and call, and between call and verification,
recovers on restart without acting twice; a verification that says "not recovered" rolls the action back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.store.db import Store
from remediations.executor import Verification
from remediations.model import ActionRecord, ActionStatus, Step, Target
from tests.harness.cluster import ControlPlane
from tests.remediations.kubefixtures import create_ready_deployment, deployment, make_executor, replica_sets, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


class Crash(BaseException):
    pass


@pytest.fixture
def api(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with control_plane.api_client() as api_client:
        yield api_client


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'aiopsd.db'}")
    store.migrate()
    return store


def _crash_at(step: str):  # type: ignore[no-untyped-def]
    def checkpoint(at: str, _record: ActionRecord) -> None:
        if at == step:
            raise Crash(at)

    return checkpoint


def test_crash_between_journal_and_call_recovers_once(api: client.ApiClient, namespace: str, store: Store) -> None:
    create_ready_deployment(api, namespace, deployment("pay", replicas=1))
    target = Target.parse(f"deployment/{namespace}/pay")
    first = make_executor(
        api, journal=StoreActionJournal(store), audit=StoreAuditLog(store), checkpoint=_crash_at("journaled")
    )

    with pytest.raises(Crash):
        first.run("scale", target, {"replicas": 3}, "latency", "daemon:a", dry_run=False)

    journal = StoreActionJournal(store)
    [pending] = journal.unfinished()
    assert pending.step is Step.journaled and pending.status is ActionStatus.running
    assert client.AppsV1Api(api).read_namespaced_deployment("pay", namespace).spec.replicas == 1

    [result] = make_executor(api, journal=journal, audit=StoreAuditLog(store)).recover()

    assert result.status is ActionStatus.verified
    assert client.AppsV1Api(api).read_namespaced_deployment("pay", namespace).spec.replicas == 3
    assert journal.unfinished() == []
    assert make_executor(api, journal=journal, audit=StoreAuditLog(store)).recover() == []


def test_crash_between_call_and_verification_does_not_call_again(
    api: client.ApiClient, namespace: str, store: Store
) -> None:
    create_ready_deployment(api, namespace, deployment("cat", replicas=2))
    before = {rs.metadata.name for rs in replica_sets(api, namespace, "app=cat")}
    target = Target.parse(f"deployment/{namespace}/cat")
    first = make_executor(
        api, journal=StoreActionJournal(store), audit=StoreAuditLog(store), checkpoint=_crash_at("applied")
    )
    with pytest.raises(Crash):
        first.run("rollout-restart", target, {}, "leak", "daemon:a", dry_run=False)
    apps = client.AppsV1Api(api)
    generation = apps.read_namespaced_deployment("cat", namespace).metadata.generation

    [result] = make_executor(api, journal=StoreActionJournal(store), audit=StoreAuditLog(store)).recover()

    assert result.status is ActionStatus.verified
    assert apps.read_namespaced_deployment("cat", namespace).metadata.generation == generation
    assert len([rs for rs in replica_sets(api, namespace, "app=cat") if rs.metadata.name not in before]) == 1


class NeverRecovers:
    def __init__(self) -> None:
        self.calls = 0

    def check(self, record: ActionRecord) -> Verification:
        self.calls += 1
        return Verification(False, "error rate still 12% after the action")


def test_verification_failure_rolls_back(api: client.ApiClient, namespace: str, store: Store) -> None:
    create_ready_deployment(api, namespace, deployment("inv", replicas=1))
    target = Target.parse(f"deployment/{namespace}/inv")
    hook = NeverRecovers()

    result = make_executor(api, journal=StoreActionJournal(store), audit=StoreAuditLog(store)).run(
        "scale", target, {"replicas": 2}, "errors", "daemon:a", dry_run=False, verify=hook
    )

    assert result.status is ActionStatus.rolled_back
    assert result.exit_code == 4
    assert result.record.verification == "error rate still 12% after the action"
    assert client.AppsV1Api(api).read_namespaced_deployment("inv", namespace).spec.replicas == 1
    assert hook.calls == 1


KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from kubernetes import client
    from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
    from daemon.store.db import Store
    from remediations.model import Target
    from tests.remediations.kubefixtures import make_executor

    server, ca, token, db, target = sys.argv[1:6]
    cfg = client.Configuration(); cfg.host = server; cfg.ssl_ca_cert = ca
    cfg.api_key = {"authorization": "Bearer " + token}
    store = Store("sqlite:///" + db)
    def die(step, record):
        if step == "applied":
            os.kill(os.getpid(), signal.SIGKILL)
    executor = make_executor(client.ApiClient(cfg), journal=StoreActionJournal(store), audit=StoreAuditLog(store),
                             checkpoint=die)
    executor.run("rollout-restart", Target.parse(target), {}, "leak", "daemon:child", dry_run=False)
    """
)


def test_killed_process_is_recovered_by_the_next_one(
    control_plane: ControlPlane, api: client.ApiClient, namespace: str, store: Store, tmp_path: Path
) -> None:
    create_ready_deployment(api, namespace, deployment("kill", replicas=1))
    before = {rs.metadata.name for rs in replica_sets(api, namespace, "app=kill")}
    target = f"deployment/{namespace}/kill"
    db = store.url.removeprefix("sqlite:///")
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_CHILD,
            control_plane.server,
            str(control_plane.ca_file),
            control_plane.admin_token,
            db,
            target,
        ],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    journal = StoreActionJournal(store)
    [pending] = journal.unfinished()
    assert pending.step is Step.applied
    [result] = make_executor(api, journal=journal, audit=StoreAuditLog(store)).recover()

    assert result.status is ActionStatus.verified
    wait_for(lambda: len(replica_sets(api, namespace, "app=kill")) == len(before) + 1, what="one new ReplicaSet")
    assert StoreAuditLog(store).verify().ok
