"""Multivariate outlier models (pyod) over the metrics of one entity, for anomalies no single metric shows.

Interface for the daemon: ``EntityDetector(model, window).score(data)`` with ``data`` shaped entities × metrics ×
time (NaN = missing). For every entity and every time t ≥ ``window``, a model is fitted on the ``window`` points
before t (causal) and scores the point at t; the score is the fraction of training points whose outlier score is
below it (a comparable [0, 1] rank), with an exponential tail beyond the training maximum.
Points before ``window`` score 0. Each metric is standardised on the training window so units do not matter.
Refitting every ``refit`` points bounds the cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from pyod.models.hbos import HBOS
from pyod.models.iforest import IForest
from pyod.models.mcd import MCD

from detectors.base import FloatArray

# ECOD, COPOD and HBOS score each metric's tails (fast, good for joint extremes); MCD (robust Mahalanobis) also sees
# broken relations between metrics (values normal alone, abnormal together); IForest sees them only weakly
MODELS: dict[str, Any] = {
    "ecod": ECOD,
    "copod": COPOD,
    "iforest": IForest,
    "hbos": HBOS,
    "mcd": MCD,
}


class EntityDetector:
    def __init__(self, model: str = "mcd", window: int = 500, refit: int = 50, seed: int = 0) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown multivariate model {model!r}; known: {sorted(MODELS)}")
        self.model, self.window, self.refit, self.seed = model, window, refit, seed

    def _new_model(self) -> Any:
        if self.model == "iforest":
            return IForest(random_state=self.seed)
        return MODELS[self.model]()

    def score(self, data: FloatArray) -> FloatArray:
        """Scores shaped entities × time."""
        n_entities, _, t = data.shape
        out = np.zeros((n_entities, t))
        for e in range(n_entities):  # entities are few per query; the models are not vectorised across them
            x = data[e].T  # time × metrics
            for start in range(self.window, t, self.refit):
                train = x[start - self.window : start]
                train = train[np.isfinite(train).all(axis=1)]
                if len(train) < 10:
                    continue
                mu, sd = train.mean(axis=0), train.std(axis=0) + 1e-9
                model = self._new_model()
                model.fit((train - mu) / sd)
                reference = np.sort(model.decision_scores_)
                block = x[start : start + self.refit]
                ok = np.isfinite(block).all(axis=1)
                if not ok.any():
                    continue
                raw = model.decision_function((block[ok] - mu) / sd)
                m = len(reference)
                rank = np.searchsorted(reference, raw, side="left") / (m + 1)
                # beyond the training maximum, an exponential tail keeps farther points ordered (no ties at 1)
                spread = max(float(reference[-1] - np.median(reference)), 1e-12)
                tail = 1.0 - np.exp(-np.maximum(raw - reference[-1], 0.0) / spread) / (m + 1)
                out[e, start + np.flatnonzero(ok)] = np.where(raw > reference[-1], tail, rank)
        return out
