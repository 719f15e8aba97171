"""One query's way through a tick: plan the range to fetch, align it, detect, and turn scores into anomalies.

The pipeline is the unit of state: its series table, detector state and two cursors — ``state_ts`` (the detector
state includes every point up to it) and ``processed_ts`` (anomalies were recorded up to it). A restart restores
the last checkpoint and re-runs the points after ``state_ts`` without re-alerting those up to ``processed_ts``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from daemon.domain import Anomaly, entities_from_labels
from daemon.settings import DetectionSettings, QuerySettings
from daemon.sources.alignment import SeriesTable, align, counter_rates, grid_between
from daemon.sources.base import RawSeries
from detectors import Detector, DetectorOutput, DetectorRegistry, DetectorStateError, direction_of

logger = logging.getLogger(__name__)
_SELECTOR = re.compile(r"^\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*(\{[^{}]*\})?\s*$")


def effective_promql(query: QuerySettings, step: float) -> str:
    """The PromQL actually sent. A raw counter given as a plain selector is read as its last sample *within the
    step*: Prometheus' lookback would otherwise repeat an old sample at a grid point no scrape reached yet, which
    reads as a zero rate; a missing point is a gap, and the rate spans it."""
    if query.kind == "counter" and _SELECTOR.match(query.promql):
        # the range includes its left edge: one millisecond short of the step excludes the previous grid sample
        return f"last_over_time({query.promql.strip()}[{round(step * 1000) - 1}ms])"
    return query.promql


@dataclass(frozen=True)
class FetchPlan:
    start: float
    end: float
    mode: Literal["backfill", "tick"]
    skipped: float = 0.0  # seconds of history skipped because the gap exceeded max_catch_up


@dataclass
class StepTimings:
    align: float = 0.0
    detect: float = 0.0


@dataclass
class StepResult:
    anomalies: list[Anomaly]
    series: int
    points: int
    timings: StepTimings = field(default_factory=StepTimings)


@dataclass(frozen=True)
class PipelineCheckpoint:
    detector: str
    config_hash: str
    state_ts: float
    processed_ts: float
    series: list[dict[str, Any]]
    state: bytes


def _to_npz(arrays: dict[str, NDArray[Any]]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _from_npz(blob: bytes) -> dict[str, NDArray[Any]]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


class QueryPipeline:
    def __init__(
        self,
        source: str,
        query: QuerySettings,
        step: float,
        detection: DetectionSettings,
        registry: DetectorRegistry,
    ) -> None:
        self.source = source
        self.query = query
        self.step = float(query.step.total_seconds()) if query.step else float(step)
        self.detection = detection
        self.registry = registry
        self.detector_name = registry.get(query.detector or detection.default_detector).name
        self.table = SeriesTable()
        self.detector = self._new_detector(0)
        self.forecaster = self._new_forecaster(0)
        self.state_ts: float | None = None
        self.processed_ts: float = -math.inf
        self._counter_value = np.empty(0)
        self._counter_ts = np.empty(0)
        self.threshold = query.threshold if query.threshold is not None else detection.threshold
        self.promql = effective_promql(query, self.step)
        self.config_hash = self._config_hash()

    # -- construction ----------------------------------------------------------------------------------------
    def _new_detector(self, n: int) -> Detector:
        return self.registry.create(self.detector_name, self.query.params, n, self.step)

    def _new_forecaster(self, n: int) -> Detector | None:
        name = self.detection.forecast_detector
        if self.query.capacity is None:
            return None
        if name not in self.registry:
            logger.warning("query %s sets a capacity but detector %r is not registered", self.query.name, name)
            return None
        cls = self.registry.get(name)
        params = {"capacity": self.query.capacity} if "capacity" in cls.Params.model_fields else {}
        return self.registry.create(name, params, n, self.step)

    def _config_hash(self) -> str:
        text = json.dumps(
            [self.query.model_dump(mode="json"), self.detector_name, self.step, self.detection.forecast_detector],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _threshold_of(self, detector: Detector) -> float:
        """The configured threshold applies to the main detector; a forecaster's score has its own scale."""
        if self.threshold is not None and detector is self.detector:
            return self.threshold
        return detector.default_threshold

    # -- planning --------------------------------------------------------------------------------------------
    def plan(self, now: float, lag: float = 0.0) -> FetchPlan | None:
        end = math.floor((now - lag) / self.step) * self.step
        if self.state_ts is None:
            start = end - self.detection.training_window.total_seconds()
            return FetchPlan(start, end, "backfill")
        start = self.state_ts + self.step
        if end < start:
            return None
        skipped = 0.0
        limit = self.detection.max_catch_up.total_seconds()
        if end - start > limit:
            skipped = end - limit - start
            start = end - limit
        return FetchPlan(start, end, "tick", skipped)

    # -- processing ------------------------------------------------------------------------------------------
    def process(self, raw: Sequence[RawSeries], plan: FetchPlan) -> StepResult:
        t0 = time.perf_counter()
        grid = grid_between(plan.start, plan.end, self.step)
        before = len(self.table)
        matrix = align(raw, grid, self.step, self.table)
        added = len(self.table) - before
        if added:
            self._grow(before, added)
        if self.query.kind == "counter":
            matrix, self._counter_value, self._counter_ts = counter_rates(
                matrix, grid, self._counter_value, self._counter_ts
            )
        t1 = time.perf_counter()
        anomalies: list[Anomaly] = []
        if plan.mode == "backfill":
            self.detector.fit(matrix, grid)
            if self.forecaster is not None:
                self.forecaster.fit(matrix, grid)
            self.processed_ts = max(self.processed_ts, plan.end)
        elif len(grid):
            out = self.detector.update(matrix, grid)
            anomalies = self._anomalies(matrix, grid, out, self.detector, "point")
            if self.forecaster is not None:
                fout = self.forecaster.update(matrix, grid)
                anomalies += self._anomalies(matrix, grid, fout, self.forecaster, "forecast")
            self.processed_ts = max(self.processed_ts, plan.end)
        self.state_ts = plan.end
        self._expire(plan.end)
        t2 = time.perf_counter()
        return StepResult(anomalies, len(self.table), int(matrix.size), StepTimings(t1 - t0, t2 - t1))

    def _grow(self, before: int, added: int) -> None:
        keep = np.arange(before, dtype=np.intp)
        self.detector.reindex(keep, added)
        if self.forecaster is not None:
            self.forecaster.reindex(keep, added)
        self._counter_value = np.concatenate([self._counter_value, np.full(added, np.nan)])
        self._counter_ts = np.concatenate([self._counter_ts, np.full(added, np.nan)])

    def _expire(self, now: float) -> None:
        expiry = self.detection.series_expiry.total_seconds()
        alive = self.table.last_seen >= now - expiry
        # a series never seen yet (last_seen = -inf) is kept only if it was just added: give it one expiry span
        if alive.all():
            return
        keep = np.flatnonzero(alive).astype(np.intp)
        logger.info("%s/%s: %d series vanished", self.source, self.query.name, len(self.table) - len(keep))
        self.table.keep(keep)
        self.detector.reindex(keep, 0)
        if self.forecaster is not None:
            self.forecaster.reindex(keep, 0)
        self._counter_value = self._counter_value[keep]
        self._counter_ts = self._counter_ts[keep]

    def _anomalies(
        self,
        values: NDArray[np.float64],
        grid: NDArray[np.float64],
        out: DetectorOutput,
        detector: Detector,
        kind: Literal["point", "forecast"],
    ) -> list[Anomaly]:
        threshold = self._threshold_of(detector)
        fresh = grid > self.processed_ts
        hits = (out.scores >= threshold) & fresh[None, :] & np.isfinite(values)
        grace = self.detection.new_series_grace.total_seconds()
        if grace > 0:  # a series that just appeared (a new pod) may not alarm yet: its detector knows too little
            hits &= grid[None, :] >= self.table.first_seen[:, None] + grace
        rows, cols = np.nonzero(hits)
        if not len(rows):
            return []
        directions = direction_of(values[rows, cols], out.expected[rows, cols])
        now = time.time()
        tte = out.time_to_exhaustion
        found = []
        for i, (r, c) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            labels = self.table.labels[r]
            found.append(
                Anomaly(
                    source=self.source,
                    query=self.query.name,
                    series_key=self.table.keys[r],
                    labels=labels,
                    entities=entities_from_labels(labels, self.query.entity),
                    ts=float(grid[c]),
                    value=_finite(values[r, c]),
                    score=float(min(max(out.scores[r, c], 0.0), 1.0)),
                    expected=_finite(out.expected[r, c]),
                    lower=_finite(out.lower[r, c]),
                    upper=_finite(out.upper[r, c]),
                    direction=int(directions[i]),
                    detector=detector.name,
                    kind=kind,
                    symptom=self.query.symptom,
                    time_to_exhaustion=_finite(tte[r, c]) if tte is not None else None,
                )
            )
        logger.debug("%s/%s: %d anomalies at %s", self.source, self.query.name, len(found), now)
        return found

    # -- persistence -----------------------------------------------------------------------------------------
    def checkpoint(self) -> PipelineCheckpoint | None:
        if self.state_ts is None:
            return None
        arrays: dict[str, NDArray[Any]] = {f"d:{k}": v for k, v in self.detector.get_state().items()}
        if self.forecaster is not None:
            arrays |= {f"f:{k}": v for k, v in self.forecaster.get_state().items()}
        arrays["c:value"] = self._counter_value
        arrays["c:ts"] = self._counter_ts
        series = [
            {"key": k, "labels": lab, "last_seen": float(s), "first_seen": float(f)}
            for k, lab, s, f in zip(
                self.table.keys, self.table.labels, self.table.last_seen, self.table.first_seen, strict=True
            )
        ]
        return PipelineCheckpoint(
            self.detector_name, self.config_hash, self.state_ts, self.processed_ts, series, _to_npz(arrays)
        )

    def restore(self, checkpoint: PipelineCheckpoint) -> bool:
        """Resume from a checkpoint; False (and a fresh start) if the query or detector changed since."""
        if checkpoint.config_hash != self.config_hash or checkpoint.detector != self.detector_name:
            logger.info("%s/%s: configuration changed, backfilling afresh", self.source, self.query.name)
            return False
        arrays = _from_npz(checkpoint.state)
        n = len(checkpoint.series)
        table = SeriesTable(
            keys=[s["key"] for s in checkpoint.series],
            labels=[dict(s["labels"]) for s in checkpoint.series],
            last_seen=np.array([s["last_seen"] for s in checkpoint.series], dtype=np.float64),
            first_seen=np.array([s.get("first_seen", -np.inf) for s in checkpoint.series], dtype=np.float64),
        )
        table.rebuild_index()
        detector = self._new_detector(n)
        forecaster = self._new_forecaster(n)
        try:
            detector.set_state({k[2:]: v for k, v in arrays.items() if k.startswith("d:")})
            if forecaster is not None:
                forecaster.set_state({k[2:]: v for k, v in arrays.items() if k.startswith("f:")})
        except DetectorStateError as exc:  # saved by another version of the detector: learn afresh
            logger.warning("%s/%s: saved detector state does not fit (%s); backfilling afresh",
                           self.source, self.query.name, exc)  # fmt: skip
            return False
        self.table, self.detector, self.forecaster = table, detector, forecaster
        self._counter_value, self._counter_ts = arrays["c:value"], arrays["c:ts"]
        self.state_ts, self.processed_ts = checkpoint.state_ts, checkpoint.processed_ts
        return True


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
