"""Composition of the remediations library for the daemon and the CLI: the one place that builds an Executor from
settings. The daemon's loop calls ``build_remediator(settings, store)`` once and then
``executor.run(runbook, target, params, reason, actor="daemon:<instance>", dry_run=False, verify=hook,
idempotency_key=f"{problem.fingerprint}:{runbook}:{target}", open_problems=n)`` per decision, and
``executor.recover(hook)`` after start and whenever it becomes leader."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from daemon.remediation.journal import StoreActionJournal, StoreAuditLog
from daemon.settings import Settings
from daemon.store.db import Store
from remediations.cluster import ClusterApi
from remediations.executor import Executor, Timing
from remediations.kube import KubeCluster, api_client_from
from remediations.policy import GuardPolicy, load_policy
from remediations.runbook import RunbookRegistry
from remediations.runbooks import builtin_registry

logger = logging.getLogger(__name__)

# without a policy file nothing is on the allowlist: every action is planned and guarded, then only dry-run
DRY_RUN_POLICY = GuardPolicy()


@dataclass
class Remediator:
    executor: Executor
    journal: StoreActionJournal
    audit: StoreAuditLog
    policy_source: str


def load_guard_policy(path: Path | None, registry: RunbookRegistry) -> tuple[GuardPolicy, str]:
    if path is None:
        return DRY_RUN_POLICY, "built-in (no policy file: everything is a dry run)"
    return load_policy(path, registry.names()), str(path)


def build_remediator(
    settings: Settings,
    store: Store,
    *,
    cluster: ClusterApi | None = None,
    policy_file: Path | None = None,
    kubeconfig: Path | None = None,
) -> Remediator:
    """An Executor over the store's journal and audit log, the built-in runbooks and the configured policy."""
    section = settings.remediation
    registry = builtin_registry()
    policy, source = load_guard_policy(policy_file or section.policy_file, registry)
    if cluster is None:
        cluster = KubeCluster(api_client_from(kubeconfig or section.kubeconfig, section.context))
    journal, audit = StoreActionJournal(store), StoreAuditLog(store)
    timing = Timing(
        settle_timeout=section.settle_timeout.total_seconds(),
        verify_timeout=section.verify_timeout.total_seconds(),
        poll_interval=section.poll_interval.total_seconds(),
        max_attempts=section.max_attempts,
    )
    executor = Executor(registry, cluster, policy, journal, audit, timing=timing)
    return Remediator(executor=executor, journal=journal, audit=audit, policy_source=source)
