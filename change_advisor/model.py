"""The learned risk model: a ridge-regularised logistic GLM (statsmodels) over the engineered features.

- Continuous features enter as piecewise-linear splines (hinges at training quantiles) of their log-scaled value,
  standardised; recent outcomes weigh more (exponential decay with a half-life of a share of the training span),
  because practice drifts.
- Probabilities are calibrated: the model is refitted on the older part of the training rows, a Platt scaling is
  fitted on the newest part, then the model is fitted on all rows and the scaling applied.
- **Cold start.** With fewer than ``min_outcomes`` outcomes (or too few of either class) the model is the documented
  prior below: a base failure rate of 15 % and, per feature, a log-odds slope chosen from published defect and change
  studies (bigger, more diffuse changes fail more; experience, rehearsed rollbacks and tests lower risk; freezes,
  weekends, open problems and live anomalies raise it). Features the history cannot inform (never observed there)
  keep their prior slope in a fitted model too, so the score of a request never ignores what the history lacks.
- **Explanation.** The log-odds of a change is the intercept plus one additive term per feature (all its spline
  columns); the term is the feature's contribution relative to a typical change.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from pydantic import BaseModel, ConfigDict, Field

from change_advisor.errors import ModelError
from change_advisor.features import FEATURE_NAMES, SPECS, transformed
from change_advisor.metrics import ScoreQuality, best_f1_threshold, score_quality
from change_advisor.model_settings import ModelSettings

logger = logging.getLogger(__name__)

PRIOR_BASE_RATE = 0.15
# feature -> (log-odds per unit of the transformed feature, the typical transformed value)
PRIOR: dict[str, tuple[float, float]] = {
    "la": (0.35, math.log1p(20)),
    "nf": (0.15, math.log1p(2)),
    "entropy": (0.20, 0.0),
    "fix": (0.20, 0.0),
    "exp": (-0.10, math.log1p(100)),
    "weekend": (0.40, 0.0),
    "off_hours": (0.30, 0.0),
    "peak_hours": (0.40, 0.0),
    "freeze": (1.00, 0.0),
    "risky_edits": (0.30, 0.0),
    "severe_edits": (0.60, 0.0),
    "blast_radius": (0.30, math.log1p(1)),
    "criticality": (0.25, 1.0),
    "no_rollback": (0.70, 0.0),
    "rollback_rehearsed": (-0.30, 0.0),
    "tests_failed": (1.00, 0.0),
    "no_tests": (0.40, 0.0),
    "type_database_migration": (0.80, 0.0),
    "type_infrastructure": (0.50, 0.0),
    "type_security": (0.40, 0.0),
    "type_network": (0.40, 0.0),
    "anomaly_level": (1.50, 0.0),
    "open_problems": (0.60, 0.0),
    "recent_incidents": (0.40, 0.0),
    "similar_failure_rate": (2.00, PRIOR_BASE_RATE),
}


class ColumnBasis(BaseModel):
    """How one feature becomes design columns: hinges, imputation and standardisation learned from training."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    knots: list[float]
    impute: float
    mean: list[float]
    scale: list[float]
    coefficients: list[float]


