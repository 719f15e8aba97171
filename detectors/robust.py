"""Streaming robust statistics, vectorised across series."""

from __future__ import annotations

import numpy as np
from pydantic import Field
from scipy.special import erfc

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State


class EwmaParams(DetectorParams):
    alpha: float = Field(0.05, gt=0, lt=1, description="Weight of the newest point in the mean and variance.")
    warmup: int = Field(20, ge=2, description="Points seen before scores are emitted.")
    band: float = Field(3.0, gt=0, description="Width of the expected band in standard deviations.")
    min_std: float = Field(1e-9, ge=0, description="Floor of the standard deviation (flat series).")


class EwmaZScore(Detector):
    """Exponentially weighted mean and variance; the score is the two-sided normal tail of the z-score."""

    name = "ewma"
    Params = EwmaParams
    default_threshold = 0.999
    description = "EWMA mean/variance z-score, one pass, O(1) state per series"
    params: EwmaParams

    def init_state(self, n_series: int) -> State:
        return {
            "mean": np.zeros(n_series),
            "var": np.zeros(n_series),
            "count": np.zeros(n_series, dtype=np.int64),
        }

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        mean, var, count = self._state["mean"], self._state["var"], self._state["count"]
        for j in range(t):
            x = values[:, j]
            ok = np.isfinite(x)
            std = np.maximum(np.sqrt(var), p.min_std)
            warm = ok & (count >= p.warmup)
            z = np.where(warm, np.abs(x - mean) / std, 0.0)
            out.scores[:, j] = np.where(warm, 1.0 - erfc(z / np.sqrt(2.0)), 0.0)
            out.expected[:, j] = np.where(count > 0, mean, np.nan)
            out.lower[:, j] = np.where(count > 0, mean - p.band * std, np.nan)
            out.upper[:, j] = np.where(count > 0, mean + p.band * std, np.nan)
            first = ok & (count == 0)
            delta = np.where(ok, x - mean, 0.0)
            mean += np.where(first, delta, p.alpha * delta)
            var[:] = np.where(ok & ~first, (1 - p.alpha) * (var + p.alpha * delta * delta), var)
            count += ok
        return out
