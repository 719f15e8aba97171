"""NAB v1 scoring, implemented from the published rules.

For each file: the first ``min(floor(0.15·N), 750)`` rows are probation and never scored. A detection inside an
anomaly window is worth ``tp·σ(y)/σ(−1)`` where ``y`` runs from −1 at the window's left edge towards 0 at its right
edge; only the earliest detection of a window counts and later ones in the same window are free. A window without a
detection costs ``−fn``. A detection outside every window costs ``fp·σ(distance past the previous window ÷ (its
width − 1))`` (σ is −1 beyond 3), or ``−fp`` when no window came before. σ(y) = 2/(1+e^{5y}) − 1.

One threshold per cost profile is chosen over the whole corpus to maximise the summed raw score; the sweep here is
exact (every distinct score is a candidate). The result is normalised to 100·(S − S_null)/(S_perfect − S_null).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from detectors.base import FloatArray


@dataclass(frozen=True)
class CostProfile:
    name: str
    tp: float
    fp: float
    fn: float


PROFILES: tuple[CostProfile, ...] = (
    CostProfile("standard", tp=1.0, fp=0.11, fn=1.0),
    CostProfile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    CostProfile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
)


def scaled_sigmoid(y: FloatArray | float) -> FloatArray:
    """NAB's σ: +1 far before 0, 0 at 0, towards −1 after; exactly −1 beyond y > 3."""
    y_arr = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * y_arr)) - 1.0
    return np.where(y_arr > 3.0, -1.0, value)


def probation_rows(n_rows: int) -> int:
    return min(math.floor(0.15 * n_rows), 750)


@dataclass(frozen=True)
class FileLayout:
    """Per-row weights of one file, independent of the cost profile.

    ``window`` is the window index of each row (−1 outside), ``tp_factor`` is σ(y)/σ(−1) inside windows and
    ``fp_factor`` the (negative) σ factor outside them; ``scored`` is False in the probation period.
    """

    window: NDArray[np.intp]
    tp_factor: FloatArray
    fp_factor: FloatArray
    scored: NDArray[np.bool_]
    n_windows: int


def file_layout(
    timestamps: Sequence[np.datetime64] | NDArray[np.datetime64], windows: Sequence[tuple[str, str]]
) -> FileLayout:
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    n = len(ts)
    window = np.full(n, -1, dtype=np.intp)
    tp_factor = np.zeros(n)
    fp_factor = np.full(n, -1.0)
    max_tp = float(scaled_sigmoid(-1.0))
    bounds: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(windows):
        # rows in file order (NAB files may step back at a daylight-saving change): first row at or after the start,
        # last row at or before the end
        after_start = ts >= np.datetime64(start, "ns")
        before_end = ts <= np.datetime64(end, "ns")
        if not after_start.any() or not before_end.any():
            continue
        lo = int(np.argmax(after_start))
        hi = n - 1 - int(np.argmax(before_end[::-1]))
        if hi < lo:
            continue
        width = hi - lo + 1
        rows = np.arange(lo, hi + 1)
        window[rows] = k
        tp_factor[rows] = scaled_sigmoid(-(hi - rows + 1) / width) / max_tp
        bounds.append((lo, hi))
    for idx, (lo, hi) in enumerate(bounds):
        width = hi - lo + 1
        nxt = bounds[idx + 1][0] if idx + 1 < len(bounds) else n
        rows = np.arange(hi + 1, nxt)
        if len(rows):
            fp_factor[rows] = scaled_sigmoid((rows - hi) / max(width - 1, 1))
    scored = np.arange(n) >= probation_rows(n)
    return FileLayout(window, tp_factor, fp_factor, scored, len(windows))


@dataclass(frozen=True)
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    normalized: float
    tp: int
    fp: int
    fn: int


def raw_score(detections: NDArray[np.bool_], layout: FileLayout, profile: CostProfile) -> tuple[float, int, int, int]:
    """Raw NAB score of one file's detections: (score, true positives, false positives, missed windows)."""
    hits = detections & layout.scored
    outside = hits & (layout.window < 0)
    score = float(profile.fp * layout.fp_factor[outside].sum())
    tp = 0
    for k in range(layout.n_windows):
        in_window = hits & (layout.window == k)
        if in_window.any():
            score += profile.tp * float(layout.tp_factor[in_window].max())
            tp += 1
        else:
            score -= profile.fn
    return score, tp, int(outside.sum()), layout.n_windows - tp


def optimise_threshold(
    scores: Mapping[str, FloatArray], layouts: Mapping[str, FileLayout], profile: CostProfile
) -> ProfileResult:
    """The threshold that maximises the corpus's summed raw score (detection: score ≥ threshold), and that score."""
    fp_scores, fp_costs, win_parts = [], [], []
    n_windows = 0
    for name, layout in layouts.items():
        s = np.asarray(scores[name], dtype=np.float64)
        s = np.where(np.isfinite(s), s, -np.inf)
        outside = layout.scored & (layout.window < 0)
        fp_scores.append(s[outside])
        fp_costs.append(profile.fp * layout.fp_factor[outside])
        for k in range(layout.n_windows):
            rows = layout.scored & (layout.window == k)
            win_parts.append((s[rows], profile.tp * layout.tp_factor[rows]))
        n_windows += layout.n_windows
    all_fp = np.concatenate(fp_scores) if fp_scores else np.zeros(0)
    candidates = np.unique(np.concatenate([all_fp, *(w[0] for w in win_parts), [np.inf]]))
    candidates = candidates[np.isfinite(candidates)]
    candidates = np.append(candidates, np.inf)  # "never detect"
    order = np.argsort(-all_fp)
    fp_sorted = all_fp[order]
    fp_cum = np.concatenate([[0.0], np.cumsum(np.concatenate(fp_costs)[order])])
    n_fp_hits = np.searchsorted(-fp_sorted, -candidates, side="right")
    total = fp_cum[n_fp_hits]
    n_tp = np.zeros(len(candidates), dtype=np.int64)
    for s, value in win_parts:
        if not len(s):
            total -= profile.fn
            continue
        o = np.argsort(-s)
        best = np.concatenate([[-profile.fn], np.maximum.accumulate(value[o])])
        hit_count = np.searchsorted(-s[o], -candidates, side="right")
        total += best[hit_count]
        n_tp += hit_count > 0
    i = int(np.argmax(total))
    s_null = -profile.fn * n_windows
    s_perfect = profile.tp * n_windows
    raw = float(total[i])
    normalized = 100.0 * (raw - s_null) / (s_perfect - s_null) if s_perfect != s_null else 0.0
    return ProfileResult(
        profile=profile.name,
        threshold=float(candidates[i]),
        raw=raw,
        normalized=normalized,
        tp=int(n_tp[i]),
        fp=int(n_fp_hits[i]),
        fn=n_windows - int(n_tp[i]),
    )


def score_corpus(
    scores: Mapping[str, FloatArray],
    layouts: Mapping[str, FileLayout],
    profiles: Sequence[CostProfile] = PROFILES,
) -> list[ProfileResult]:
    return [optimise_threshold(scores, layouts, p) for p in profiles]
