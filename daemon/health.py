"""What /healthz and /readyz report: the loop is alive; a tick has completed (ready), and which sources are down.

A source being down does not make the daemon unready: it still receives alerts, serves the API and acts on what it
knows, and an unready pair of replicas would empty the Service and let the PodDisruptionBudget block node drains
because of a dependency outside the pod. The body says ``degraded`` with the sources; aiopsd_source_up alerts."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SourceHealth:
    up: bool = True
    failures: int = 0
    last_error: str | None = None
    last_success: float | None = None
    next_attempt: float = 0.0


@dataclass
class HealthState:
    started_at: float = field(default_factory=time.time)
    last_tick: float | None = None
    tick_interval: float = 15.0
    sources: dict[str, SourceHealth] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update_source(self, name: str, health: SourceHealth) -> None:
        with self._lock:
            self.sources[name] = health

    def tick_done(self, when: float) -> None:
        with self._lock:
            self.last_tick = when

    def live(self, now: float | None = None) -> tuple[bool, dict[str, Any]]:
        """Alive unless the loop has stalled for many intervals (a hung tick)."""
        now = time.time() if now is None else now
        with self._lock:
            reference = self.last_tick or self.started_at
            stalled = now - reference > max(10 * self.tick_interval, 300)
            return (not stalled, {"status": "stalled" if stalled else "ok", "last_tick": self.last_tick})

    def ready(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            degraded = {n: h.last_error for n, h in self.sources.items() if not h.up}
            ok = self.last_tick is not None
            status = ("degraded" if degraded else "ok") if ok else "starting"
            return ok, {"status": status, "degraded_sources": degraded, "last_tick": self.last_tick}
