"""Run one detector configuration over every file of a NAB corpus and score it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors.base import FloatArray
from detectors.nab.corpus import NabCorpus
from detectors.nab.scoring import PROFILES, ProfileResult, score_corpus
from detectors.registry import DetectorRegistry

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str, float], None]


@dataclass(frozen=True)
class FileTiming:
    name: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class NabReport:
    detector: str
    params: Mapping[str, Any]
    results: list[ProfileResult]
    timings: list[FileTiming]
    scores: Mapping[str, FloatArray]


def detect_file(
    registry: DetectorRegistry,
    name: str,
    params: Mapping[str, Any] | None,
    values: FloatArray,
    timestamps: FloatArray,
    step: float,
) -> FloatArray:
    """Scores of one series, fed point by point in the order of the file (causal by construction)."""
    detector = registry.create(name, params, 1, step)
    out = detector.update(values[None, :], timestamps)
    scores: FloatArray = np.clip(np.nan_to_num(out.scores[0], nan=0.0), 0.0, 1.0)
    return scores


def run_nab(
    corpus: NabCorpus,
    registry: DetectorRegistry,
    detector: str = "default",
    params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> NabReport:
    scores: dict[str, FloatArray] = {}
    timings: list[FileTiming] = []
    for i, nab_file in enumerate(corpus):
        series = nab_file.series
        started = time.perf_counter()
        scores[nab_file.name] = detect_file(
            registry, detector, params, series.values, series.unix_seconds, series.step_seconds
        )
        elapsed = time.perf_counter() - started
        timings.append(FileTiming(nab_file.name, len(series.values), elapsed))
        if progress is not None:
            progress(i + 1, len(corpus), nab_file.name, elapsed)
    layouts = {f.name: f.layout for f in corpus}
    results = score_corpus(scores, layouts, PROFILES)
    return NabReport(registry.get(detector).name, dict(params or {}), results, timings, scores)
