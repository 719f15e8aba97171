"""Aligning raw series onto a shared time grid as a series × time numpy matrix.

The grid is the query's step multiples, so a range query whose start and end sit on the grid returns points exactly
on it; anything off-grid is snapped to the nearest grid point. Missing points, NaN and ±Inf become NaN; counters
become per-second rates that survive resets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from daemon.sources.base import RawSeries

FloatMatrix = NDArray[np.float64]


def series_key(labels: dict[str, str]) -> str:
    """A stable key for a label set (order-independent)."""
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(labels.items()))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def grid_between(start: float, end: float, step: float) -> NDArray[np.float64]:
    """Grid points k*step with start <= point <= end."""
    first = np.ceil(start / step - 1e-9) * step
    if first > end + 1e-9:
        return np.empty(0)
    count = int(np.floor((end - first) / step + 1e-9)) + 1
    return np.asarray(first + step * np.arange(count, dtype=np.float64), dtype=np.float64)


@dataclass
class SeriesTable:
    """The series a query has seen, in row order: keys, labels, and when each last had a finite value."""

    keys: list[str] = field(default_factory=list)
    labels: list[dict[str, str]] = field(default_factory=list)
    last_seen: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    index: dict[str, int] = field(default_factory=dict)
    first_seen: NDArray[np.float64] = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return len(self.keys)

    def rebuild_index(self) -> None:
        self.index = {key: row for row, key in enumerate(self.keys)}

    def add(self, key: str, labels: dict[str, str], seen: float) -> int:
        self.keys.append(key)
        self.labels.append(labels)
        self.last_seen = np.append(self.last_seen, seen)
        self.first_seen = np.append(self.first_seen, np.inf)
        self.index[key] = len(self.keys) - 1
        return len(self.keys) - 1

    def keep(self, rows: NDArray[np.intp]) -> None:
        self.keys = [self.keys[r] for r in rows]
        self.labels = [self.labels[r] for r in rows]
        self.last_seen = self.last_seen[rows]
        self.first_seen = self.first_seen[rows]
        self.rebuild_index()


def align(raw: Sequence[RawSeries], grid: NDArray[np.float64], step: float, table: SeriesTable) -> FloatMatrix:
    """Scatter ``raw`` onto ``grid``; series new to ``table`` are appended to it. Returns (len(table), len(grid))."""
    rows_parts: list[NDArray[np.intp]] = []
    ts_parts: list[NDArray[np.float64]] = []
    val_parts: list[NDArray[np.float64]] = []
    first_ts = float(grid[0]) if len(grid) else 0.0
    for series in raw:
        key = series_key(series.labels)
        row = table.index.get(key)
        if row is None:
            row = table.add(key, series.labels, -np.inf)
        rows_parts.append(np.full(len(series.timestamps), row, dtype=np.intp))
        ts_parts.append(series.timestamps)
        val_parts.append(series.values)
    matrix = np.full((len(table), len(grid)), np.nan)
    if not rows_parts or not len(grid):
        return matrix
    rows = np.concatenate(rows_parts)
    cols = np.rint((np.concatenate(ts_parts) - first_ts) / step).astype(np.intp)
    values = np.concatenate(val_parts)
    inside = (cols >= 0) & (cols < len(grid))
    values = np.where(np.isfinite(values), values, np.nan)
    matrix[rows[inside], cols[inside]] = values[inside]
    finite = np.isfinite(matrix)
    has = finite.any(axis=1)
    last_col = len(grid) - 1 - np.argmax(finite[:, ::-1], axis=1)
    table.last_seen = np.where(has, np.maximum(table.last_seen, grid[last_col]), table.last_seen)
    table.first_seen = np.where(has, np.minimum(table.first_seen, grid[np.argmax(finite, axis=1)]), table.first_seen)
    return matrix


def forward_fill(matrix: FloatMatrix, initial: NDArray[np.float64]) -> tuple[FloatMatrix, NDArray[np.intp]]:
    """Each cell's most recent finite value *before* it (``initial`` before the first column), and its column.

    The column is -1 where the value came from ``initial`` (or there is none).
    """
    t = matrix.shape[1]
    extended = np.concatenate([initial[:, None], matrix], axis=1)
    finite = np.isfinite(extended)
    idx = np.where(finite, np.arange(t + 1), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    prev_idx = idx[:, :-1]  # for column j of matrix (j+1 of extended): last finite at or before extended j
    prev = np.take_along_axis(extended, prev_idx, axis=1)
    return prev, prev_idx - 1


def counter_rates(
    matrix: FloatMatrix, grid: NDArray[np.float64], last_value: NDArray[np.float64], last_ts: NDArray[np.float64]
) -> tuple[FloatMatrix, NDArray[np.float64], NDArray[np.float64]]:
    """Per-second rates of raw counter values; a drop is a reset (the counter restarted from zero).

    ``last_value``/``last_ts`` carry each series' previous raw sample across calls. Returns the rates and the new
    carry.
    """
    prev, prev_col = forward_fill(matrix, last_value)
    prev_ts = np.where(prev_col >= 0, grid[np.maximum(prev_col, 0)], last_ts[:, None])
    increase = matrix - prev
    increase = np.where(increase < 0, matrix, increase)  # reset: everything since zero is new
    elapsed = grid[None, :] - prev_ts
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(np.isfinite(increase) & (elapsed > 0), increase / elapsed, np.nan)
    finite = np.isfinite(matrix)
    has = finite.any(axis=1)
    last_col = matrix.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1) if matrix.shape[1] else np.zeros(0, int)
    rows = np.arange(matrix.shape[0])
    new_value = np.where(has, matrix[rows, last_col] if matrix.shape[1] else np.nan, last_value)
    new_ts = np.where(has, grid[last_col] if matrix.shape[1] else np.nan, last_ts)
    return rates, new_value, new_ts
