"""Measure remediation: control-plane start, end-to-end action latency per runbook on the real control plane,
guard decisions per second, audit-log append and verify rates. Prints a table; ``--json FILE`` writes the numbers.

    .venv/bin/python benchmarks/remediation.py [--json out.json] [--replicas 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.devcluster import DevControlPlane, default_bin_dir, missing_binaries
from daemon.remediation.journal import StoreAuditLog
from daemon.store.db import Store
from remediations.guards import GuardEvaluator, GuardRequest
from remediations.journal import InMemoryJournal
from remediations.model import ActionRecord, ActionStatus, AuditEntry, Impact, Plan, Target
from remediations.policy import GuardPolicy
from tests.remediations.kubefixtures import create_ready_deployment, deployment, make_executor


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bench_guards(n: int = 20000, history: int = 2000) -> float:
    journal = InMemoryJournal()
    now = time.time()
    for i in range(history):
        journal.record(
            ActionRecord(
                id=f"a{i}",
                idempotency_key=f"k{i}",
                runbook="scale",
                target=Target.parse(f"deployment/shop/d{i % 50}"),
                actor="daemon:x",
                status=ActionStatus.verified,
                created_at=now - i,
                updated_at=now - i,
            )
        )
    policy = GuardPolicy.model_validate({"allow": [{"namespaces": ["shop"]}], "kill_switch": None})
    evaluator = GuardEvaluator(policy, None, journal, time.time)
    target = Target.parse("deployment/shop/cart")
    plan = Plan(runbook="scale", target=target, summary="s", impact=Impact(scope="replicas", touched=1, total=4))
    request = GuardRequest(action_id="x", runbook="scale", disruptive=False, target=target, plan=plan, by_daemon=True)
    runs = max(1, n // 100)
    start = time.perf_counter()
    for _ in range(runs):
        evaluator.evaluate(request)
    return runs / (time.perf_counter() - start)


def bench_audit(n: int = 1000) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/a.db")
        store.migrate()
        audit = StoreAuditLog(store)
        start = time.perf_counter()
        for i in range(n):
            audit.append(
                AuditEntry(
                    ts=float(i),
                    actor="daemon:x",
                    event="verified",
                    action_id=f"a{i}",
                    runbook="scale",
                    target="deployment/shop/cart",
                    outcome="ok",
                )
            )
        append_rate = n / (time.perf_counter() - start)
        start = time.perf_counter()
        assert audit.verify().ok
        verify_rate = n / (time.perf_counter() - start)
        store.dispose()
    return append_rate, verify_rate


def bench_cluster(replicas: int, rounds: int) -> dict[str, Any]:
    if missing_binaries(default_bin_dir()):
        progress("control-plane binaries missing: run `make cluster`; skipping cluster numbers")
        return {}
    out: dict[str, Any] = {}
    starts = []
    progress("starting the control plane")
    t0 = time.perf_counter()
    plane = DevControlPlane().start()
    starts.append(time.perf_counter() - t0)
    out["control_plane_start_s"] = round(starts[0], 2)
    try:
        cfg = client.Configuration()
        cfg.host, cfg.ssl_ca_cert = plane.server, str(plane.ca_file)
        cfg.api_key = {"authorization": f"Bearer {plane.admin_token}"}
        api = client.ApiClient(cfg)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "bench"}})
        create_ready_deployment(api, "bench", deployment("web", replicas=replicas))
        executor = make_executor(api)
        target = Target.parse("deployment/bench/web")
        for name, params in (
            ("rollout-restart", lambda i: {}),
            ("scale", lambda i: {"replicas": replicas + 1 if i % 2 == 0 else replicas}),
            ("raise-limits", lambda i: {"memory": f"{256 + 64 * i}Mi"}),
        ):
            times = []
            for i in range(rounds):
                progress(f"{name} round {i + 1}/{rounds}")
                t0 = time.perf_counter()
                result = executor.run(name, target, params(i), "bench", "user:bench", dry_run=False)
                times.append(time.perf_counter() - t0)
                assert result.status is ActionStatus.verified, result.record
            out[f"{name}_to_verified_s_median"] = round(statistics.median(times), 2)
            out[f"{name}_to_verified_s_max"] = round(max(times), 2)
    finally:
        plane.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    progress("guard decisions")
    results: dict[str, Any] = {"guard_decisions_per_s": round(bench_guards())}
    progress("audit log")
    append_rate, verify_rate = bench_audit()
    results |= {"audit_appends_per_s_sqlite": round(append_rate), "audit_verify_entries_per_s": round(verify_rate)}
    results |= bench_cluster(args.replicas, args.rounds)
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
