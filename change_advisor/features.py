"""Engineered features of a change: one flat mapping of name → number, the same for history rows and requests.

A feature a source cannot know is NaN (e.g. manifest edits for a history row from a code repository); the model
imputes it as the typical value, so it contributes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from change_advisor.errors import HistoryError

Transform = Literal["log1p", "identity"]


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    label: str
    transform: Transform
    spline: bool  # continuous: a piecewise-linear spline with knots at training quantiles


KAMEI = ("ns", "nd", "nf", "entropy", "la", "ld", "lt", "fix", "ndev", "age", "nuc", "exp", "rexp", "sexp")
CATALOGUE: tuple[FeatureSpec, ...] = (
    FeatureSpec("ns", "subsystems touched", "log1p", True),
    FeatureSpec("nd", "directories touched", "log1p", True),
    FeatureSpec("nf", "files touched", "log1p", True),
    FeatureSpec("entropy", "spread of the change over files", "identity", True),
    FeatureSpec("la", "lines added", "log1p", True),
    FeatureSpec("ld", "lines deleted", "log1p", True),
    FeatureSpec("lt", "size of the touched files", "log1p", True),
    FeatureSpec("fix", "defect-fix change", "identity", False),
    FeatureSpec("ndev", "developers who touched the files", "log1p", True),
    FeatureSpec("age", "days since the files last changed", "log1p", True),
    FeatureSpec("nuc", "earlier changes to the files", "log1p", True),
    FeatureSpec("exp", "author experience", "log1p", True),
    FeatureSpec("rexp", "author's recent experience", "log1p", True),
    FeatureSpec("sexp", "author's experience in the subsystem", "log1p", True),
    FeatureSpec("added_share", "lines added relative to file size", "log1p", True),
    FeatureSpec("weekend", "scheduled on a weekend", "identity", False),
    FeatureSpec("off_hours", "scheduled outside working hours", "identity", False),
    FeatureSpec("peak_hours", "scheduled in peak hours", "identity", False),
    FeatureSpec("freeze", "inside a change freeze", "identity", False),
    FeatureSpec("risky_edits", "risky manifest edits", "log1p", False),
    FeatureSpec("severe_edits", "high-severity manifest edits", "log1p", False),
    FeatureSpec("blast_radius", "targets touched", "log1p", False),
    FeatureSpec("criticality", "criticality of the targets (0–3)", "identity", False),
    FeatureSpec("no_rollback", "no rollback plan", "identity", False),
    FeatureSpec("rollback_rehearsed", "rollback rehearsed", "identity", False),
    FeatureSpec("tests_failed", "failing test evidence", "identity", False),
    FeatureSpec("no_tests", "no test evidence", "identity", False),
    FeatureSpec("type_database_migration", "database migration", "identity", False),
    FeatureSpec("type_infrastructure", "infrastructure change", "identity", False),
    FeatureSpec("type_security", "security change", "identity", False),
    FeatureSpec("type_network", "network change", "identity", False),
    FeatureSpec("anomaly_level", "anomaly level on the targets now", "identity", False),
    FeatureSpec("open_problems", "open problems on the targets", "log1p", False),
    FeatureSpec("recent_incidents", "recent incidents on the targets", "log1p", False),
    FeatureSpec("similar_failure_rate", "failure rate of similar changes", "identity", False),
)
SPECS = {spec.name: spec for spec in CATALOGUE}
FEATURE_NAMES = tuple(spec.name for spec in CATALOGUE)
# the JIT data spells entropy "entrophy"
_JIT_ALIASES = {"entrophy": "entropy"}


def transformed(name: str, values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if SPECS[name].transform == "log1p":
        return np.asarray(np.log1p(np.clip(values, 0, None)), dtype=float)
    return values


def timing(unix_seconds: np.ndarray, utc_offset_hours: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(weekend, off_hours) flags of times given in unix seconds, in a fixed offset from UTC."""
    local = pd.to_datetime(np.asarray(unix_seconds, dtype=float) + utc_offset_hours * 3600, unit="s", utc=True)
    weekend = (local.day_of_week >= 5).astype(float)
    hour = local.hour
    off_hours = ((hour < 7) | (hour >= 20)).astype(float)
    return np.asarray(weekend), np.asarray(off_hours)


def kamei_table_features(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Features of a history table in the JIT column schema (``date`` and the Kamei metrics; extra columns named
    like features are taken as they are). Raises HistoryError naming the file, column and row when malformed."""
    table = table.rename(columns=_JIT_ALIASES)
    missing = [c for c in ("date", *KAMEI) if c not in table.columns]
    if missing:
        raise HistoryError(f"{source}: missing column(s) {missing}; expected date and the Kamei metrics {list(KAMEI)}")
    out = pd.DataFrame(index=table.index)
    for column in ("date", *KAMEI):
        numbers = pd.to_numeric(table[column], errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers) | (numbers < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise HistoryError(
                f"{source}: row {row + 2} column {column!r}: expected a non-negative number,"
                f" got {table[column].iloc[row]!r}"
            )
        out[column] = numbers.astype(float)
    out["added_share"] = out["la"] / (out["lt"] + 1.0)
    out["weekend"], out["off_hours"] = timing(out["date"].to_numpy())
    for name in FEATURE_NAMES:
        if name not in out.columns:
            out[name] = pd.to_numeric(table[name], errors="coerce") if name in table.columns else math.nan
    return out[list(FEATURE_NAMES)]
