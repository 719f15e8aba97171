from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class RawSeries:
    """One result series of a range query: its labels and samples (unix seconds, float values, NaN allowed)."""

    labels: dict[str, str]
    timestamps: NDArray[np.float64]
    values: NDArray[np.float64]


class MetricSource(Protocol):
    name: str

    def fetch_range(self, promql: str, start: float, end: float, step: float) -> list[RawSeries]:
        """Samples of ``promql`` evaluated at start, start+step, …, end (inclusive).

        Raises SourceUnavailable when the source cannot be reached, QueryError when it rejects the query.
        """
        ...
