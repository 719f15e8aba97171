"""Anomaly detectors behind one interface, vectorised over many series."""

from detectors.base import Detector, DetectorOutput, DetectorParams, State, direction_of
from detectors.changepoint import Cusum
from detectors.ensemble import CalibratedEnsemble
from detectors.errors import (
    DetectorError,
    DetectorParamsError,
    DetectorStateError,
    DuplicateDetector,
    UnknownDetector,
)
from detectors.forecast import TrendExhaustion
from detectors.registry import DetectorRegistry
from detectors.robust import EwmaZScore
from detectors.seasonal import SeasonalBaseline
from detectors.streaming import NoveltyDetector

DEFAULT_DETECTOR = "novelty"


def builtin_registry() -> DetectorRegistry:
    """A fresh registry holding every detector shipped with aiopsd, with the project's default set."""
    registry = DetectorRegistry(default=DEFAULT_DETECTOR)
    for cls in (EwmaZScore, NoveltyDetector, Cusum, SeasonalBaseline, TrendExhaustion, CalibratedEnsemble):
        registry.register(cls)
    return registry


__all__ = [
    "DEFAULT_DETECTOR",
    "Detector",
    "DetectorError",
    "DetectorOutput",
    "DetectorParams",
    "DetectorParamsError",
    "DetectorRegistry",
    "DetectorStateError",
    "DuplicateDetector",
    "State",
    "UnknownDetector",
    "builtin_registry",
    "direction_of",
]
