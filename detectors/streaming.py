"""The project default: calibrated streaming evidence with sparse, early alarms, vectorised across series.

Four kinds of evidence are kept per series in O(1) state, each updated once per point for all series at once:

- *level*: distance of the point from a slow EW mean, in units of the slow EW absolute deviation (spikes, dips);
- *range break*: how far the point leaves the range the series has shown so far, relative to that range (the series
  does something it has never done);
- *shift*: a fast EW mean against the slow one, in slow deviations (level shifts, CUSUM-like accumulation);
- *variance*: the log ratio of fast to slow EW absolute deviation (variance changes).

Raw evidence is not comparable across series, so each kind is calibrated against its own history on that series
(the score's EW mean and deviation: an "anomaly likelihood" in the sense of Numenta's HTM) into a normal-tail
probability. The final score is the strongest calibrated evidence. Alarms are made sparse: after a score at or
above the alarm level, the series is quiet for ``refractory`` points, so one incident raises one early alarm.
"""

from __future__ import annotations

import numpy as np
from typing import Literal

from pydantic import Field
from scipy.special import log_ndtr

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State

KINDS = ("level", "range", "shift", "variance")


class NoveltyParams(DetectorParams):
    slow_alpha: float = Field(0.002, gt=0, lt=1, description="Weight of the newest point in the slow baseline.")
    fast_alpha: float = Field(0.1, gt=0, lt=1, description="Weight of the newest point in the fast baseline.")
    calibration: Literal["likelihood", "record"] = Field(
        "record",
        description="likelihood: z of the raw score against its EW mean/deviation; "
        "record: ratio of the raw score to its slowly decaying running maximum.",
    )
    record_decay: float = Field(0.0005, ge=0, lt=1, description="Per point, how fast a remembered record fades.")
    calib_alpha: float = Field(0.02, gt=0, lt=1, description="Weight of the newest raw score in its calibration.")
    range_decay: float = Field(
        0.0005, ge=0, lt=1, description="Per point, how far the remembered range shrinks towards the slow mean."
    )
    warmup: int = Field(100, ge=2, description="Points seen before any score is emitted.")
    alarm_level: float = Field(0.9, gt=0, le=1, description="Score from which a peak silences what follows it.")
    refractory: int = Field(200, ge=0, description="Points kept quiet after an alarm (one incident, one alarm).")
    band: float = Field(3.0, gt=0, description="Width of the expected band in slow absolute deviations.")
    weights: tuple[float, float, float, float] = Field(
        (1.0, 1.0, 1.0, 1.0), description="Weight of each evidence kind (level, range, shift, variance); 0 turns off."
    )


def nines_score(z: FloatArray) -> FloatArray:
    """A z-score as a score in [0, 1) that never saturates: the normal tail's "nines" L = −log10 P(Z > z), squashed
    as L / (L + 2) (p = 0.99 → 0.5, p = 1e-6 → 0.75, p = 1e-18 → 0.9), so scores stay ordered far into the tail."""
    nines = -log_ndtr(-z) / np.log(10.0)
    result: FloatArray = nines / (nines + 2.0)
    return result


def record_score(ratio: FloatArray) -> FloatArray:
    """Ratio to the running record as a score in [0, 1): 0.5 when the record is equalled, 0.8 at four times it."""
    result: FloatArray = ratio / (ratio + 1.0)
    return result


def _ew_update(mean: FloatArray, dev: FloatArray, x: FloatArray, alpha: FloatArray | float, ok: FloatArray) -> None:
    """EW mean and EW absolute deviation, in place, only where ``ok``."""
    delta = x - mean
    mean += np.where(ok, alpha * delta, 0.0)
    dev += np.where(ok, alpha * (np.abs(delta) - dev), 0.0)


