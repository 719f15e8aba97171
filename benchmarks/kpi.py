"""KPI and knowledge benchmark.

1. Speed: the KPIs (and a /metrics scrape) over a store of N problems with their events, written through the real
   problem repository into SQLite.
2. The flywheel: a simulated policy that acts when the knowledge base's confidence reaches a threshold and asks a
   person otherwise, over weeks of recurring problems whose runbooks truly work with a known probability. Shows the
   automation rate rising week over week for reliable runbooks while unreliable ones stay with people.

    .venv/bin/python benchmarks/kpi.py [--sizes 1000 10000] [--weeks 8] [--threshold 0.7] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from daemon.correlation.model import Member, Problem
from daemon.domain import ProblemEvent, RootCauseCandidate
from daemon.knowledge import KnowledgeBase
from daemon.kpi import KpiCollector, compute_kpis
from daemon.problems import SqlProblemRepository
from daemon.reports import kpi_report
from daemon.settings.kpi import KpiSettings
from daemon.store import Store

WEEK = 7 * 86400.0
START = 1_780_000_000.0
# signature → (runbook, probability it truly fixes the problem)
SIGNATURES = {
    "deployment:memory_leak": ("rollout-restart", 0.95),
    "deployment:bad_rollout": ("rollback", 0.9),
    "node:memory_pressure": ("cordon-drain", 0.85),
    "deployment:latency": ("scale-up", 0.6),
    "pod:crash_loop": ("delete-pod", 0.3),
    "volume:disk_full": ("expand-volume", 0.75),
}


def _problem(i: int, signature: str, opened: float) -> Problem:
    kind, symptom = signature.split(":")
    entity = f"{kind}/ns{i % 20}/w{i}"
    member = Member(f"k{i}", opened - 45, entity, entity, None, (entity,), 0.9, symptom, f"{symptom}_q")
    return Problem(
        id=f"p-{i:012d}",
        fingerprint=f"f{i:015d}",
        base_key=f"{entity}|{symptom}",
        status="open",
        opened_at=opened,
        updated_at=opened,
        title=f"{symptom} at {entity}",
        members=[member],
        candidates=[RootCauseCandidate(entity=entity, confidence=0.8)],
    )


def _event(kind: str, problem: Problem, ts: float, details: dict[str, str | float | int | bool | None]) -> ProblemEvent:
    return ProblemEvent(kind=kind, problem=problem.snapshot(), ts=ts, message=kind, details=details)  # type: ignore[arg-type]


def simulate(store: Store, n: int, weeks: int, threshold: float, seed: int = 7) -> list[dict[str, float]]:
    """n problems spread over the weeks; the policy consults the knowledge base for each one."""
    rng = random.Random(seed)
    kb = KnowledgeBase(store)
    repo = SqlProblemRepository(store)
    names = list(SIGNATURES)
    per_week: list[dict[str, float]] = [{"acted": 0, "asked": 0, "failed_actions": 0} for _ in range(weeks)]
    batch: tuple[list[Problem], list[ProblemEvent]] = ([], [])
    for i in range(n):
        opened = START + (i + 0.5) * weeks * WEEK / n
        week = int((opened - START) // WEEK)
        signature = rng.choice(names)
        runbook, p_fix = SIGNATURES[signature]
        problem = _problem(i, signature, opened)
        events = [_event("opened", problem, opened, {"anomalies": 1})]
        confidence = kb.confidence(signature, runbook).mean
        works = rng.random() < p_fix
        target = problem.candidates[0].entity
        if confidence >= threshold:
            per_week[week]["acted"] += 1
            status = "verified" if works else "failed"
            details = {"runbook": runbook, "target": target, "status": status, "confidence": confidence,
                       "actor": "daemon:bench-0", "action_id": f"a{i}"}  # fmt: skip
            events.append(_event("action", problem, opened + 60, details))
            if not works:
                per_week[week]["failed_actions"] += 1
                events.append(_event("escalated", problem, opened + 61,
                                     {"reason": "verification_failed", "confidence": confidence}))  # fmt: skip
                events.append(_event("resolved", problem, opened + 3600, {"by": "user:oncall"}))
            else:
                events.append(_event("resolved", problem, opened + 420, {}))
        else:
            per_week[week]["asked"] += 1
            events.append(
                _event("escalated", problem, opened + 5, {"reason": "low_confidence", "confidence": confidence})
            )
            # the person on call tries the runbook by hand: it teaches the knowledge base either way
            by_hand = {"runbook": runbook, "target": target, "status": "verified" if works else "failed",
                       "actor": "user:oncall", "action_id": f"m{i}"}  # fmt: skip
            events.append(_event("action", problem, opened + 1800, by_hand))
            events.append(_event("resolved", problem, opened + 2400, {"by": "user:oncall"}))
        resolved_at = events[-1].ts
        problem.status, problem.resolved_at = "resolved", resolved_at
        batch[0].append(problem)
        batch[1].extend(events)
        for event in events:
            if event.kind == "action" and str(event.details.get("actor", "")).startswith("user:"):
                kb.record_outcome(event.problem, runbook, target, "manual" if works else "failed", event.ts)
            else:
                kb.observe(event)
        if len(batch[0]) >= 500:
            repo.save(*batch)
            batch = ([], [])
        if (i + 1) % max(n // 10, 1) == 0:
            print(f"  simulated {i + 1}/{n} problems", file=sys.stderr)
    if batch[0]:
        repo.save(*batch)
    return per_week


def speed(size: int, settings: KpiSettings, weeks: int, threshold: float) -> dict[str, float]:
    until = START + weeks * WEEK
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db")
        store.migrate()
        print(f"building a store of {size} problems…", file=sys.stderr)
        t0 = time.perf_counter()
        simulate(store, size, weeks, threshold)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        compute_kpis(store, settings, until - WEEK, until)
        compute = time.perf_counter() - t0
        registry = CollectorRegistry()
        registry.register(KpiCollector(store, settings, lambda: until))
        t0 = time.perf_counter()
        generate_latest(registry)
        scrape = time.perf_counter() - t0
        store.dispose()
    print(f"{size:>7} problems: KPI report (last week + {weeks} weekly windows) {compute:.3f} s, "
          f"/metrics scrape {scrape:.3f} s (store built in {build:.1f} s)")  # fmt: skip
    return {"problems": size, "build_s": build, "compute_kpis_s": compute, "metrics_scrape_s": scrape}


def flywheel(size: int, settings: KpiSettings, weeks: int, threshold: float) -> dict[str, object]:
    until = START + weeks * WEEK
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/flywheel.db")
        store.migrate()
        per_week = simulate(store, size, weeks, threshold)
        report = compute_kpis(store, settings, until - WEEK, until)
        kb = KnowledgeBase(store)
        learnt = {s: kb.confidence(s, rb) for s, (rb, _) in SIGNATURES.items()}
        store.dispose()
    lines = [
        f"flywheel: {size} problems over {weeks} weeks, the policy acts when confidence ≥ {threshold}",
        "",
        "| week | auto-resolution | deflection | acted | asked | failed actions | cost/resolution |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, (w, p) in enumerate(zip(report.weeks, per_week, strict=True)):
        lines.append(
            f"| {k + 1} | {w.auto_resolution_rate or 0:.1%} | {w.deflection_rate or 0:.1%} | {p['acted']:.0f} "
            f"| {p['asked']:.0f} | {p['failed_actions']:.0f} | {w.cost_per_resolution or 0:.2f} |"
        )
    lines += ["", "| signature | runbook | learnt confidence | true success rate | worked | failed |"]
    lines += ["|---|---|---|---|---|---|"]
    for s, (rb, p_fix) in SIGNATURES.items():
        c = learnt[s]
        lines.append(f"| {s} | {rb} | {c.mean:.3f} | {p_fix:.2f} | {c.successes} | {c.failures} |")
    print("\n" + "\n".join(lines))
    return {
        "markdown": lines,
        "html": kpi_report.render_html(report),
        "problems": size,
        "weeks": [w.model_dump() for w in report.weeks],
        "policy": per_week,
        "confidence": {s: c.model_dump() for s, c in learnt.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="problems in the speed runs")
    parser.add_argument("--flywheel", type=int, default=240, help="problems in the flywheel run")
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    settings = KpiSettings(weeks=args.weeks)
    results = {
        "threshold": args.threshold,
        "speed": [speed(size, settings, args.weeks, args.threshold) for size in args.sizes],
        "flywheel": flywheel(args.flywheel, settings, args.weeks, args.threshold),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    fly: dict[str, object] = results["flywheel"]  # type: ignore[assignment]
    (args.out / "kpi_flywheel.html").write_text(str(fly.pop("html")))
    markdown = ["# KPI benchmark", "", "| problems | KPI report (s) | /metrics scrape (s) |", "|---|---|---|"]
    markdown += [
        f"| {r['problems']} | {r['compute_kpis_s']:.3f} | {r['metrics_scrape_s']:.3f} |" for r in results["speed"]
    ]  # type: ignore[attr-defined]
    markdown += ["", *fly.pop("markdown"), "", "The KPI report of the flywheel's store: kpi_flywheel.html"]  # type: ignore[misc]
    (args.out / "kpi.md").write_text("\n".join(markdown) + "\n")
    (args.out / "kpi.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out}/kpi.json, kpi.md and kpi_flywheel.html", file=sys.stderr)


if __name__ == "__main__":
    main()
