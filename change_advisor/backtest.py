"""The backtest of the paper's protocol: order by time, train on the first share, score the rest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from change_advisor.errors import HistoryError
from change_advisor.features import kamei_table_features
from change_advisor.metrics import ScoreQuality, score_quality
from change_advisor.model import RiskModel
from change_advisor.model_settings import ModelSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BacktestResult:
    scores: pd.DataFrame  # columns _id, risk: every scored (test) row, in time order
    quality: ScoreQuality
    train_rows: int
    model: RiskModel


def read_history_table(path: Path) -> pd.DataFrame:
    """A CSV in the JIT column schema: ``_id``, ``date`` (unix seconds), ``bug`` (0/1) and the Kamei metrics."""
    try:
        table = pd.read_csv(path, low_memory=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise HistoryError(f"{path}: cannot read a CSV table: {exc}") from exc
    for column in ("_id", "date", "bug"):
        if column not in table.columns:
            raise HistoryError(f"{path}: missing column {column!r}; expected _id, date, bug and the Kamei metrics")
    bug = pd.to_numeric(table["bug"], errors="coerce")
    bad = ~bug.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise HistoryError(f"{path}: row {row + 2} column 'bug': expected 0 or 1, got {table['bug'].iloc[row]!r}")
    if table["_id"].isna().any():
        row = int(np.flatnonzero(table["_id"].isna().to_numpy())[0])
        raise HistoryError(f"{path}: row {row + 2} column '_id': empty")
    return table


def backtest(path: Path, train_fraction: float = 0.8, settings: ModelSettings | None = None) -> BacktestResult:
    if not 0 < train_fraction < 1:
        raise HistoryError(f"train fraction must be between 0 and 1 (exclusive), got {train_fraction}")
    table = read_history_table(path)
    features = kamei_table_features(table, str(path))
    order = np.argsort(pd.to_numeric(table["date"]).to_numpy(), kind="stable")
    table, features = table.iloc[order].reset_index(drop=True), features.iloc[order].reset_index(drop=True)
    cut = int(len(table) * train_fraction)
    if cut == 0 or cut == len(table):
        raise HistoryError(f"{path}: {len(table)} rows leave no training or no test rows at fraction {train_fraction}")
    failed = table["bug"].to_numpy(dtype=float)
    times = pd.to_numeric(table["date"]).to_numpy(dtype=float)
    logger.info(
        "training on %d rows up to %s, scoring %d", cut, pd.to_datetime(times[cut - 1], unit="s"), len(table) - cut
    )
    model = RiskModel.train(features.iloc[:cut], failed[:cut], times[:cut], settings)
    risk = model.predict(features.iloc[cut:])
    scores = pd.DataFrame({"_id": table["_id"].iloc[cut:].to_numpy(), "risk": risk})
    quality = score_quality(failed[cut:], risk, model.state.threshold)
    return BacktestResult(scores=scores, quality=quality, train_rows=cut, model=model)
