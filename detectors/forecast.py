"""Predictive detection for saturating resources: trend extrapolation to a capacity.

Per series, a least-squares line through the last ``window`` points (slow: resources that fill over hours) and
through the last ``fast_window`` points (fast: leaks that exhaust in minutes), vectorised over all series, missing
points left out. A line's slope counts only when it is *significant*: at least ``min_t`` standard errors above zero
(the standard error from the fit's residuals), and its rise over its span at least ``min_rise`` noise deviations. The
noise is the larger residual deviation of the line through the points *before* the fast window (a ramp's onset, which
the slow line fits badly, does not inflate it) and of the fast line (a few chance-aligned points are not a trend).
Without that test a new series' first points, or a flat series' noise, extrapolate to exhaustion within hours: on the
demo's pods a forecast of "full in 97 min" for a flat memory series was one in six new pods. Of the significant lines
the one reaching ``capacity`` first wins: the time to exhaustion is ``(capacity − fitted value now) / slope``. The
score rises as that time falls inside ``horizon_seconds`` and reaches 0.5 at the horizon, so a threshold above 0.5
fires *before* exhaustion (1.0 at exhaustion).

The state is the last ``window`` raw values per series, so warming up on history is a copy, not a replay.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State

# distinct points the noise estimate needs (a deviation from 12 samples is good to about ±20 %)
_NOISE_POINTS = 12


class TrendParams(DetectorParams):
    capacity: float | None = Field(None, description="Value at which the resource is exhausted (None: no forecast).")
    horizon_seconds: float = Field(6 * 3600.0, gt=0, description="Forecast anomalies start within this time.")
    window: int = Field(60, ge=4, le=2000, description="Points in the slow trend's line (resources that fill slowly).")
    fast_window: int = Field(18, ge=4, description="Points in the fast trend's line (leaks that exhaust in minutes).")
    min_t: float = Field(
        4.0, gt=0, description="A slope counts only at this many standard errors above zero (t statistic)."
    )
    min_rise: float = Field(
        8.0,
        ge=0,
        description="A line counts only if its rise over its span exceeds this many noise deviations.",
    )
    min_points: int = Field(
        8, ge=3, description="Points a line needs (not counting repeats of the previous value) before it forecasts."
    )

    @model_validator(mode="after")
    def _windows(self) -> TrendParams:
        if self.fast_window > self.window:
            raise ValueError(f"fast_window ({self.fast_window}) must not exceed window ({self.window})")
        if self.min_points > self.fast_window:
            raise ValueError(f"min_points ({self.min_points}) must not exceed fast_window ({self.fast_window})")
        return self


class _Line:
    """Least-squares lines through the rows of ``values`` (NaN left out); x is the point index, newest last.

    A series sampled faster than it changes (a query step below the scrape interval, a gauge updated every minute)
    repeats values; the repeats carry no information, so the fit's standard error is widened by ``sqrt(m / m_eff)``
    where ``m_eff`` counts the points that differ from their predecessor, and a line needs ``min_points`` of those.
    """

    def __init__(self, values: FloatArray, min_points: int) -> None:
        n, w = values.shape
        ok = np.isfinite(values)
        m = ok.sum(axis=1).astype(float)
        changed = ok[:, 1:] & (values[:, 1:] != values[:, :-1])  # NaN != anything: a point after a gap counts
        m_eff = (ok[:, :1] | changed[:, :1]).sum(axis=1) + changed.sum(axis=1).astype(float)
        x = np.broadcast_to(np.arange(w, dtype=float), (n, w))
        with np.errstate(divide="ignore", invalid="ignore"):
            mx = np.where(ok, x, 0.0).sum(axis=1) / m
            my = np.where(ok, values, 0.0).sum(axis=1) / m
            dx = np.where(ok, x - mx[:, None], 0.0)
            dy = np.where(ok, values - my[:, None], 0.0)
            sxx = (dx * dx).sum(axis=1)
            self.slope = (dx * dy).sum(axis=1) / sxx
            resid = dy - self.slope[:, None] * dx
            sd = np.sqrt((resid * resid).sum(axis=1) / (m - 2))
            self.stderr = sd / np.sqrt(sxx) * np.sqrt(m / m_eff)
            self.now = my + self.slope * (w - 1 - mx)
        present = np.where(ok, x, np.nan)
        with np.errstate(invalid="ignore"):
            self.span = np.nan_to_num(
                np.nanmax(present, axis=1, initial=-np.inf) - np.nanmin(present, axis=1, initial=np.inf), nan=0.0
            )
        self.sd = sd
        self.usable = (m_eff >= min_points) & (sxx > 0)

    def rising(self, min_t: float, min_rise: float, noise: FloatArray) -> NDArray[np.bool_]:
        with np.errstate(invalid="ignore"):
            t_ok = self.slope >= min_t * self.stderr
            rise_ok = self.slope * self.span >= min_rise * noise
            rising: NDArray[np.bool_] = self.usable & (self.slope > 0) & t_ok & rise_ok
        return rising


class TrendExhaustion(Detector):
    name = "trend"
    Params = TrendParams
    default_threshold = 0.6
    description = "Significant least-squares trends (slow and fast) extrapolated to a capacity: time to exhaustion"
    params: TrendParams

    def init_state(self, n_series: int) -> State:
        return {"recent": np.full((n_series, self.params.window), np.nan)}

    def fit(self, history: FloatArray, timestamps: FloatArray) -> None:
        self._push(history)

    def _push(self, values: FloatArray) -> None:
        w = self.params.window
        both = np.concatenate([self._state["recent"], values.astype(float)], axis=1)
        self._state["recent"] = both[:, -w:].copy()

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        ttx = np.full((n, t), np.inf)
        for j in range(t):
            self._push(values[:, j : j + 1])
            recent = self._state["recent"]
            slow = _Line(recent, p.min_points)
            fast = _Line(recent[:, -p.fast_window :], p.min_points)
            level = np.where(slow.usable, slow.now, np.nan)
            band = 3 * slow.sd
            out.expected[:, j] = level
            out.lower[:, j] = level - band
            out.upper[:, j] = level + band
            if p.capacity is None:
                continue
            before = _Line(recent[:, : -p.fast_window], _NOISE_POINTS)
            noise = np.where(before.usable, np.maximum(before.sd, fast.sd), np.inf)
            seconds = np.minimum(
                self._seconds(slow, p.capacity, noise),
                self._seconds(fast, p.capacity, noise),
            )
            ttx[:, j] = seconds
            # 1 at exhaustion, 0.5 at the horizon, towards 0 far beyond it
            out.scores[:, j] = np.where(np.isfinite(seconds), p.horizon_seconds / (p.horizon_seconds + seconds), 0.0)
        return DetectorOutput(out.scores, out.expected, out.lower, out.upper, time_to_exhaustion=ttx)

    def _seconds(self, line: _Line, capacity: float, noise: FloatArray) -> FloatArray:
        """Seconds until ``capacity`` along ``line`` where its rise is significant (inf: none; 0: already there)."""
        rising = line.rising(self.params.min_t, self.params.min_rise, noise)
        headroom = capacity - line.now
        with np.errstate(divide="ignore", invalid="ignore"):
            seconds = np.where(headroom <= 0, 0.0, headroom / (line.slope / self.step))
        return np.where(rising | (line.usable & (headroom <= 0)), seconds, np.inf)
