"""Points per second and bytes of state per series for each detector family, from 1 to 100k series.

One tick = every series advances by one point (what the daemon does each poll). Each size is warmed up with a short
history, then ticks are timed (median of several). Runs on one core (BLAS threads pinned to 1).

    .venv/bin/python benchmarks/detect_throughput.py [--sizes 1,10,100,1000,10000,100000] [--json F] [--html F]

Markdown to stdout, progress to stderr; --json for machines, --html for a self-contained page with the curves.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import base64  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from detectors import DEFAULT_DETECTOR, builtin_registry  # noqa: E402

FAMILIES: dict[str, dict[str, Any]] = {
    DEFAULT_DETECTOR: {},
    "ewma": {},
    "cusum": {},
    "seasonal": {"period": 24},
    "trend": {"capacity": 100.0},
    "ensemble": {},
}
STEP = 60.0


def measure(name: str, params: dict[str, Any], n: int, warmup: int, ticks: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    detector = builtin_registry().create(name, params, n, STEP)
    history = 50 + rng.normal(0, 1, (n, warmup))
    detector.update(history, np.arange(warmup) * STEP)
    times = []
    for k in range(ticks):
        point = 50 + rng.normal(0, 1, (n, 1))
        started = time.perf_counter()
        detector.update(point, np.array([(warmup + k) * STEP]))
        times.append(time.perf_counter() - started)
    seconds = float(np.median(times))
    state_bytes = sum(v.nbytes for v in detector.get_state().values()) / n
    return {
        "series": n,
        "tick_seconds": seconds,
        "points_per_second": n / seconds,
        "state_bytes_per_series": state_bytes,
    }


def html_report(results: dict[str, list[dict[str, float]]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in results.items():
        xs = [r["series"] for r in rows]
        axes[0].loglog(xs, [r["points_per_second"] for r in rows], marker="o", label=name)
        axes[1].loglog(xs, [r["tick_seconds"] for r in rows], marker="o", label=name)
    axes[0].set(xlabel="series", ylabel="points / second", title="Throughput (one core)")
    axes[1].axhline(0.5, color="red", linestyle="--", label="0.5 s target")
    axes[1].set(xlabel="series", ylabel="seconds per tick", title="Tick latency")
    axes[1].legend(fontsize=8)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    image = base64.b64encode(buffer.getvalue()).decode()
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>aiopsd detector throughput</title></head><body>"
        f"<h1>Detector throughput</h1><img alt='throughput curves' src='data:image/png;base64,{image}'>"
        f"<pre>{markdown(results)}</pre></body></html>"
    )


def markdown(results: dict[str, list[dict[str, float]]]) -> str:
    lines = ["| detector | series | s / tick | points / s | state B / series |", "|---|---:|---:|---:|---:|"]
    for name, rows in results.items():
        for r in rows:
            lines.append(
                f"| {name} | {r['series']:,} | {r['tick_seconds']:.4f} | {r['points_per_second']:,.0f} "
                f"| {r['state_bytes_per_series']:,.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100,1000,10000,100000")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--ticks", type=int, default=5)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--html", type=Path)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, list[dict[str, float]]] = {}
    for name in args.families.split(","):
        results[name] = []
        for n in sizes:
            row = measure(name, FAMILIES.get(name, {}), n, args.warmup, args.ticks)
            results[name].append(row)
            print(
                f"{name} n={n}: {row['tick_seconds']:.4f}s/tick {row['state_bytes_per_series']:.0f} B", file=sys.stderr
            )
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.html:
        args.html.write_text(html_report(results))


if __name__ == "__main__":
    main()