class NoveltyDetector(Detector):
    name = "novelty"
    Params = NoveltyParams
    default_threshold = 0.75
    description = "calibrated level/range/shift/variance evidence, sparse alarms (project default)"
    params: NoveltyParams

    def init_state(self, n_series: int) -> State:
        z = np.zeros
        k = len(KINDS)
        return {
            "count": z(n_series, dtype=np.int64),
            "slow_mean": z(n_series),
            "slow_dev": z(n_series),
            "fast_mean": z(n_series),
            "fast_dev": z(n_series),
            "high": z(n_series),
            "low": z(n_series),
            "calib_mean": z((n_series, k)),
            "calib_dev": z((n_series, k)),
            "record": z((n_series, k)),
            "quiet": z(n_series, dtype=np.int64),
            "peak": z(n_series),
        }

    def _raw(self, x: FloatArray, s: State) -> FloatArray:
        """Raw evidence of each kind for the points ``x`` against the state before them; (series, kinds)."""
        scale = np.maximum(s["slow_dev"], 1e-9 + 1e-6 * np.abs(s["slow_mean"]))
        level = np.abs(x - s["slow_mean"]) / scale
        spread = np.maximum(s["high"] - s["low"], scale)
        range_break = np.maximum(np.maximum(x - s["high"], s["low"] - x), 0.0) / spread
        fast_mean = s["fast_mean"] + self.params.fast_alpha * (x - s["fast_mean"])
        shift = np.abs(fast_mean - s["slow_mean"]) / scale
        fast_dev = s["fast_dev"] + self.params.fast_alpha * (np.abs(x - s["fast_mean"]) - s["fast_dev"])
        variance = np.abs(np.log((fast_dev + 1e-9 * scale + 1e-12) / (scale + 1e-12)))
        return np.stack([level, range_break, shift, variance], axis=1)

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        s = self._state
        weights = np.asarray(p.weights)
        for j in range(t):
            x = values[:, j]
            ok = np.isfinite(x)
            xs = np.where(ok, x, s["slow_mean"])
            first = ok & (s["count"] == 0)
            s["slow_mean"][first] = xs[first]
            s["fast_mean"][first] = xs[first]
            s["high"][first] = xs[first]
            s["low"][first] = xs[first]
            raw = self._raw(xs, s)
            if p.calibration == "record":
                ratio = raw / np.maximum(s["record"], 1e-9)
                score = record_score((weights * ratio).max(axis=1))
            else:
                cdev = np.maximum(s["calib_dev"], 1e-6)
                z = (raw - s["calib_mean"]) / (1.2533 * cdev)  # mean abs dev → std for a normal
                score = nines_score((weights * z).max(axis=1))
            score = np.where(ok & (s["count"] >= p.warmup), score, 0.0)
            # sparse alarms at any threshold: within ``refractory`` points of a peak, only a higher score is emitted
            s["quiet"] = np.maximum(s["quiet"] - ok, 0)
            s["peak"] = np.where(s["quiet"] > 0, s["peak"], 0.0)
            rising = score > s["peak"]
            s["peak"] = np.where(rising, score, s["peak"])
            s["quiet"] = np.where(rising & (score >= p.alarm_level), p.refractory, s["quiet"])
            score = np.where(rising, score, 0.0)
            out.scores[:, j] = score
            seen = s["count"] > 0
            scale = s["slow_dev"]
            out.expected[:, j] = np.where(seen, s["slow_mean"], np.nan)
            out.lower[:, j] = np.where(seen, s["slow_mean"] - p.band * scale, np.nan)
            out.upper[:, j] = np.where(seen, s["slow_mean"] + p.band * scale, np.nan)
            # early on, plain running averages (1/count) so the baselines do not start from zero
            ramp = 1.0 / (s["count"] + 1.0)
            okc = ok[:, None]
            calib_alpha = np.maximum(p.calib_alpha, ramp)[:, None]
            calib_delta = raw - s["calib_mean"]
            # records start after the warm-up: the first points' evidence reflects unsettled baselines, not the series
            settled = okc & (s["count"] >= p.warmup)[:, None]
            s["record"] = np.where(settled, np.maximum(s["record"] * (1.0 - p.record_decay), raw), s["record"])
            s["calib_mean"] += np.where(okc, calib_alpha * calib_delta, 0.0)
            s["calib_dev"] += np.where(okc, calib_alpha * (np.abs(calib_delta) - s["calib_dev"]), 0.0)
            _ew_update(s["fast_mean"], s["fast_dev"], xs, np.maximum(p.fast_alpha, ramp), ok)
            _ew_update(s["slow_mean"], s["slow_dev"], xs, np.maximum(p.slow_alpha, ramp), ok)
            s["high"] = np.where(ok, np.maximum(s["high"], xs), s["high"])
            s["low"] = np.where(ok, np.minimum(s["low"], xs), s["low"])
            s["high"] -= np.where(ok, p.range_decay * (s["high"] - s["slow_mean"]), 0.0)
            s["low"] -= np.where(ok, p.range_decay * (s["low"] - s["slow_mean"]), 0.0)
            s["count"] += ok
        return out
