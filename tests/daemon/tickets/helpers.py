"""Shared pieces of the ticket tests: a store in a temp dir, a clock, problem events, and a flaky ticket system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.domain import ProblemEvent, ProblemEventKind, ProblemSnapshot, RootCauseCandidate
from daemon.store import Store
from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus, TicketSystem
from daemon.tickets.errors import TicketSystemUnavailable

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_store(tmp_path: Path, name: str = "aiopsd.db") -> Store:
    store = Store(f"sqlite:///{tmp_path / name}")
    store.migrate()
    return store


def snapshot(fingerprint: str = "fp-cart", **changes: Any) -> ProblemSnapshot:
    base: dict[str, Any] = {
        "id": f"p-{fingerprint}",
        "fingerprint": fingerprint,
        "title": "cart latency and errors",
        "status": "open",
        "severity": "critical",
        "opened_at": T0,
        "updated_at": T0,
        "entities": ["deployment/shop/cart", "pod/shop/cart-1"],
        "root_causes": [
            RootCauseCandidate(entity="deployment/shop/cart", confidence=0.8, reasons=["earliest onset"]),
            RootCauseCandidate(entity="node//worker-1", confidence=0.15, reasons=["shared node"]),
        ],
        "symptoms": ["latency"],
        "anomaly_count": 3,
    }
    base.update(changes)
    return ProblemSnapshot(**base)


def event(
    kind: ProblemEventKind, ts: float, message: str, fingerprint: str = "fp-cart", **changes: Any
) -> ProblemEvent:
    status = {"mitigating": "mitigating", "resolved": "resolved", "closed": "closed", "merged": "resolved"}.get(
        kind, "open"
    )
    changes.setdefault("status", status)
    changes.setdefault("updated_at", ts)
    details = changes.pop("details", {})
    return ProblemEvent(kind=kind, problem=snapshot(fingerprint, **changes), ts=ts, message=message, details=details)


def story(fingerprint: str = "fp-cart") -> list[ProblemEvent]:
    """A problem from first symptom to verified fix."""
    return [
        event("opened", T0, "latency of cart above baseline", fingerprint),
        event("updated", T0 + 15, "errors of cart rising", fingerprint, anomaly_count=5),
        event("mitigating", T0 + 30, "rollout restart of deployment/shop/cart planned", fingerprint),
        event("action", T0 + 45, "rollout restart of deployment/shop/cart done", fingerprint),
        event("verified", T0 + 120, "latency back within baseline", fingerprint),
        event("resolved", T0 + 300, "quiet for 3m", fingerprint),
    ]


class FlakySystem:
    """Wraps a real TicketSystem: ``down`` makes every call fail before it happens; ``lose_answers`` makes calls
    take effect and then fail (the answer lost on the way back), the case that needs idempotent retries."""

    def __init__(self, inner: TicketSystem) -> None:
        self.inner = inner
        self.name = inner.name
        self.down = False
        self.lose_answers = 0
        self.calls: list[str] = []
        self.crash_after_create = False
        self.crash_after_comment = False

    def _before(self, what: str) -> None:
        self.calls.append(what)
        if self.down:
            raise TicketSystemUnavailable(f"{what}: connection refused")

    def _after(self, what: str) -> None:
        if self.lose_answers:
            self.lose_answers -= 1
            raise TicketSystemUnavailable(f"{what}: read timeout")

    def find(self, fingerprint: str) -> ExternalTicket | None:
        self._before("find")
        return self.inner.find(fingerprint)

    def create(self, draft: TicketDraft) -> ExternalTicket:
        self._before("create")
        ticket = self.inner.create(draft)
        if self.crash_after_create:
            raise SystemExit("crash between create and mapping saved")
        self._after("create")
        return ticket

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        self._before("comment")
        self.inner.comment(external_id, body, op_key)
        if self.crash_after_comment:
            raise SystemExit("crash after the comment was posted")
        self._after("comment")

    def has_comment(self, external_id: str, op_key: str) -> bool:
        self._before("has_comment")
        return self.inner.has_comment(external_id, op_key)

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        self._before(f"status:{status}")
        self.inner.set_status(external_id, status)
        self._after("status")

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        self._before("escalate")
        self.inner.escalate(external_id, escalation)
        self._after("escalate")
