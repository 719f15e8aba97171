"""Cold start, learning from outcomes, calibration, explanations and the score metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from change_advisor.features import FEATURE_NAMES
from change_advisor.metrics import calibration_error, f1_at, pr_auc, roc_auc
from change_advisor.model import PRIOR_BASE_RATE, RiskModel


def _history(rows: int, seed: int = 7) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Changes where size drives failure and experience lowers it (a known truth to recover)."""
    rng = np.random.default_rng(seed)
    la = rng.lognormal(3, 1.5, rows)
    exp = rng.lognormal(4, 1, rows)
    logit = -2.0 + 0.8 * (np.log1p(la) - 3) - 0.5 * (np.log1p(exp) - 4)
    failed = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    frame = pd.DataFrame({name: math.nan for name in FEATURE_NAMES}, index=range(rows))
    frame["la"], frame["exp"] = la, exp
    return frame, failed, np.arange(rows, dtype=float) * 3600


def test_cold_start_uses_the_documented_prior() -> None:
    features, failed, times = _history(30)
    model = RiskModel.train(features, failed, times)
    assert model.state.kind == "prior"
    typical = pd.DataFrame([{"la": 20.0, "nf": 2.0}])
    assert model.predict(typical)[0] == pytest.approx(PRIOR_BASE_RATE)
    risky = pd.DataFrame([{"la": 2000.0, "freeze": 1.0, "no_rollback": 1.0}])
    assert model.predict(risky)[0] > 0.5


def test_learns_from_outcomes_and_is_calibrated() -> None:
    features, failed, times = _history(4000)
    model = RiskModel.train(features.iloc[:3000], failed[:3000], times[:3000])
    assert model.state.kind == "fitted"
    assert {b.name for b in model.state.bases} == {"la", "exp"}
    risk = model.predict(features.iloc[3000:])
    assert roc_auc(failed[3000:], risk) > 0.7
    assert calibration_error(failed[3000:], risk) < 0.05
    # what the history does not inform keeps its prior slope
    base = pd.DataFrame([{"la": 50.0, "exp": 50.0}])
    frozen = pd.DataFrame([{"la": 50.0, "exp": 50.0, "freeze": 1.0}])
    assert model.predict(frozen)[0] > model.predict(base)[0]


def test_contributions_explain_the_score_and_state_round_trips() -> None:
    features, failed, times = _history(2000)
    model = RiskModel.train(features, failed, times)
    row = {"la": 5000.0, "exp": 2.0}
    factors = model.contributions(row)
    by_name = {f.feature: f.log_odds for f in factors}
    assert by_name["la"] > 0 and by_name["exp"] > 0  # big change, inexperienced author
    intercept = model.state.platt_a + model.state.platt_b * model.state.intercept
    logit = intercept + sum(f.log_odds for f in factors)
    assert model.predict(pd.DataFrame([row]))[0] == pytest.approx(1 / (1 + math.exp(-logit)))
    again = RiskModel.from_json(model.to_json())
    assert again.predict(pd.DataFrame([row]))[0] == pytest.approx(model.predict(pd.DataFrame([row]))[0])


def test_metrics_on_hand_checked_cases() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert pr_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx((1 + 2 / 3) / 2)
    assert f1_at(y, np.array([0.1, 0.4, 0.35, 0.8]), 0.3) == pytest.approx(2 * 2 / (3 + 2))
    assert calibration_error(np.array([0, 1]), np.array([0.05, 0.95])) == pytest.approx(0.05)


def test_an_unknown_feature_contributes_nothing() -> None:
    features, failed, times = _history(2000)
    model = RiskModel.train(features, failed, times)
    by_name = {f.feature: f for f in model.contributions({"la": 30.0})}
    assert by_name["exp"].value is None and by_name["exp"].log_odds == 0.0
    assert by_name["la"].log_odds != 0.0
