"""NAB scoring on small hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.nab.scoring import (
    PROFILES,
    FileLayout,
    file_layout,
    optimise_threshold,
    probation_rows,
    raw_score,
    scaled_sigmoid,
)

STANDARD = PROFILES[0]


def _sigma(y: float) -> float:
    return 2 / (1 + math.exp(5 * y)) - 1


def _layout(n: int, windows: list[tuple[int, int]]) -> FileLayout:
    ts = np.datetime64("2020-01-01T00:00") + np.arange(n) * np.timedelta64(5, "m")
    return file_layout(ts, [(str(ts[a]), str(ts[b])) for a, b in windows])


def test_sigmoid_matches_formula_and_is_minus_one_beyond_three() -> None:
    assert float(scaled_sigmoid(0.0)) == pytest.approx(0.0)
    assert float(scaled_sigmoid(-1.0)) == pytest.approx(_sigma(-1.0))
    assert float(scaled_sigmoid(2.9)) == pytest.approx(_sigma(2.9))
    assert float(scaled_sigmoid(3.01)) == -1.0


def test_probation_is_fifteen_percent_capped_at_750() -> None:
    assert probation_rows(100) == 15
    assert probation_rows(10_000) == 750


def test_earliest_detection_in_window_counts_once() -> None:
    layout = _layout(100, [(40, 49)])  # width 10
    detections = np.zeros(100, dtype=bool)
    detections[[42, 45]] = True
    score, tp, fp, fn = raw_score(detections, layout, STANDARD)
    # row 42: y = -(49 - 42 + 1)/10 = -0.8 ; worth σ(-0.8)/σ(-1)
    assert score == pytest.approx(_sigma(-0.8) / _sigma(-1.0))
    assert (tp, fp, fn) == (1, 0, 0)


def test_missed_window_costs_fn_and_fp_before_any_window_costs_fp() -> None:
    layout = _layout(100, [(40, 49)])
    detections = np.zeros(100, dtype=bool)
    detections[20] = True
    score, tp, fp, fn = raw_score(detections, layout, STANDARD)
    assert score == pytest.approx(-0.11 - 1.0)
    assert (tp, fp, fn) == (0, 1, 1)


def test_fp_after_window_scaled_by_distance_and_probation_ignored() -> None:
    layout = _layout(100, [(40, 49)])
    detections = np.zeros(100, dtype=bool)
    detections[[5, 45, 52]] = True  # row 5 is in probation (15 rows)
    score, _, fp, _ = raw_score(detections, layout, STANDARD)
    # row 52: y = (52 - 49)/(10 - 1)
    assert score == pytest.approx(_sigma(-0.5) / _sigma(-1.0) + 0.11 * _sigma(3 / 9))
    assert fp == 1


def test_threshold_sweep_finds_perfect_and_null_normalisation() -> None:
    layouts = {"a": _layout(100, [(40, 49)]), "b": _layout(100, [])}
    perfect = {"a": np.zeros(100), "b": np.zeros(100)}
    perfect["a"][40] = 0.9
    result = optimise_threshold(perfect, layouts, STANDARD)
    assert result.normalized == pytest.approx(100.0)
    assert result.threshold == pytest.approx(0.9)
    # only false positives at every level: best is never to detect, which is the null score 0
    noisy = {"a": np.zeros(100), "b": np.ones(100)}
    noisy["a"][:] = np.linspace(0, 1, 100) * (np.arange(100) > 60)
    result = optimise_threshold(noisy, layouts, STANDARD)
    assert result.normalized == pytest.approx(0.0)
    assert result.tp == 0


def test_sweep_agrees_with_direct_scoring() -> None:
    rng = np.random.default_rng(3)
    layouts = {"a": _layout(200, [(60, 79), (150, 169)]), "b": _layout(150, [(100, 119)])}
    scores = {k: rng.random(len(v.window)) for k, v in layouts.items()}
    result = optimise_threshold(scores, layouts, STANDARD)
    direct = sum(raw_score(scores[k] >= result.threshold, layouts[k], STANDARD)[0] for k in layouts)
    assert result.raw == pytest.approx(direct)
    for theta in (0.5, 0.9, 0.99):
        other = sum(raw_score(scores[k] >= theta, layouts[k], STANDARD)[0] for k in layouts)
        assert other <= result.raw + 1e-12
