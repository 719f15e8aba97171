"""Choose the default detector's configuration honestly: tune on one half of the NAB corpus, check on the other.

The corpus is split by alternating files in sorted order (every category lands in both halves). A coordinate search
over the parameters in SEARCH maximises the *tune* half's mean score over the three cost profiles (a change is kept
only if it gains more than --margin points, the noise floor); the *check* half is only measured. All files run as
one batch (series × time, padded with NaN), which is how the daemon runs detectors too.

    .venv/bin/python benchmarks/nab_bench.py --data /work/shared/data/nab [--rounds 2] [--json out.json]

Progress goes to stderr; the result (chosen params, tune/check/all scores for the three profiles) to stdout as
Markdown and, with --json, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from detectors import builtin_registry
from detectors.nab import PROFILES, NabCorpus, load_corpus
from detectors.nab.scoring import optimise_threshold
from detectors.streaming import NoveltyParams

SEARCH: dict[str, list[Any]] = {
    "slow_alpha": [0.0005, 0.001, 0.002, 0.005],
    "fast_alpha": [0.05, 0.1, 0.2],
    "season_alpha": [0.05, 0.1, 0.2],
    "record_decay": [0.0, 0.0001, 0.0002, 0.0005],
    "range_decay": [0.0, 0.0002, 0.0005, 0.002],
    "refractory": [50, 100, 200, 400],
    "alarm_level": [0.5, 0.55, 0.6],
    "combine": ["max", "sum"],
    "context_ref": [0.7, 0.8, 0.85, 0.9],
    "context_bins": [12, 16, 24],
    "context_lags": [4, 8, 12],
    "context_warmup": [200, 400, 800],
    "strict": [False, True],
    "persist": [(False,) * 6, (False,) * 4 + (True,) * 2, (False, False) + (True,) * 4],  # which kinds must hold
    "context_scales": [(1,), (1, 3), (1, 12)],
    "youth": [0.0, 0.05, 0.1, 0.2],
    "youth_points": [300, 500, 1000, 3000],
    # per evidence kind (level, range, shift, variance, season, season_shift): a weight below 1 asks more of it
    **{f"weight{k}": [0.7, 0.85, 1.0] for k in range(6)},
}


def to_params(trial: dict[str, Any]) -> dict[str, Any]:
    """Search keys to detector params: weight<k> entries become the ``weights`` tuple."""
    params = {k: v for k, v in trial.items() if not k.startswith("weight")}
    default = NoveltyParams().weights
    weights = [float(trial.get(f"weight{k}", default[k])) for k in range(6)]
    if tuple(weights) != tuple(default):
        params["weights"] = weights
    return params


def objective(scores: list[float]) -> float:
    """What the search maximises on the tune half: the mean of the three cost profiles' normalised scores."""
    return sum(scores) / len(scores)


def batch(corpus: NabCorpus) -> tuple[np.ndarray, np.ndarray]:
    length = max(len(f.series.values) for f in corpus)
    values = np.full((len(corpus), length), np.nan)
    stamps = np.zeros((len(corpus), length))
    for i, f in enumerate(corpus):
        values[i, : len(f.series.values)] = f.series.values
        stamps[i, : len(f.series.values)] = f.series.unix_seconds
    return values, stamps


def evaluate(
    corpus: NabCorpus, values: np.ndarray, stamps: np.ndarray, params: dict[str, Any]
) -> dict[str, list[float]]:
    detector = builtin_registry().create("novelty", to_params(params), len(corpus), 300.0)
    scores = detector.update(values, stamps).scores
    by_name = {f.name: scores[i, : len(f.series.values)] for i, f in enumerate(corpus)}
    names = [f.name for f in corpus]
    halves = {"tune": set(names[0::2]), "check": set(names[1::2]), "all": set(names)}
    result = {}
    for half, members in halves.items():
        layouts = {f.name: f.layout for f in corpus if f.name in members}
        result[half] = [round(optimise_threshold(by_name, layouts, p).normalized, 2) for p in PROFILES]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", help="comma-separated search keys to try (default: all)")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--margin", type=float, default=0.5, help="tune-half gain (points) a change must bring to be kept (noise floor)"
    )
    args = parser.parse_args()
    corpus = load_corpus(args.data)
    values, stamps = batch(corpus)
    best: dict[str, Any] = {}
    best_scores = evaluate(corpus, values, stamps, best)
    print(f"start {best_scores}", file=sys.stderr, flush=True)
    for round_ in range(args.rounds):
        for key, options in SEARCH.items():
            if args.only and key not in args.only.split(","):
                continue
            for option in options:
                trial = {**best, key: option}
                started = time.perf_counter()
                scores = evaluate(corpus, values, stamps, trial)
                took = time.perf_counter() - started
                print(
                    f"round {round_ + 1} {key}={option}: tune {scores['tune']} ({took:.1f}s)",
                    file=sys.stderr,
                    flush=True,
                )
                if objective(scores["tune"]) > objective(best_scores["tune"]) + args.margin:
                    best, best_scores = trial, scores
    print("## NAB default selection (novelty)\n")
    print(f"chosen parameters (changes from the code defaults): `{json.dumps(to_params(best))}`\n")
    print("| half | standard | reward_low_FP | reward_low_FN |\n|---|---|---|---|")
    for half in ("tune", "check", "all"):
        print(f"| {half} | " + " | ".join(f"{v:.1f}" for v in best_scores[half]) + " |")
    if args.json:
        args.json.write_text(json.dumps({"params": to_params(best), "scores": best_scores}, indent=2))


if __name__ == "__main__":
    main()
