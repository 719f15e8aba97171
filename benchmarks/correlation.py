"""Correlation benchmark: generated scenarios of 20–200 services with concurrent unrelated incidents.

Measures grouping quality (adjusted Rand index), root cause in the top-1 / top-3 candidates, how many ticks after
an incident's first anomaly its problem opened, replay speed, and duplicate problems across restarts injected at
random ticks (state through a real SQLite store). Prints the figures and writes JSON, Markdown and a
self-contained HTML report (inline PNG plots).

    .venv/bin/python benchmarks/correlation.py [--seeds 10] [--restarts 100] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.metrics import adjusted_rand_score

from daemon.correlation import ProblemCorrelator
from daemon.correlation.evaluation import evaluate, replay
from daemon.correlation.scenario import Scenario, generate_scenario
from daemon.problems import SqlProblemRepository
from daemon.settings.correlation import CorrelationSettings
from daemon.store import Store

SIZES = (20, 50, 100, 200)
TARGETS = {"adjusted_rand_index": 0.9, "top1": 0.8, "top3": 0.95, "max_open_delay_ticks": 1.0}


def incidents_for(services: int) -> int:
    return max(2, services // 25)


def quality(seeds: int, first_seed: int = 0) -> tuple[list[dict[str, Any]], dict[int, float]]:
    """Per-scenario scores, and per size the ARI over all its scenarios' anomalies pooled (scenario-prefixed labels),
    which a single misplaced background anomaly in a one-incident scenario cannot swing to 0."""
    rows = []
    pooled: dict[int, tuple[list[str], list[str]]] = {n: ([], []) for n in SIZES}
    for services in SIZES:
        for seed in range(first_seed, first_seed + seeds):
            scenario = generate_scenario(
                services=services, incidents=incidents_for(services), background=services // 10, seed=seed
            )
            started = time.perf_counter()
            result = replay(scenario, CorrelationSettings())
            elapsed = time.perf_counter() - started
            scores = evaluate(result)
            assert scenario.truth is not None
            pooled[services][0].extend(f"{seed}:{i}" for i in scenario.truth.incident_of)
            pooled[services][1].extend(f"{seed}:{p or f'none-{k}'}" for k, p in enumerate(result.assignment))
            ticks = max(1, len({round(a.ts // scenario.tick) for a in scenario.anomalies}))
            rows.append({"services": services, "seed": seed, **scores.__dict__, "replay_seconds": elapsed,
                         "ms_per_tick": 1000 * elapsed / ticks})  # fmt: skip
            print(f"  {services:>3} services seed {seed}: ARI {scores.adjusted_rand_index:.3f} "
                  f"top1 {scores.top1:.2f} top3 {scores.top3:.2f}", file=sys.stderr)  # fmt: skip
    return rows, {n: float(adjusted_rand_score(*pooled[n])) for n in SIZES}


def restarts(count: int, seed: int = 0) -> dict[str, Any]:
    """One scenario replayed with ``count`` restarts at random ticks vs without; compares the problems stored."""
    scenario = generate_scenario(services=60, incidents=4, background=6, seed=seed)
    ticks: dict[float, list[Any]] = {}
    for a in scenario.anomalies:
        ticks.setdefault((a.ts // scenario.tick + 1) * scenario.tick, []).append(a)
    times = sorted(ticks)
    settings = CorrelationSettings()
    tail = int(settings.quiet_period.total_seconds() // scenario.tick) + 3
    times += [times[-1] + k * scenario.tick for k in range(1, tail)]

    def run(points: Counter[int], db: Path) -> list[tuple[str, str, int]]:
        store = Store(f"sqlite:///{db}")
        store.migrate()
        correlator = _correlator(scenario, store, settings)
        for i, now in enumerate(times):
            for _ in range(points[i]):  # several restarts in a row are possible, each loads the store
                correlator = _correlator(scenario, store, settings)
            correlator.observe(ticks.get(now, []), now)
        snaps = SqlProblemRepository(store).list_snapshots(limit=100_000)
        store.dispose()
        return sorted((s.fingerprint, s.status, s.anomaly_count) for s in snaps)

    rng = random.Random(seed)
    points = Counter(rng.choices(range(len(times)), k=count))
    with tempfile.TemporaryDirectory() as tmp:
        baseline = run(Counter(), Path(tmp) / "a.db")
        restarted = run(points, Path(tmp) / "b.db")
    fingerprints = [f for f, _, _ in restarted]
    return {
        "restarts": sum(points.values()),
        "distinct_restart_ticks": len(points),
        "ticks": len(times),
        "problems_without_restarts": len(baseline),
        "problems_with_restarts": len(restarted),
        "duplicate_fingerprints": len(fingerprints) - len(set(fingerprints)),
        "identical_to_uninterrupted_run": baseline == restarted,
    }


def burst() -> dict[str, Any]:
    """Every anomaly of a 1,000-service, 40-incident scenario arriving in one tick (an alert storm)."""
    scenario = generate_scenario(services=1000, incidents=40, background=100, seed=5)
    correlator = ProblemCorrelator(scenario.build_topology(), CorrelationSettings(), tick=scenario.tick)
    started = time.perf_counter()
    correlator.observe(scenario.anomalies, max(a.ts for a in scenario.anomalies))
    elapsed = time.perf_counter() - started
    return {"anomalies": len(scenario.anomalies), "seconds": elapsed, "problems": len(correlator.problems())}


def _correlator(scenario: Scenario, store: Store, settings: CorrelationSettings) -> ProblemCorrelator:
    return ProblemCorrelator(scenario.build_topology(), settings, SqlProblemRepository(store), scenario.tick)


def summarise(rows: list[dict[str, Any]], pooled: dict[int, float]) -> list[dict[str, Any]]:
    out = []
    for services in SIZES:
        mine = [r for r in rows if r["services"] == services]
        incidents = sum(r["incidents"] for r in mine)
        out.append({
            "services": services,
            "scenarios": len(mine),
            "incidents": incidents,
            "adjusted_rand_index_pooled": pooled[services],
            "adjusted_rand_index_mean": statistics.mean(r["adjusted_rand_index"] for r in mine),
            "adjusted_rand_index_min": min(r["adjusted_rand_index"] for r in mine),
            "top1": sum(r["top1"] * r["incidents"] for r in mine) / max(incidents, 1),
            "top3": sum(r["top3"] * r["incidents"] for r in mine) / max(incidents, 1),
            "max_open_delay_ticks": max(r["max_open_delay_ticks"] for r in mine),
            "ms_per_tick_mean": statistics.mean(r["ms_per_tick"] for r in mine),
        })  # fmt: skip
    return out


def _plot(rows: list[dict[str, Any]], pooled: dict[int, float]) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for services in SIZES:
        values = [r["adjusted_rand_index"] for r in rows if r["services"] == services]
        axes[0].scatter([services] * len(values), values, alpha=0.6)
    axes[0].axhline(TARGETS["adjusted_rand_index"], color="red", linestyle="--", label="target")
    axes[0].set(title="Grouping: adjusted Rand index per scenario", xlabel="services", ylabel="ARI", ylim=(0, 1.05))
    axes[0].legend()
    summary = summarise(rows, pooled)
    axes[1].plot([s["services"] for s in summary], [s["top1"] for s in summary], marker="o", label="top-1")
    axes[1].plot([s["services"] for s in summary], [s["top3"] for s in summary], marker="o", label="top-3")
    axes[1].set(title="Root cause found", xlabel="services", ylabel="share of incidents", ylim=(0, 1.05))
    axes[1].legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def markdown(summary: list[dict[str, Any]], restart: dict[str, Any]) -> str:
    lines = [
        "# Correlation benchmark",
        "",
        "Generated scenarios (layered service graph, faults at a workload or node, propagation to callers with",
        "delays, decay and noise, unrelated background anomalies, decoy changes); replayed tick by tick.",
        "",
        "| services | scenarios | incidents | ARI pooled | ARI mean | ARI min | top-1 | top-3 | max open delay (ticks) "
        "| ms/tick |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        lines.append(
            f"| {s['services']} | {s['scenarios']} | {s['incidents']} | {s['adjusted_rand_index_pooled']:.3f} | "
            f"{s['adjusted_rand_index_mean']:.3f} | "
            f"{s['adjusted_rand_index_min']:.3f} | {s['top1']:.1%} | {s['top3']:.1%} | "
            f"{s['max_open_delay_ticks']:.2f} | {s['ms_per_tick_mean']:.1f} |"
        )
    lines += [
        "",
        f"Targets: ARI ≥ {TARGETS['adjusted_rand_index']}, top-1 ≥ 80 %, top-3 ≥ 95 %, opened ≤ 1 tick after the first "
        "anomaly.",
        "",
        "## Restarts",
        "",
        f"{restart['restarts']} restarts ({restart['distinct_restart_ticks']} distinct ticks of {restart['ticks']}) "
        f"through a SQLite store: {restart['problems_with_restarts']} problems vs "
        f"{restart['problems_without_restarts']} without restarts, {restart['duplicate_fingerprints']} duplicate "
        f"fingerprints, identical to the uninterrupted run: {restart['identical_to_uninterrupted_run']}.",
        "",
        "## Alert storm",
        "",
        f"{restart['storm']['anomalies']} anomalies of 1,000 services in one tick: "
        f"{restart['storm']['seconds']:.2f} s, {restart['storm']['problems']} problems.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--restarts", type=int, default=100)
    parser.add_argument(
        "--first-seed", type=int, default=100, help="seeds 0-9 were used while tuning; the default measures others"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    print(f"quality: {len(SIZES)} sizes x {args.seeds} seeds from {args.first_seed}", file=sys.stderr)
    rows, pooled = quality(args.seeds, args.first_seed)
    print(f"restarts: {args.restarts} at random ticks", file=sys.stderr)
    restart = restarts(args.restarts)
    storm = burst()
    restart["storm"] = storm
    summary = summarise(rows, pooled)
    md = markdown(summary, restart)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "correlation.json").write_text(
        json.dumps({"summary": summary, "restarts": restart, "scenarios": rows}, indent=2) + "\n", encoding="utf-8"
    )
    (args.out / "correlation.md").write_text(md, encoding="utf-8")
    body = md.replace("\n", "<br>\n")  # plain but readable; the table is repeated as HTML below
    table = "".join(
        f"<tr><td>{s['services']}</td><td>{s['adjusted_rand_index_pooled']:.3f}</td><td>{s['top1']:.1%}</td>"
        f"<td>{s['top3']:.1%}</td><td>{s['max_open_delay_ticks']:.2f}</td></tr>"
        for s in summary
    )
    html = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Correlation benchmark</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em}</style></head>"
        "<body><h1>Correlation benchmark</h1><table border='1'><tr><th>services</th><th>ARI (pooled)</th>"
        "<th>top-1</th>"
        f"<th>top-3</th><th>max open delay (ticks)</th></tr>{table}</table>"
        f"<p><img alt='quality plots' src='data:image/png;base64,{_plot(rows, pooled)}'></p>"
        "<details><summary>text</summary>"
        f"<p>{body}</p></details></body></html>\n"
    )
    (args.out / "correlation.html").write_text(html, encoding="utf-8")
    print(md)
    print(f"wrote {args.out}/correlation.json, .md, .html", file=sys.stderr)


if __name__ == "__main__":
    main()