class RiskModelState(BaseModel):
    """Everything needed to score: saved in the store as JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["prior", "fitted"]
    intercept: float
    bases: list[ColumnBasis] = Field(default_factory=list)
    prior_features: list[str] = Field(default_factory=list)
    platt_a: float = 0.0
    platt_b: float = 1.0
    threshold: float = 0.3
    rows: int = 0
    failures: int = 0
    validation: ScoreQuality | None = Field(
        None, description="the newest training share scored by a model of the older rows (Platt fitted on it too)"
    )


class Contribution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    label: str
    value: float | None
    log_odds: float


def _hinges(x: np.ndarray, knots: list[float]) -> np.ndarray:
    return np.column_stack([x, *(np.maximum(x - k, 0.0) for k in knots)])


def _raw_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return transformed(name, frame[name].to_numpy(dtype=float))


class RiskModel:
    def __init__(self, state: RiskModelState) -> None:
        self.state = state
        self._bases = {basis.name: basis for basis in state.bases}

    @classmethod
    def prior(cls) -> RiskModel:
        return cls(
            RiskModelState(
                kind="prior", intercept=math.log(PRIOR_BASE_RATE / (1 - PRIOR_BASE_RATE)), prior_features=list(PRIOR)
            )
        )

    @classmethod
    def train(
        cls, features: pd.DataFrame, failed: np.ndarray, times: np.ndarray, settings: ModelSettings | None = None
    ) -> RiskModel:
        """Fit on outcome history (rows in any order; ``times`` in unix seconds); the prior if history is thin."""
        settings = settings or ModelSettings()
        y = np.asarray(failed, dtype=float)
        if len(y) != len(features) or len(y) != len(times):
            raise ModelError(f"features ({len(features)}), outcomes ({len(y)}) and times ({len(times)}) differ")
        failures = int(y.sum())
        if len(y) < settings.min_outcomes or min(failures, len(y) - failures) < settings.min_per_class:
            logger.info("cold start: %d outcomes (%d failed) — using the prior model", len(y), failures)
            return cls.prior()
        order = np.argsort(np.asarray(times, dtype=float), kind="stable")
        features, y, t = features.iloc[order].reset_index(drop=True), y[order], np.asarray(times, float)[order]
        cut = int(len(y) * (1 - settings.calibration_share))
        platt_a, platt_b, threshold = 0.0, 1.0, 0.5
        validation: ScoreQuality | None = None
        if min(y[cut:].sum(), (1 - y[cut:]).sum()) >= settings.min_per_class // 2 and cut >= settings.min_outcomes:
            early = cls._fit(features.iloc[:cut], y[:cut], t[:cut], settings)
            logits = early._logits(features.iloc[cut:])
            platt = sm.GLM(y[cut:], sm.add_constant(logits), family=sm.families.Binomial()).fit()
            platt_a, platt_b = (float(v) for v in platt.params)
            calibrated = 1 / (1 + np.exp(-(platt_a + platt_b * logits)))
            threshold = best_f1_threshold(y[cut:], calibrated)
            validation = score_quality(y[cut:], calibrated, threshold)
        model = cls._fit(features, y, t, settings)
        state = model.state.model_copy(
            update={
                "platt_a": platt_a,
                "platt_b": platt_b,
                "threshold": threshold,
                "rows": len(y),
                "failures": int(y.sum()),
                "validation": validation,
            }
        )
        return cls(state)

    @classmethod
    def _fit(cls, features: pd.DataFrame, y: np.ndarray, t: np.ndarray, settings: ModelSettings) -> RiskModel:
        bases: list[ColumnBasis] = []
        columns: list[np.ndarray] = []
        for name in FEATURE_NAMES:
            x = _raw_column(features, name)
            seen = x[~np.isnan(x)]
            if len(seen) < 0.5 * len(x) or len(np.unique(seen)) < 2:
                continue
            impute = float(np.median(seen))
            x = np.where(np.isnan(x), impute, x)
            knots: list[float] = []
            if SPECS[name].spline and settings.knots:
                inner = np.quantile(x, np.linspace(0, 1, settings.knots + 2)[1:-1])
                knots = [float(k) for k in np.unique(inner) if k > x.min() and k < x.max()]
            block = _hinges(x, knots)
            mean, scale = block.mean(axis=0), block.std(axis=0)
            scale[scale == 0] = 1.0
            columns.append((block - mean) / scale)
            bases.append(
                ColumnBasis(name=name, knots=knots, impute=impute, mean=list(mean), scale=list(scale), coefficients=[])
            )
        if not columns:
            raise ModelError("no feature varies in the history; cannot learn anything from it")
        design = sm.add_constant(np.hstack(columns), has_constant="add")
        span = max(float(t[-1] - t[0]), 1.0)
        weights = 0.5 ** (((t[-1] - t) / span) / settings.half_life)
        weights *= len(weights) / weights.sum()
        glm = sm.GLM(y, design, family=sm.families.Binomial(), freq_weights=weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of statsmodels; the result is checked below
            try:
                fitted = glm.fit_regularized(alpha=settings.ridge, L1_wt=0.0) if settings.ridge else glm.fit()
            except (np.linalg.LinAlgError, ValueError) as exc:
                raise ModelError(f"the GLM could not be fitted on {len(y)} outcomes: {exc}") from exc
        params = np.asarray(fitted.params, dtype=float)
        if not np.all(np.isfinite(params)):
            raise ModelError("the GLM did not converge to finite coefficients")
        position = 1
        for i, basis in enumerate(bases):
            width = len(basis.knots) + 1
            bases[i] = basis.model_copy(update={"coefficients": list(params[position : position + width])})
            position += width
        learned = {basis.name for basis in bases}
        return cls(
            RiskModelState(
                kind="fitted",
                intercept=float(params[0]),
                bases=bases,
                prior_features=[name for name in PRIOR if name not in learned],
            )
        )

    def _terms(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        terms: dict[str, np.ndarray] = {}
        for basis in self.state.bases:
            raw = _raw_column(features, basis.name)
            x = np.where(np.isnan(raw), basis.impute, raw)
            block = (_hinges(x, basis.knots) - np.asarray(basis.mean)) / np.asarray(basis.scale)
            # terms average zero over the training rows; an unknown value counts as that average change
            terms[basis.name] = np.where(np.isnan(raw), 0.0, block @ np.asarray(basis.coefficients))
        for name in self.state.prior_features:
            slope, typical = PRIOR[name]
            x = _raw_column(features, name)
            terms[name] = np.where(np.isnan(x), 0.0, slope * (x - typical))
        return terms

    def _logits(self, features: pd.DataFrame) -> np.ndarray:
        total = np.full(len(features), self.state.intercept)
        for term in self._terms(features).values():
            total = total + term
        return total

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of failure of every row."""
        z = self.state.platt_a + self.state.platt_b * self._logits(features)
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -35, 35))))

    def contributions(self, features: Mapping[str, float]) -> list[Contribution]:
        """Each feature's calibrated log-odds contribution for one change, largest effect first."""
        frame = pd.DataFrame([{name: features.get(name, math.nan) for name in FEATURE_NAMES}])
        out = []
        for name, term in self._terms(frame).items():
            value = features.get(name)
            shown = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            out.append(
                Contribution(
                    feature=name, label=SPECS[name].label, value=shown, log_odds=float(self.state.platt_b * term[0])
                )
            )
        return sorted(out, key=lambda c: -abs(c.log_odds))

    def to_json(self) -> str:
        return self.state.model_dump_json()

    @classmethod
    def from_json(cls, text: str) -> RiskModel:
        try:
            return cls(RiskModelState.model_validate_json(text))
        except ValueError as exc:
            raise ModelError(f"the saved model state is not readable: {exc}") from exc
