"""Two-sided CUSUM change-point detection on standardised values, vectorised across series."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State


class CusumParams(DetectorParams):
    alpha: float = Field(0.01, gt=0, lt=1, description="Weight of the newest point in the reference mean/deviation.")
    drift: float = Field(0.5, ge=0, description="Slack per point in deviations: smaller shifts are ignored.")
    limit: float = Field(8.0, gt=0, description="Cumulative sum (in deviations) that scores 0.5.")
    warmup: int = Field(30, ge=2, description="Points seen before scores are emitted.")


class Cusum(Detector):
    """Page's CUSUM in both directions; after a change is signalled the reference re-learns the new level."""

    name = "cusum"
    Params = CusumParams
    default_threshold = 0.6
    description = "two-sided CUSUM level-shift detector, resets after each change"
    params: CusumParams

    def init_state(self, n_series: int) -> State:
        z = np.zeros
        return {"mean": z(n_series), "dev": z(n_series), "up": z(n_series), "down": z(n_series),
                "count": z(n_series, dtype=np.int64)}  # fmt: skip

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        s = self._state
        for j in range(t):
            x = values[:, j]
            ok = np.isfinite(x)
            xs = np.where(ok, x, s["mean"])
            s["mean"] = np.where(ok & (s["count"] == 0), xs, s["mean"])
            scale = np.maximum(1.2533 * s["dev"], 1e-9 + 1e-6 * np.abs(s["mean"]))
            zval = (xs - s["mean"]) / scale
            warm = ok & (s["count"] >= p.warmup)
            s["up"] = np.where(warm, np.maximum(0.0, s["up"] + zval - p.drift), 0.0)
            s["down"] = np.where(warm, np.maximum(0.0, s["down"] - zval - p.drift), 0.0)
            stat = np.maximum(s["up"], s["down"])
            out.scores[:, j] = np.where(warm, stat / (stat + p.limit), 0.0)
            seen = s["count"] > 0
            out.expected[:, j] = np.where(seen, s["mean"], np.nan)
            out.lower[:, j] = np.where(seen, s["mean"] - 3 * scale, np.nan)
            out.upper[:, j] = np.where(seen, s["mean"] + 3 * scale, np.nan)
            changed = stat > p.limit
            # after a signalled change, the reference jumps to the new level and the sums restart
            s["mean"] = np.where(changed, xs, s["mean"])
            s["up"] = np.where(changed, 0.0, s["up"])
            s["down"] = np.where(changed, 0.0, s["down"])
            alpha = np.maximum(p.alpha, 1.0 / (s["count"] + 1.0))
            delta = xs - s["mean"]
            s["mean"] = s["mean"] + np.where(ok & ~changed, alpha * delta, 0.0)
            s["dev"] = s["dev"] + np.where(ok & ~changed, alpha * (np.abs(delta) - s["dev"]), 0.0)
            s["count"] = s["count"] + ok
        return out
