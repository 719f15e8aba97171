"""Each detector family on synthetic series with known anomalies; causality, state round-trip and reindex."""

from __future__ import annotations

import numpy as np
import pytest

from detectors import DetectorParamsError, DuplicateDetector, UnknownDetector, builtin_registry
from detectors.multivariate import EntityDetector
from detectors.robust import EwmaZScore

STEP = 60.0
REG = builtin_registry()


def _noise(n: int, seed: int = 0) -> np.ndarray:
    return 10.0 + np.random.default_rng(seed).normal(0, 1, n)


def _scores(name: str, x: np.ndarray, params: dict | None = None, fit: int = 0) -> np.ndarray:
    det = REG.create(name, params, 1, STEP)
    ts = np.arange(len(x)) * STEP
    if fit:
        det.fit(x[None, :fit], ts[:fit])
    return det.update(x[None, fit:], ts[fit:]).scores[0]


@pytest.mark.parametrize("name", ["novelty", "ewma", "ensemble"])
def test_spike_scores_highest_at_the_spike(name: str) -> None:
    x = _noise(800)
    x[600] += 15
    s = _scores(name, x)
    assert int(np.argmax(s)) == 600
    assert s[600] > s[200:590].max()


@pytest.mark.parametrize("name", ["novelty", "cusum"])
def test_level_shift_detected_soon_after_it(name: str) -> None:
    # streaming detectors learn what is normal first (NAB calls it probation): 1,500 quiet points, then the shift
    x = _noise(2000, 1)
    x[1500:] += 4
    s = _scores(name, x)
    first = 1500 + int(np.argmax(s[1500:] >= REG.get(name).default_threshold))
    assert 1500 <= first < 1520
    assert s[1000:1500].max() < s[1500:1520].max()


def test_variance_change_raises_novelty_score() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0, 1, 1500), rng.normal(0, 6, 200)])
    s = _scores("novelty", x)
    assert s[1500:1560].max() > s[1000:1500].max()


def test_seasonal_break_is_seen_by_seasonal_not_hidden_by_the_season() -> None:
    period = 48
    t = np.arange(period * 30)
    x = 10 * np.sin(2 * np.pi * t / period) + np.random.default_rng(4).normal(0, 0.3, len(t))
    x[period * 25 + 12] -= 20  # the daily peak is missing: a value that is normal elsewhere in the season
    s = _scores("seasonal", x, fit=period * 10)
    k = period * 15 + 12
    assert int(np.argmax(s)) == k
    assert s[k] >= REG.get("seasonal").default_threshold
    assert np.delete(s, k)[period:].max() < REG.get("seasonal").default_threshold


def test_seasonal_detects_its_period() -> None:
    from detectors.seasonal import detect_period

    t = np.arange(24 * 20)
    assert detect_period(np.sin(2 * np.pi * t / 24), 100, 0.3) == 24
    assert detect_period(np.random.default_rng(0).normal(size=500), 100, 0.3) is None


def test_trend_to_exhaustion_forecast_fires_before_capacity() -> None:
    # disk fills 1 unit per minute from 10 towards capacity 100: exhausted at minute 90
    x = 10 + np.arange(120, dtype=float) + np.random.default_rng(5).normal(0, 0.2, 120)
    det = REG.create("trend", {"capacity": 100.0, "horizon_seconds": 1800.0}, 1, STEP)
    out = det.update(x[None, :], np.arange(120) * STEP)
    assert out.time_to_exhaustion is not None
    ttx = out.time_to_exhaustion[0]
    assert ttx[50] == pytest.approx((100 - x[50]) * 60, rel=0.1)
    first = int(np.argmax(out.scores[0] >= det.default_threshold))
    assert 50 < first < 90  # inside the 30-minute horizon, before exhaustion
    flat = REG.create("trend", {"capacity": 100.0}, 1, STEP).update(_noise(120)[None, :], np.arange(120) * STEP)
    assert flat.scores[0][30:].max() < 0.5


