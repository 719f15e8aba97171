"""Reading ``timestamp,value`` files (the NAB format) with errors that name the file, the row and the column."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from detectors.base import FloatArray
from detectors.errors import SeriesFileError

REQUIRED_COLUMNS = ("timestamp", "value")


@dataclass(frozen=True)
class SeriesFile:
    path: Path
    timestamps: np.ndarray  # datetime64[ns]
    values: FloatArray  # NaN where the value cell is empty or "nan"

    @property
    def unix_seconds(self) -> FloatArray:
        return self.timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9

    @property
    def step_seconds(self) -> float:
        if len(self.timestamps) < 2:
            return 60.0
        steps = np.diff(self.unix_seconds)
        steps = steps[steps > 0]
        return float(np.median(steps)) if len(steps) else 60.0


def read_series_csv(path: Path, check_order: bool = True) -> SeriesFile:
    """Row numbers in errors count the header as row 1, as a spreadsheet shows them.

    NAB's own files repeat and step back a timestamp in places (daylight-saving changes); the benchmark reads rows
    in file order with ``check_order=False``, the ``detect`` command requires strictly increasing timestamps.
    """
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise SeriesFileError(f"{path}: cannot read: {exc.strerror}") from None
    if not rows:
        raise SeriesFileError(f"{path}: empty file, expected a header 'timestamp,value'")
    header = [cell.strip() for cell in rows[0]]
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise SeriesFileError(f"{path}: row 1: missing column {column!r}, expected columns 'timestamp,value'")
    ts_col, value_col = header.index("timestamp"), header.index("value")
    raw_ts: list[str] = []
    values = np.empty(len(rows) - 1)
    for i, row in enumerate(rows[1:]):
        line = i + 2
        if len(row) < len(header):
            raise SeriesFileError(f"{path}: row {line}: has {len(row)} cells, expected {len(header)}")
        raw_ts.append(row[ts_col].strip())
        cell = row[value_col].strip()
        if cell == "" or cell.lower() == "nan":
            values[i] = np.nan
            continue
        try:
            values[i] = float(cell)
        except ValueError:
            raise SeriesFileError(f"{path}: row {line}, column 'value': {cell!r} is not a number") from None
        if not np.isfinite(values[i]):
            raise SeriesFileError(f"{path}: row {line}, column 'value': {cell!r} is not a finite number")
    timestamps = np.empty(len(raw_ts), dtype="datetime64[ns]")
    for i, text in enumerate(raw_ts):
        try:
            stamp = pd.Timestamp(text)
        except ValueError:
            stamp = pd.NaT
        if stamp is pd.NaT or pd.isna(stamp):
            raise SeriesFileError(
                f"{path}: row {i + 2}, column 'timestamp': {text!r} is not a timestamp "
                "(expected e.g. 2014-02-14 14:30:00)"
            )
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        timestamps[i] = np.datetime64(stamp.to_datetime64(), "ns")
    if check_order and len(timestamps) > 1:
        steps = np.diff(timestamps)
        bad = np.flatnonzero(steps <= np.timedelta64(0, "ns"))
        if len(bad):
            j = int(bad[0]) + 1
            kind = "duplicates" if steps[bad[0]] == np.timedelta64(0, "ns") else "is earlier than"
            raise SeriesFileError(
                f"{path}: row {j + 2}, column 'timestamp': {raw_ts[j]!r} {kind} the previous row's "
                f"{raw_ts[j - 1]!r}; timestamps must be strictly increasing"
            )
    return SeriesFile(path, timestamps, values)
