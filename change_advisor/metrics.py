"""Quality of probabilistic scores: ROC AUC, PR AUC (average precision), F1 at a threshold, calibration error."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict


class ScoreQuality(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int
    failures: int
    roc_auc: float
    pr_auc: float
    f1: float
    threshold: float
    calibration_error: float


def roc_auc(outcome: np.ndarray, score: np.ndarray) -> float:
    """Probability that a failed change scores above a successful one (ties count half)."""
    y = np.asarray(outcome, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(score, dtype=float)).rank(method="average").to_numpy()
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def pr_auc(outcome: np.ndarray, score: np.ndarray) -> float:
    """Average precision: the mean of the precision at the rank of every failed change."""
    y = np.asarray(outcome, dtype=bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    hits = y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())


def f1_at(outcome: np.ndarray, score: np.ndarray, threshold: float) -> float:
    y = np.asarray(outcome, dtype=bool)
    predicted = np.asarray(score, dtype=float) >= threshold
    tp = int((predicted & y).sum())
    denominator = int(predicted.sum()) + int(y.sum())
    return 2 * tp / denominator if denominator else 0.0


def best_f1_threshold(outcome: np.ndarray, score: np.ndarray) -> float:
    """The threshold that maximises F1 on the given (training) rows."""
    candidates = np.unique(np.quantile(np.asarray(score, dtype=float), np.linspace(0.05, 0.95, 91)))
    return float(max(candidates, key=lambda t: f1_at(outcome, score, float(t))))


def calibration_error(outcome: np.ndarray, probability: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |mean probability − failure rate| over 10 equal-width bins, weighted by size."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(error)


def reliability(outcome: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean probability, observed failure rate, rows) per non-empty bin: the reliability diagram."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    return [
        (float(p[index == b].mean()), float(y[index == b].mean()), int((index == b).sum()))
        for b in range(bins)
        if (index == b).any()
    ]


def score_quality(outcome: np.ndarray, probability: np.ndarray, threshold: float) -> ScoreQuality:
    y = np.asarray(outcome, dtype=float)
    return ScoreQuality(
        rows=len(y),
        failures=int(y.sum()),
        roc_auc=roc_auc(y, probability),
        pr_auc=pr_auc(y, probability),
        f1=f1_at(y, probability, threshold),
        threshold=threshold,
        calibration_error=calibration_error(y, probability),
    )