def test_trend_ignores_noise_that_only_looks_like_a_trend_and_tracks_a_fast_leak() -> None:
    # 200 flat series whose noise holds each value for 3 points (a gauge updated slower than the query step), the
    # shape that made a new pod's memory "full in 97 min"; a significant trend is needed before any forecast
    rng = np.random.default_rng(11)
    n, t = 200, 180
    flat = 0.4 + np.repeat(rng.normal(0, 0.008, (n, t // 3)), 3, axis=1)
    out = REG.create("trend", {"capacity": 1.0}, n, 10.0).update(flat, np.arange(t) * 10.0)
    assert (out.scores[:, 30:] >= 0.6).sum() == 0
    # the same noise plus a leak from point 100: +0.03 per point, full at about point 120
    leak = flat[:10].copy()
    leak[:, 100:] += 0.03 * np.arange(1, t - 99)
    out = REG.create("trend", {"capacity": 1.0}, 10, 10.0).update(leak, np.arange(t) * 10.0)
    assert out.time_to_exhaustion is not None
    first = np.argmax(out.scores >= 0.6, axis=1)
    assert ((first > 100) & (first <= 112)).all(), first
    full = 100 + (1.0 - 0.4) / 0.03
    predicted = out.time_to_exhaustion[np.arange(10), first] / 10.0
    assert np.abs(first + predicted - full).max() < 8, first + predicted  # within 80 s of the real exhaustion


def test_multivariate_only_anomaly_found_by_entity_model() -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(0, 1, 600)
    data = np.stack([a, a + rng.normal(0, 0.1, 600)], axis=0)  # two metrics that move together
    data[1, 500] = -data[0, 500]  # each value normal alone, the pair is not
    data[0, 500] = 1.5
    data[1, 500] = -1.5
    for model in ("mcd",):
        det = EntityDetector(model=model, window=400)
        scores = det.score(data[None, :, :])  # entities × metrics × time
        s = scores[0]
        assert int(np.argmax(s[400:])) + 400 == 500, model
        assert s.min() >= 0.0 and s.max() <= 1.0


@pytest.mark.parametrize("name", ["novelty", "cusum", "seasonal", "ensemble", "ewma", "trend"])
def test_causal_score_unchanged_by_future(name: str) -> None:
    x = _noise(400, 7)
    y = x.copy()
    y[300:] += np.random.default_rng(8).normal(0, 50, 100)
    assert np.array_equal(_scores(name, x)[:300], _scores(name, y)[:300])


@pytest.mark.parametrize("name", ["novelty", "cusum", "seasonal", "ensemble", "ewma", "trend"])
def test_state_round_trip_gives_identical_outputs(name: str, tmp_path) -> None:
    x = np.stack([_noise(300, 9), _noise(300, 10)])
    ts = np.arange(300) * STEP
    a = REG.create(name, {}, 2, STEP)
    a.fit(x[:, :200], ts[:200])
    np.savez(tmp_path / "s.npz", **a.get_state())
    b = REG.create(name, {}, 2, STEP)
    with np.load(tmp_path / "s.npz") as saved:
        b.set_state(dict(saved))
    np.testing.assert_array_equal(a.update(x[:, 200:], ts[200:]).scores, b.update(x[:, 200:], ts[200:]).scores)


@pytest.mark.parametrize("name", ["novelty", "ensemble", "seasonal"])
def test_reindex_keeps_rows_and_adds_fresh_ones(name: str) -> None:
    x = np.stack([_noise(200, s) for s in range(3)])
    ts = np.arange(200) * STEP
    full = REG.create(name, {}, 3, STEP)
    full.update(x, ts)
    full.reindex(np.array([2, 0]), 1)
    assert full.n_series == 3
    alone = REG.create(name, {}, 1, STEP)
    alone.update(x[2:3], ts)
    fresh = REG.create(name, {}, 1, STEP)
    nxt = np.stack([_noise(50, 20), _noise(50, 21), _noise(50, 22)])
    out = full.update(nxt, ts[:50] + 200 * STEP).scores
    np.testing.assert_array_equal(out[0], alone.update(nxt[0:1], ts[:50] + 200 * STEP).scores[0])
    np.testing.assert_array_equal(out[2], fresh.update(nxt[2:3], ts[:50] + 200 * STEP).scores[0])


def test_nan_points_score_zero_and_do_not_disturb_state() -> None:
    x = _noise(300)
    y = x.copy()
    y[150] = np.nan
    s = _scores("novelty", y)
    assert s[150] == 0.0 and np.all(np.isfinite(s))


def test_registry_rules() -> None:
    reg = builtin_registry()
    with pytest.raises(DuplicateDetector):
        reg.register(EwmaZScore)
    with pytest.raises(UnknownDetector):
        reg.create("nope", {}, 1, STEP)
    with pytest.raises(DetectorParamsError, match="alpha"):
        reg.create("ewma", {"alpha": 2}, 1, STEP)
    assert reg.get("default").name == reg.default_name


def test_context_novelty_sees_a_new_shape_within_the_known_range() -> None:
    # a square wave between 0 and 10 every 20 points; then a stretch that stays in the middle (5): every value is in
    # the known range, but the pairs of levels (5 after 5, 5 after 0 or 10) were never seen
    t = np.arange(3000)
    x = np.where((t // 20) % 2 == 0, 0.0, 10.0) + np.random.default_rng(11).normal(0, 0.05, len(t))
    x[2500:2540] = 5.0 + np.random.default_rng(12).normal(0, 0.05, 40)
    context_only = {"weights": [0.0] * 6}
    s = _scores("novelty", x, context_only)
    threshold = REG.get("novelty").default_threshold
    assert s[2500:2502].max() >= threshold
    assert s[500:2500].max() < threshold
    assert _scores("novelty", x, {**context_only, "context_weight": 0.0}).max() == 0.0


def test_context_state_has_one_bit_set_per_scale_and_fits_the_budget() -> None:
    det = REG.create("novelty", {"context_scales": [1, 12]}, 4, STEP)
    state = det.get_state()
    assert {"contexts1", "contexts12", "recent1", "recent12"} <= set(state)
    assert sum(v.nbytes for v in state.values()) / 4 < 4096


def test_persistent_season_records_ignore_one_odd_point_but_not_an_escalating_break() -> None:
    # five days of a daily pattern every 5 minutes; only the time-of-day residual kind scores
    t = np.arange(288 * 5)
    x = 10 * np.sin(2 * np.pi * t / 288) + np.random.default_rng(13).normal(0, 0.3, len(t))
    x[1300] += 4.0  # one odd point
    x[1350:1353] += [8.0, 20.0, 30.0]  # the pattern breaks and the break escalates
    season_only = {"weights": [0.0, 0.0, 0.0, 0.0, 1.0, 0.0], "context_weight": 0.0}
    threshold = REG.get("novelty").default_threshold

    def scores(persist: bool) -> np.ndarray:
        det = REG.create("novelty", {**season_only, "persist": [False] * 4 + [persist] * 2}, 1, 300.0)
        return det.update(x[None, :], t[None, :] * 300.0).scores[0]

    held, single = scores(True), scores(False)
    assert single[1300] >= threshold
    assert held[1295:1310].max() < threshold
    assert held[1350:1353].max() >= threshold


def test_young_records_need_a_wider_margin_than_old_ones() -> None:
    x = _noise(4000, 14)
    x[400] += 5.0  # the level record is 200 points old here
    x[3900] += 5.0  # and 3,700 points old here
    level_only = {"weights": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0], "context_weight": 0.0}
    plain = _scores("novelty", x, {**level_only, "youth": 0.0})
    young = _scores("novelty", x, {**level_only, "youth": 0.5})
    assert young[400] < plain[400] - 0.05
    assert abs(young[3900] - plain[3900]) < 0.02
