"""The Numenta Anomaly Benchmark: corpus loading, NAB v1 scoring and a runner for any registered detector."""

from detectors.nab.corpus import NabCorpus, NabFile, load_corpus
from detectors.nab.runner import FileTiming, NabReport, run_nab
from detectors.nab.scoring import PROFILES, CostProfile, FileLayout, ProfileResult, file_layout, score_corpus

PUBLISHED_ANCHORS: dict[str, tuple[float, float, float]] = {
    # standard, reward_low_FP_rate, reward_low_FN_rate on the 42-file subset (data README)
    "ARTime": (71.9, 62.5, 77.4),
    "Numenta HTM": (69.9, 63.6, 74.1),
    "CAD OSE": (67.6, 63.3, 71.7),
    "Random Cut Forest": (53.4, 42.6, 61.3),
    "Twitter ADVec": (40.5, 29.5, 46.3),
    "Windowed Gaussian": (30.6, 16.4, 37.3),
}

__all__ = [
    "PROFILES",
    "PUBLISHED_ANCHORS",
    "CostProfile",
    "FileLayout",
    "FileTiming",
    "NabCorpus",
    "NabFile",
    "NabReport",
    "ProfileResult",
    "file_layout",
    "load_corpus",
    "run_nab",
    "score_corpus",
]
