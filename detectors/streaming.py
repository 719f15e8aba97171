"""The project default: streaming evidence scored against its own records, with sparse alarms; vectorised.

Six kinds of evidence are kept per series in small fixed state, updated once per point for all series at once:

- *level*: distance of the point from a slow EW mean, in slow EW absolute deviations (spikes, dips);
- *range break*: how far the point leaves the range the series has shown so far, relative to that range;
- *shift*: a fast EW mean against the slow one, in slow deviations (level shifts, CUSUM-like accumulation);
- *variance*: the log ratio of fast to slow EW absolute deviation (variance changes);
- *season* and *season shift*: the residual from a time-of-day profile (288 five-minute slots, float32) and its fast
  EW mean, in residual deviations (a daily pattern that breaks: a missing peak, a flat middle of the day).

A seventh kind, *context novelty*, is scored on an absolute scale instead (the "contextual anomaly detector" idea):
the range the series has shown so far is cut into ``context_bins`` levels and each point's level is paired with
the levels ``1..context_lags`` points before it; a bit set per series (bins² × lags bits) remembers every pair seen.
The share of the newest point's pairs never seen before, divided by ``context_ref``, is its ratio: a point whose
pairs are (nearly) all new is a shape the series has not shown. ``context_scales`` adds the same on blocks of m
points, each block summarised by its extreme.

Raw evidence is not comparable across series, so each kind is divided by its own *record* on that series: the
largest evidence of that kind seen so far, fading slowly (``record_decay`` per point). A ratio above 1 means the
series does something it has not done before (for the shift, variance and time-of-day kinds, the record must be
broken at two points in a row, each against the record as it stood, so one noisy point scores nothing: ``persist``);
a young record must be beaten by a wider margin (the ratio is divided by 1 + ``youth`` · ``youth_points`` / settled
points), since a record of few points is broken by chance far more often; the score is ratio / (ratio + 1), so 0.5
is "equals the record". A kind scores only once its record has seen ``record_warmup`` settled points. Alarms are
sparse: within ``refractory`` points after a score at or above ``alarm_level``, only a higher score is emitted
(others are 0), so one incident raises one early alarm. How the parameters were chosen: README, "Anomaly detection".
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from scipy.special import log_ndtr

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State

KINDS = ("level", "range", "shift", "variance", "season", "season_shift")
DAY = 86400.0
SLOTS = 288  # time-of-day slots of 5 minutes


class NoveltyParams(DetectorParams):
    slow_alpha: float = Field(0.001, gt=0, lt=1, description="Weight of the newest point in the slow baseline.")
    fast_alpha: float = Field(0.1, gt=0, lt=1, description="Weight of the newest point in the fast baseline.")
    season_alpha: float = Field(0.2, gt=0, lt=1, description="Weight of the newest visit of a time-of-day slot.")
    range_decay: float = Field(
        0.0, ge=0, lt=1, description="Per point, how far the remembered range shrinks towards the slow mean."
    )
    youth: float = Field(0.1, ge=0, description="Extra margin a record must be beaten by when youth_points old.")
    youth_points: int = Field(500, ge=1, description="Record age (settled points) at which the margin is ``youth``.")
    record_decay: float = Field(0.0002, ge=0, lt=1, description="Per point, how fast a remembered record fades.")
    warmup: int = Field(100, ge=2, description="Points seen before records of the evidence start.")
    record_warmup: int = Field(100, ge=1, description="Points of records after the warm-up before scores are emitted.")
    alarm_level: float = Field(0.5, gt=0, le=1, description="Score from which a peak silences what follows it.")
    refractory: int = Field(100, ge=0, description="Points kept quiet after an alarm (one incident, one alarm).")
    persist: tuple[bool, ...] = Field(
        (False, False, True, True, True, True),
        min_length=len(KINDS),
        max_length=len(KINDS),
        description="Per evidence kind: score the smaller of the last two ratios (break the record twice in a row).",
    )
    strict: bool = Field(False, description="Within the refractory period emit nothing, not even a higher score.")
    context_bins: int = Field(16, ge=2, le=64, description="Levels the learnt range is cut into for contexts.")
    context_lags: int = Field(8, ge=1, le=16, description="Lags paired with the newest level to form contexts.")
    context_scales: tuple[int, ...] = Field(
        (1,), min_length=1, description="Points averaged per level at each scale of contexts (1: the raw points)."
    )
    context_alpha: float = Field(1.0, gt=0, le=1, description="Weight of the newest point in the novelty average.")
    context_ref: float = Field(0.85, gt=0, description="Novelty average that scores as a record (ratio 1).")
    context_weight: float = Field(1.0, ge=0, description="Weight of the context novelty; 0 turns it off.")
    context_warmup: int = Field(800, ge=0, description="Points before context novelty scores.")
    combine: Literal["max", "sum"] = Field(
        "max", description="max: the strongest kind; sum: the strongest plus every other kind's excess over its record"
    )
    band: float = Field(3.0, gt=0, description="Width of the expected band in slow absolute deviations.")
    weights: tuple[float, ...] = Field(
        (1.0, 0.7, 1.0, 1.0, 1.0, 0.7),
        min_length=len(KINDS),
        max_length=len(KINDS),
        description=f"Weight of each evidence kind {KINDS}; 0 turns one off.",
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


def _ew_update(
    mean: FloatArray, dev: FloatArray, x: FloatArray, alpha: FloatArray | float, ok: NDArray[np.bool_]
) -> None:
    """EW mean and EW absolute deviation, in place, only where ``ok``."""
    delta = x - mean
    mean += np.where(ok, alpha * delta, 0.0)
    dev += np.where(ok, alpha * (np.abs(delta) - dev), 0.0)


class NoveltyDetector(Detector):
    name = "novelty"
    Params = NoveltyParams
    default_threshold = 0.52
    description = "level/range/shift/variance/time-of-day evidence against its own records; sparse alarms (default)"
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
            "season_dev": z(n_series),
            "season_fast": z(n_series),
            "record": z((n_series, k)),
            "settled": z((n_series, k), dtype=np.int64),  # points each kind's record has seen
            "season_count": z(n_series, dtype=np.int64),
            "quiet": z(n_series, dtype=np.int64),
            "peak": z(n_series),
            "last_ratio": z((n_series, k)),
            # float32 keeps the daily profile within the state budget (288 slots × 6 bytes)
            "profile": z((n_series, SLOTS), dtype=np.float32),
            "visits": z((n_series, SLOTS), dtype=np.uint16),
            **{
                key: value
                for m in self.params.context_scales
                for key, value in self._context_state(n_series, m).items()
            },
            "novelty": z(n_series),
        }

    def _context_state(self, n_series: int, m: int) -> State:
        p = self.params
        state: State = {
            f"contexts{m}": np.zeros((n_series, (p.context_bins**2 * p.context_lags + 7) // 8), dtype=np.uint8),
            f"recent{m}": np.full((n_series, p.context_lags), 255, dtype=np.uint8),
        }
        if m > 1:  # blocks of m points: count, extremes, sum and the running mean of block means
            state[f"block_n{m}"] = np.zeros(n_series, dtype=np.int64)
            for key in ("high", "low", "sum", "mean"):
                state[f"block_{key}{m}"] = np.zeros(n_series)
        return state

    def _block(self, x: FloatArray, ok: NDArray[np.bool_], m: int) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Blocks of ``m`` points, each summarised by its extreme (the side farther from the running mean of block
        means, so spikes survive); returns that value and where a block ended at this point."""
        s = self._state
        n, high, low, total, mean = (s[f"block_{k}{m}"] for k in ("n", "high", "low", "sum", "mean"))
        fresh = n == 0
        high[:] = np.where(ok, np.where(fresh, x, np.maximum(high, x)), high)
        low[:] = np.where(ok, np.where(fresh, x, np.minimum(low, x)), low)
        total += np.where(ok, x, 0.0)
        n += ok
        done = ok & (n >= m)
        block_mean = total / np.maximum(n, 1)
        first = done & (s["count"] < m)
        mean[:] = np.where(done, np.where(first, block_mean, (mean + block_mean) / 2.0), mean)
        value = np.where(np.abs(high - mean) >= np.abs(low - mean), high, low)
        n[done] = 0
        total[done] = 0.0
        return value, done

    def _context(self, x: FloatArray, ok: NDArray[np.bool_], rows: NDArray[np.intp]) -> FloatArray:
        """Learn the contexts of ``x`` at every scale (its level paired with recent levels) and return the novelty."""
        p, s = self.params, self._state
        b = p.context_bins
        width = s["high"] - s["low"]
        novelty = np.zeros(len(x))
        for m in p.context_scales:
            value, step = (x, ok) if m == 1 else self._block(x, ok, m)
            pos = np.where(width > 0, (value - s["low"]) / np.where(width > 0, width, 1.0), 0.5)
            # no settled range yet (the warm-up, a flat series so far): no level, so no context is learnt or scored
            settled = (width > 0) & (s["count"] >= p.warmup)
            level = np.where(settled, np.clip(np.floor(pos * b), 0, b - 1), 255).astype(np.intp)
            history = s[f"recent{m}"]
            recent = history.astype(np.intp)
            have = (recent != 255) & (level != 255)[:, None] & step[:, None]
            code = np.where(have, np.arange(p.context_lags) * b * b + recent * b + level[:, None], 0)
            byte, bit = code >> 3, (code & 7).astype(np.uint8)
            seen = (s[f"contexts{m}"][rows[:, None], byte] >> bit) & 1
            novel = np.where(have, 1 - seen, 0).sum(axis=1) / np.maximum(have.sum(axis=1), 1)
            hr, hb = np.nonzero(have)
            np.bitwise_or.at(s[f"contexts{m}"], (hr, byte[hr, hb]), (1 << bit[hr, hb]).astype(np.uint8))
            shifted = np.concatenate([level[:, None].astype(np.uint8), history[:, :-1]], axis=1)
            s[f"recent{m}"] = np.where(step[:, None], shifted, history)
            novelty = np.maximum(novelty, novel)
        s["novelty"] += np.where(ok, p.context_alpha * (novelty - s["novelty"]), 0.0)
        result: FloatArray = s["novelty"].copy()
        return result

    def _raw(self, x: FloatArray, season: FloatArray, known: NDArray[np.bool_], s: State) -> FloatArray:
        """Raw evidence of each kind for the points ``x`` against the state before them; (series, kinds)."""
        alpha = self.params.fast_alpha
        scale = np.maximum(s["slow_dev"], 1e-9 + 1e-6 * np.abs(s["slow_mean"]))
        level = np.abs(x - s["slow_mean"]) / scale
        spread = np.maximum(s["high"] - s["low"], scale)
        range_break = np.maximum(np.maximum(x - s["high"], s["low"] - x), 0.0) / spread
        fast_mean = s["fast_mean"] + alpha * (x - s["fast_mean"])
        shift = np.abs(fast_mean - s["slow_mean"]) / scale
        fast_dev = s["fast_dev"] + alpha * (np.abs(x - s["fast_mean"]) - s["fast_dev"])
        variance = np.abs(np.log((fast_dev + 1e-9 * scale + 1e-12) / (scale + 1e-12)))
        sscale = np.maximum(s["season_dev"], 1e-9 + 1e-6 * np.abs(s["slow_mean"]))
        resid = np.where(known, x - season, 0.0)
        seasonal = np.abs(resid) / sscale
        season_shift = np.abs(s["season_fast"] + alpha * (resid - s["season_fast"])) / sscale
        return np.stack([level, range_break, shift, variance, seasonal, season_shift], axis=1)

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        p = self.params
        n, t = values.shape
        out = DetectorOutput.empty(n, t)
        s = self._state
        weights = np.asarray(p.weights)
        rows = np.arange(n)
        # one grid for all series (the daemon), or one row of timestamps per series (benchmarks over many files)
        slots = (np.broadcast_to(timestamps, (n, t)) % DAY * (SLOTS / DAY)).astype(np.intp) % SLOTS
        for j in range(t):
            x = values[:, j]
            ok = np.isfinite(x)
            xs = np.where(ok, x, s["slow_mean"])
            first = ok & (s["count"] == 0)
            for key in ("slow_mean", "fast_mean", "high", "low"):
                s[key][first] = xs[first]
            slot = slots[:, j]
            visits = s["visits"][rows, slot]
            season = s["profile"][rows, slot].astype(np.float64)
            known = visits >= 2
            raw = self._raw(xs, season, known, s)
            # a kind scores once its record has seen ``record_warmup`` points of settled evidence
            ratio = np.where(s["settled"] >= p.record_warmup, raw / np.maximum(s["record"], 1e-9), 0.0)
            if p.youth:  # a young record (few settled points) must be beaten by a wider margin
                ratio = ratio / (1.0 + p.youth * p.youth_points / np.maximum(s["settled"], 1))
            if any(p.persist):  # a record must be broken twice in a row: the smaller of the last two ratios
                last = s["last_ratio"]
                s["last_ratio"] = np.where(ok[:, None], ratio, last)
                ratio = np.where(np.asarray(p.persist, dtype=bool), np.minimum(ratio, last), ratio)
            weighted = weights * ratio
            combined = weighted.max(axis=1)
            if p.context_weight > 0:
                novelty = self._context(xs, ok, rows)
                ctx = np.where(s["count"] >= p.context_warmup, p.context_weight * novelty / p.context_ref, 0.0)
                combined = np.maximum(combined, ctx)
            if p.combine == "sum":
                combined = combined + np.maximum(weighted - 1.0, 0.0).sum(axis=1) - np.maximum(combined - 1.0, 0.0)
            score = np.where(ok, record_score(combined), 0.0)
            # sparse alarms at any threshold: within ``refractory`` points of a peak, only a higher score is emitted
            s["quiet"] = np.maximum(s["quiet"] - ok, 0)
            s["peak"] = np.where(s["quiet"] > 0, s["peak"], 0.0)
            rising = score > s["peak"]
            if p.strict:
                rising = rising & (s["quiet"] == 0)
            s["peak"] = np.where(rising, score, s["peak"])
            s["quiet"] = np.where(rising & (score >= p.alarm_level), p.refractory, s["quiet"])
            out.scores[:, j] = np.where(rising, score, 0.0)
            expected = np.where(known, season, s["slow_mean"])
            band = p.band * np.where(known, s["season_dev"], s["slow_dev"])
            seen = s["count"] > 0
            out.expected[:, j] = np.where(seen, expected, np.nan)
            out.lower[:, j] = np.where(seen, expected - band, np.nan)
            out.upper[:, j] = np.where(seen, expected + band, np.nan)
            self._learn(xs, ok, raw, season, known, slot, rows)
        return out

    def _learn(
        self,
        x: FloatArray,
        ok: NDArray[np.bool_],
        raw: FloatArray,
        season: FloatArray,
        known: NDArray[np.bool_],
        slot: NDArray[np.intp],
        rows: NDArray[np.intp],
    ) -> None:
        p, s = self.params, self._state
        # early on, plain running averages (1/count) so the baselines do not start from zero
        ramp = 1.0 / (s["count"] + 1.0)
        # records start after the warm-up: the first points' evidence reflects unsettled baselines, not the series
        base_ok = ok & (s["count"] >= p.warmup)
        season_ok = ok & known & (s["season_count"] >= p.warmup)
        settled = np.stack([base_ok] * 4 + [season_ok] * 2, axis=1)
        s["record"] = np.where(settled, np.maximum(s["record"] * (1.0 - p.record_decay), raw), s["record"])
        s["settled"] += settled
        resid = np.where(known, x - season, 0.0)
        seasonal_ok = ok & known
        s["season_count"] += seasonal_ok
        s["season_fast"] += np.where(seasonal_ok, p.fast_alpha * (resid - s["season_fast"]), 0.0)
        season_alpha = np.maximum(p.slow_alpha, 1.0 / (s["season_count"] + 1.0))
        s["season_dev"] += np.where(seasonal_ok, season_alpha * (np.abs(resid) - s["season_dev"]), 0.0)
        visits = s["visits"][rows, slot]
        slot_alpha = np.maximum(p.season_alpha, 1.0 / (visits + 1.0))
        s["profile"][rows, slot] = np.where(ok, season + slot_alpha * (x - season), season).astype(np.float32)
        s["visits"][rows, slot] = np.where(ok, np.minimum(visits + 1, 60000), visits).astype(np.uint16)
        _ew_update(s["fast_mean"], s["fast_dev"], x, np.maximum(p.fast_alpha, ramp), ok)
        _ew_update(s["slow_mean"], s["slow_dev"], x, np.maximum(p.slow_alpha, ramp), ok)
        s["high"] = np.where(ok, np.maximum(s["high"], x), s["high"])
        s["low"] = np.where(ok, np.minimum(s["low"], x), s["low"])
        s["high"] -= np.where(ok, p.range_decay * (s["high"] - s["slow_mean"]), 0.0)
        s["low"] -= np.where(ok, p.range_decay * (s["low"] - s["slow_mean"]), 0.0)
        s["count"] += ok
