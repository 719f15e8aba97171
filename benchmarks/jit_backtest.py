"""Backtest of the change risk model on the four JIT projects with the paper's protocol (time-ordered 80/20).

Runs ``aiopsd change backtest`` (the CLI contract) on each project, prints ROC AUC, PR AUC, F1 and calibration error
next to the published LApredict and DeepJIT AUCs, and writes a report (Markdown, self-contained HTML with reliability
diagrams, JSON) into ``--out``.

Usage: ``python benchmarks/jit_backtest.py [--data ../shared/data/jit] [--out jit-backtest]``
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from change_advisor.metrics import reliability

PUBLISHED = {"qt": (0.744, 0.693), "openstack": (0.749, 0.713), "gerrit": (0.750, 0.703), "go": (0.683, 0.689)}
AIOPSD = Path(sys.executable).parent / "aiopsd"
FIGURES = ("ROC AUC", "PR AUC", "F1", "calibration error")


def run_project(data: Path, project: str, out: Path) -> dict[str, float]:
    scores = out / f"{project}_scores.csv"
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(AIOPSD),
            "change",
            "backtest",
            str(data / project / f"{project}_k_feature.csv"),
            "--train-fraction",
            "0.8",
            "--scores-out",
            str(scores),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = {}
    for line in done.stdout.splitlines():
        name, _, rest = line.partition(":")
        if name in FIGURES:
            figures[name] = float(rest.split()[0])
    figures["seconds"] = time.perf_counter() - started
    return figures


def reliability_png(data: Path, out: Path) -> tuple[str, dict[str, list[tuple[float, float, int]]]]:
    figure = Figure(figsize=(6, 5))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect")
    bins = {}
    for project in PUBLISHED:
        truth = pd.read_csv(data / project / f"{project}_k_feature.csv", usecols=["_id", "bug"])
        scored = pd.read_csv(out / f"{project}_scores.csv").merge(truth, on="_id", how="left")
        bins[project] = reliability(scored["bug"].to_numpy(), scored["risk"].to_numpy())
        ax.plot([b[0] for b in bins[project]], [b[1] for b in bins[project]], marker="o", label=project)
    ax.set_xlabel("predicted probability of a defect-inducing change")
    ax.set_ylabel("observed share (test rows)")
    ax.set_title("Reliability on the newest 20 % of each project")
    ax.legend()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii"), bins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "jit")
    parser.add_argument("--out", type=Path, default=Path("jit-backtest"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for project in PUBLISHED:
        print(f"backtesting {project} …", file=sys.stderr, flush=True)
        results[project] = run_project(args.data, project, args.out)
    png, bins = reliability_png(args.data, args.out)
    header = "| project | ROC AUC | LApredict | DeepJIT | PR AUC | F1 | calibration error | seconds |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for project, f in results.items():
        lapredict, deepjit = PUBLISHED[project]
        lines.append(
            f"| {project} | {f['ROC AUC']:.3f} | {lapredict:.3f} | {deepjit:.3f} | {f['PR AUC']:.3f} "
            f"| {f['F1']:.3f} | {f['calibration error']:.3f} | {f['seconds']:.1f} |"
        )
    mean = sum(f["ROC AUC"] for f in results.values()) / len(results)
    above = all(f["ROC AUC"] > PUBLISHED[p][0] for p, f in results.items())
    verdict = (
        f"mean ROC AUC {mean:.3f} (target ≥ 0.78: {'met' if mean >= 0.78 else 'NOT met'}); "
        f"above LApredict on every project: {'yes' if above else 'no'}"
    )
    table = "\n".join(lines)
    print(table + "\n\n" + verdict)
    (args.out / "jit_backtest.md").write_text(
        f"# JIT backtest (time-ordered 80/20)\n\n{table}\n\n{verdict}\n\nReliability diagram: see jit_backtest.html.\n",
        encoding="utf-8",
    )
    rows = "".join(
        f"<tr><td>{p}</td><td>{f['ROC AUC']:.3f}</td><td>{PUBLISHED[p][0]:.3f}</td><td>{PUBLISHED[p][1]:.3f}</td>"
        f"<td>{f['PR AUC']:.3f}</td><td>{f['F1']:.3f}</td><td>{f['calibration error']:.3f}</td></tr>"
        for p, f in results.items()
    )
    (args.out / "jit_backtest.html").write_text(
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>JIT backtest</title>"
        "<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem}table{border-collapse:collapse}</style></head><body><h1>JIT backtest (time-ordered 80/20)"
        "</h1><table><tr><th>project</th><th>ROC AUC</th><th>LApredict</th><th>DeepJIT</th><th>PR AUC</th><th>F1</th>"
        f"<th>calibration error</th></tr>{rows}</table><p>{verdict}</p>"
        f'<img alt="reliability diagram" src="data:image/png;base64,{png}"></body></html>',
        encoding="utf-8",
    )
    (args.out / "jit_backtest.json").write_text(
        json.dumps({"results": results, "published": PUBLISHED, "mean_roc_auc": mean, "reliability": bins}, indent=2),
        encoding="utf-8",
    )
    print(f"report: {args.out}/jit_backtest.{{md,html,json}}", file=sys.stderr)


if __name__ == "__main__":
    main()
