"""Seasonal baselines: automatic period detection and STL initialisation (statsmodels), then a vectorised
Holt-Winters-like update of level and seasonal profile; the score is the calibrated residual."""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field
from statsmodels.tsa.seasonal import STL
from statsmodels.tsa.stattools import acf

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State
from detectors.streaming import nines_score

logger = logging.getLogger(__name__)


class SeasonalParams(DetectorParams):
    period: int | None = Field(None, ge=2, description="Points per season; None: detected from the training window.")
    max_period: int = Field(288, ge=2, description="Longest period considered (bounds the state per series).")
    min_acf: float = Field(0.3, gt=0, lt=1, description="Autocorrelation a period needs to be accepted.")
    level_alpha: float = Field(0.05, gt=0, lt=1, description="Weight of the newest point in the level.")
    season_alpha: float = Field(0.1, gt=0, lt=1, description="Weight of the newest point in its season slot.")
    resid_alpha: float = Field(0.01, gt=0, lt=1, description="Weight of the newest residual in its deviation.")
    warmup: int = Field(20, ge=2, description="Points seen before scores are emitted.")


def detect_period(series: FloatArray, max_period: int, min_acf: float) -> int | None:
    """The lag of the highest autocorrelation peak in 2..max_period, if it is a local peak above ``min_acf``."""
    x = series[np.isfinite(series)]
    if len(x) < 3 * 2 or np.ptp(x) == 0:
        return None
    nlags = min(max_period, len(x) // 2)
    r = acf(x - np.mean(x), nlags=nlags, fft=True)
    lags = np.arange(2, nlags)
    peaks = lags[(r[lags] > r[lags - 1]) & (r[lags] >= r[lags + 1]) & (r[lags] > min_acf)]
    return int(peaks[np.argmax(r[peaks])]) if len(peaks) else None


class SeasonalBaseline(Detector):
    name = "seasonal"
    Params = SeasonalParams
    default_threshold = 0.75
    description = "automatic period (ACF) + STL-initialised seasonal profile; calibrated residual score"
    params: SeasonalParams

    def init_state(self, n_series: int) -> State:
        z = np.zeros
        return {
            "period": np.full(n_series, self.params.period or 1, dtype=np.int64),
            "profile": z((n_series, self.params.max_period)),
            "level": z(n_series),
            "dev": z(n_series),
            "count": z(n_series, dtype=np.int64),
            "tick": z(n_series, dtype=np.int64),  # points including missing ones: keeps the season's phase
        }

    def fit(self, history: FloatArray, timestamps: FloatArray) -> None:
        """Detect each series' period, initialise its profile from STL, then consume the window."""
        p = self.params
        for i, series in enumerate(history):  # training only, not the per-tick path
            period = p.period or detect_period(series, p.max_period, p.min_acf)
            if period is None or period > p.max_period or np.isfinite(series).sum() < 2 * period + 1:
                continue
            filled = np.copy(series)
            missing = ~np.isfinite(filled)
            filled[missing] = np.interp(np.flatnonzero(missing), np.flatnonzero(~missing), filled[~missing])
            seasonal = STL(filled, period=period, robust=True).fit().seasonal
            # slot k holds the season of points whose running count ≡ k (mod period); the window starts at count
            start = int(self._state["tick"][i])
            profile = np.zeros(p.max_period)
            for k in range(period):
                profile[(start + k) % period] = np.mean(seasonal[k::period])
            self._state["period"][i] = period
            self._state["profile"][i] = profile
            logger.debug("series %d: period %d points", i, period)
        super().fit(history, timestamps)

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        s = self._state
        rows = np.arange(n)
        for j in range(t):
            x = values[:, j]
            ok = np.isfinite(x)
            slot = s["tick"] % s["period"]
            season = s["profile"][rows, slot]
            first = ok & (s["count"] == 0)
            s["level"] = np.where(first, np.where(ok, x, 0.0) - season, s["level"])
            expected = s["level"] + season
            resid = np.where(ok, x - expected, 0.0)
            scale = np.maximum(1.2533 * s["dev"], 1e-9 + 1e-6 * np.abs(s["level"]))
            warm = ok & (s["count"] >= p.warmup)
            out.scores[:, j] = np.where(warm, nines_score(np.abs(resid) / scale), 0.0)
            out.expected[:, j] = expected
            out.lower[:, j] = expected - 3 * scale
            out.upper[:, j] = expected + 3 * scale
            ra = np.maximum(p.resid_alpha, 1.0 / (s["count"] + 1.0))
            s["dev"] = np.where(ok & ~first, s["dev"] + ra * (np.abs(resid) - s["dev"]), s["dev"])
            s["level"] = np.where(ok, s["level"] + p.level_alpha * resid, s["level"])
            seasonal_slot = s["period"] > 1
            new_season = season + p.season_alpha * (1 - p.level_alpha) * resid
            s["profile"][rows, slot] = np.where(ok & seasonal_slot, new_season, season)
            s["count"] = s["count"] + ok
            s["tick"] = s["tick"] + 1
        return out
