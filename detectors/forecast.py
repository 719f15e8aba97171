"""Predictive detection for saturating resources: trend extrapolation to a capacity.

A damped-free Holt (level + trend) filter per series, vectorised. When the trend points at ``capacity``, the time to
exhaustion is ``(capacity − level) / trend``; the score rises as that time falls inside ``horizon_seconds`` and
reaches 0.5 at the horizon, so a threshold above 0.5 fires *before* exhaustion (1.0 at exhaustion).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State


class TrendParams(DetectorParams):
    capacity: float | None = Field(None, description="Value at which the resource is exhausted (None: no forecast).")
    horizon_seconds: float = Field(6 * 3600.0, gt=0, description="Forecast anomalies start within this time.")
    level_alpha: float = Field(0.1, gt=0, lt=1, description="Weight of the newest point in the level.")
    trend_alpha: float = Field(0.02, gt=0, lt=1, description="Weight of the newest slope in the trend.")
    warmup: int = Field(20, ge=2, description="Points seen before forecasts are made.")


class TrendExhaustion(Detector):
    name = "trend"
    Params = TrendParams
    default_threshold = 0.6
    description = "Holt level+trend extrapolation to a capacity: time to exhaustion and forecast anomalies"
    params: TrendParams

    def init_state(self, n_series: int) -> State:
        z = np.zeros
        return {"level": z(n_series), "trend": z(n_series), "dev": z(n_series), "count": z(n_series, dtype=np.int64)}

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        ttx = np.full((n, t), np.inf)
        s = self._state
        for j in range(t):
            x = values[:, j]
            ok = np.isfinite(x)
            xs = np.where(ok, x, s["level"])
            first = ok & (s["count"] == 0)
            forecast = np.where(first, xs, s["level"] + s["trend"])
            la = np.maximum(p.level_alpha, 1.0 / (s["count"] + 1.0))
            new_level = np.where(ok, forecast + la * (xs - forecast), s["level"])
            slope = new_level - s["level"]
            ta = np.maximum(p.trend_alpha, 1.0 / (s["count"] + 1.0))
            s["trend"] = np.where(ok & ~first, s["trend"] + ta * (slope - s["trend"]), s["trend"])
            s["dev"] = np.where(ok & ~first, s["dev"] + la * (np.abs(xs - forecast) - s["dev"]), s["dev"])
            s["level"] = new_level
            s["count"] = s["count"] + ok
            band = 3 * 1.2533 * s["dev"]
            out.expected[:, j] = s["level"]
            out.lower[:, j] = s["level"] - band
            out.upper[:, j] = s["level"] + band
            if p.capacity is None:
                continue
            warm = s["count"] >= p.warmup
            headroom = p.capacity - s["level"]
            per_second = s["trend"] / self.step
            with np.errstate(divide="ignore", invalid="ignore"):
                seconds = np.where(headroom <= 0, 0.0, np.where(per_second > 0, headroom / per_second, np.inf))
            seconds = np.where(warm, seconds, np.inf)
            ttx[:, j] = seconds
            # 1 at exhaustion, 0.5 at the horizon, towards 0 far beyond it
            out.scores[:, j] = np.where(np.isfinite(seconds), p.horizon_seconds / (p.horizon_seconds + seconds), 0.0)
        return DetectorOutput(out.scores, out.expected, out.lower, out.upper, time_to_exhaustion=ttx)
