"""The detector interface.

A detector keeps one row of state per series and consumes a window of series × time incrementally. For every new
point it emits a causal anomaly score in [0, 1] (it uses only data up to that point) and the evidence: the value it
expected and the band it considered normal. State is a mapping of numpy arrays whose leading axis is the series, so
the daemon can persist it, restore it, and drop or add rows when series disappear or appear, without knowing the
detector.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from detectors.errors import DetectorStateError

FloatArray = NDArray[np.float64]
State = dict[str, NDArray[Any]]


class DetectorParams(BaseModel):
    """Base of every detector's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class DetectorOutput:
    """Scores and evidence for the new points, each array shaped (series, new points)."""

    scores: FloatArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    # forecast detectors: seconds until the series is expected to reach its capacity (inf: not on course)
    time_to_exhaustion: FloatArray | None = None
    extra: Mapping[str, FloatArray] = field(default_factory=dict)

    @staticmethod
    def empty(n_series: int, n_points: int) -> DetectorOutput:
        nan = np.full((n_series, n_points), np.nan)
        return DetectorOutput(np.zeros((n_series, n_points)), nan, nan.copy(), nan.copy())


def direction_of(values: FloatArray, expected: FloatArray) -> NDArray[np.int8]:
    """+1 where the value is above what was expected, -1 below, 0 where either is unknown."""
    diff = np.where(np.isfinite(values) & np.isfinite(expected), values - expected, 0.0)
    return np.sign(diff).astype(np.int8)


class Detector(ABC):
    """One detector over ``n_series`` series sampled every ``step`` seconds."""

    name: ClassVar[str]
    Params: ClassVar[type[DetectorParams]] = DetectorParams
    default_threshold: ClassVar[float] = 0.9
    description: ClassVar[str] = ""

    def __init__(self, params: DetectorParams, n_series: int, step: float) -> None:
        if not isinstance(params, self.Params):
            raise TypeError(f"{self.name} expects {self.Params.__name__}, got {type(params).__name__}")
        self.params = params
        self.step = float(step)
        self.n_series = n_series
        self._state: State = self.init_state(n_series)

    @abstractmethod
    def init_state(self, n_series: int) -> State:
        """A fresh state for ``n_series`` series; every array has the series on axis 0."""

    @abstractmethod
    def update(self, values: FloatArray, timestamps: FloatArray) -> DetectorOutput:
        """Consume ``values`` (series × new points, NaN where missing) taken at ``timestamps`` (unix seconds)."""

    def fit(self, history: FloatArray, timestamps: FloatArray) -> None:
        """Warm up on a training window. By default: consume it and discard the scores."""
        if history.shape[1]:
            self.update(history, timestamps)

    def get_state(self) -> State:
        return {key: value.copy() for key, value in self._state.items()}

    def set_state(self, state: Mapping[str, NDArray[Any]]) -> None:
        fresh = self.init_state(self.n_series)
        if set(state) != set(fresh):
            raise DetectorStateError(
                f"{self.name}: state keys {sorted(state)} do not match the expected {sorted(fresh)}"
            )
        for key, value in state.items():
            if value.shape[1:] != fresh[key].shape[1:] or value.shape[0] != self.n_series:
                raise DetectorStateError(
                    f"{self.name}: state {key!r} has shape {value.shape}, expected {fresh[key].shape}"
                )
        self._state = {key: np.asarray(value).copy() for key, value in state.items()}

    def reindex(self, keep: NDArray[np.intp], n_new: int) -> None:
        """Keep the rows ``keep`` (in that order) and append ``n_new`` fresh series."""
        fresh = self.init_state(n_new)
        self._state = {key: np.concatenate([value[keep], fresh[key]], axis=0) for key, value in self._state.items()}
        self.n_series = len(keep) + n_new
