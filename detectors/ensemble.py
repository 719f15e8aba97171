"""An ensemble that calibrates each member's raw score into a comparable tail probability and combines them.

Calibration is streaming peaks-over-threshold per series and member: a running high quantile ``u`` of the member's
scores (stochastic-approximation quantile) and the mean excess ``e`` above it give an exponential (GPD with shape 0)
tail, P(S > s) ≈ (1 − q)·exp(−(s − u)/e) for s > u. The combined score is the smallest tail probability, mapped to
[0, 1) with the same "nines" squashing the streaming detectors use.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorOutput, DetectorParams, FloatArray, State
from detectors.changepoint import Cusum, CusumParams
from detectors.streaming import NoveltyDetector, NoveltyParams

MEMBERS: dict[str, tuple[type[Detector], type[DetectorParams]]] = {
    "novelty": (NoveltyDetector, NoveltyParams),
    "cusum": (Cusum, CusumParams),
}


class EnsembleParams(DetectorParams):
    members: tuple[str, ...] = Field(("novelty", "cusum"), min_length=1, description=f"From {sorted(MEMBERS)}.")
    quantile: float = Field(0.98, gt=0.5, lt=1, description="Level of the running threshold u of the tail.")
    rate: float = Field(0.01, gt=0, lt=1, description="Step of the running quantile and mean-excess estimates.")
    warmup: int = Field(300, ge=1, description="Points before calibrated scores are emitted.")


class CalibratedEnsemble(Detector):
    name = "ensemble"
    Params = EnsembleParams
    default_threshold = 0.7
    description = "members calibrated by streaming peaks-over-threshold tails, combined by the rarest"
    params: EnsembleParams

    def __init__(self, params: DetectorParams, n_series: int, step: float) -> None:
        assert isinstance(params, EnsembleParams)
        unknown = [m for m in params.members if m not in MEMBERS]
        if unknown:
            raise ValueError(f"unknown ensemble members {unknown}; known: {sorted(MEMBERS)}")
        self.members = [MEMBERS[m][0](MEMBERS[m][1](), n_series, step) for m in params.members]
        super().__init__(params, n_series, step)

    def init_state(self, n_series: int) -> State:
        k = len(self.params.members)
        own: State = {"u": np.zeros((n_series, k)), "excess": np.zeros((n_series, k)),
                      "count": np.zeros(n_series, dtype=np.int64)}  # fmt: skip
        for name, member in zip(self.params.members, self.members, strict=True):
            own.update({f"{name}.{key}": value for key, value in member.init_state(n_series).items()})
        return own

    def _sync_members(self) -> None:
        for name, member in zip(self.params.members, self.members, strict=True):
            member._state = {
                key[len(name) + 1 :]: value for key, value in self._state.items() if key.startswith(name + ".")
            }
            member.n_series = self.n_series

    def set_state(self, state: dict[str, np.ndarray]) -> None:  # type: ignore[override]
        super().set_state(state)
        self._sync_members()

    def reindex(self, keep: np.ndarray, n_new: int) -> None:  # type: ignore[override]
        super().reindex(keep, n_new)
        self._sync_members()

    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        self._sync_members()
        p = self.params
        outs = [m.update(values, timestamps) for m in self.members]
        for name, member in zip(p.members, self.members, strict=True):
            self._state.update({f"{name}.{key}": value for key, value in member._state.items()})
        raw = np.stack([o.scores for o in outs], axis=1)  # series × members × points
        n, _, t = raw.shape
        scores = np.zeros((n, t))
        s = self._state
        for j in range(t):
            r = raw[:, :, j]
            ok = np.isfinite(values[:, j])
            above = r > s["u"]
            excess = np.maximum(s["excess"], 1e-6)
            log_tail = np.where(above, np.log1p(-p.quantile) - (r - s["u"]) / excess, np.log1p(-p.quantile))
            log_tail = np.where(
                above, log_tail, np.log1p(-(1 - p.quantile) * np.minimum(r / np.maximum(s["u"], 1e-9), 1.0))
            )
            nines = -log_tail.min(axis=1) / np.log(10.0)
            scores[:, j] = np.where(ok & (s["count"] >= p.warmup), nines / (nines + 2.0), 0.0)
            # the running quantile moves up by rate·q when exceeded and down by rate·(1−q) otherwise
            okc = ok[:, None]
            s["u"] = s["u"] + np.where(okc, p.rate * np.where(above, p.quantile, -(1 - p.quantile)), 0.0)
            s["excess"] = s["excess"] + np.where(okc & above, p.rate * ((r - s["u"]) - s["excess"]), 0.0)
            s["count"] = s["count"] + ok
        first = outs[0]
        return DetectorOutput(scores, first.expected, first.lower, first.upper)
