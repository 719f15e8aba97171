"""Backtest of the change risk model on the four JIT projects with the paper's protocol (time-ordered 80/20).

Runs ``aiopsd change backtest`` (the CLI contract) on each project and prints ROC AUC, PR AUC, F1 and calibration
error next to the published LApredict and DeepJIT AUCs. Usage: ``python benchmarks/jit_backtest.py [DATA_DIR]``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / ".." / "shared" / "data" / "jit"
PUBLISHED = {"qt": (0.744, 0.693), "openstack": (0.749, 0.713), "gerrit": (0.750, 0.703), "go": (0.683, 0.689)}
AIOPSD = Path(sys.executable).parent / "aiopsd"


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for project, (lapredict, deepjit) in PUBLISHED.items():
            print(f"backtesting {project} …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            done = subprocess.run(
                [
                    str(AIOPSD),
                    "change",
                    "backtest",
                    str(DATA / project / f"{project}_k_feature.csv"),
                    "--train-fraction",
                    "0.8",
                    "--scores-out",
                    str(Path(tmp) / f"{project}.csv"),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - started
            figures = {
                line.split(":")[0]: float(line.split(":")[1].split()[0])
                for line in done.stdout.splitlines()
                if line.split(":")[0] in ("ROC AUC", "PR AUC", "F1", "calibration error")
            }
            rows.append((project, figures, lapredict, deepjit, seconds))
    print("| project | ROC AUC | LApredict | DeepJIT | PR AUC | F1 | calibration error | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for project, f, lapredict, deepjit, seconds in rows:
        print(
            f"| {project} | {f['ROC AUC']:.3f} | {lapredict:.3f} | {deepjit:.3f} | {f['PR AUC']:.3f} | {f['F1']:.3f} "
            f"| {f['calibration error']:.3f} | {seconds:.1f} |"
        )
    mean = sum(f["ROC AUC"] for _, f, *_ in rows) / len(rows)
    above = all(f["ROC AUC"] > lapredict for _, f, lapredict, *_ in rows)
    print(
        f"\nmean ROC AUC {mean:.3f} (target ≥ 0.78: {'met' if mean >= 0.78 else 'NOT met'}); "
        f"above LApredict on every project: {'yes' if above else 'no'}"
    )


if __name__ == "__main__":
    main()
