"""Ticket manager under crashes: zero duplicate tickets and no lost or repeated update across injected restarts.

Generates problem stories (open → updates/actions → resolved, some recurring), feeds them tick by tick to a
TicketManager over a SQLite store and the built-in ticket system, and kills the manager at random points — between
handling and flushing, before a call reaches the system, and after a call took effect but before its answer (including
between "ticket created" and "mapping saved"). After each crash a new manager over the same store reconciles and
the recent events are delivered again (at least once). The system is also down for random spans. At the end the
tickets are compared with a crash-free reference run.

    .venv/bin/python benchmarks/ticket_restarts.py [--restarts 100] [--problems 40] [--seed 7] [--out DIR]

Writes ticket_restarts.{md,html,json} to --out (default benchmarks/results/) and progress to stderr.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select

from daemon.domain import ProblemEvent, ProblemSnapshot, RootCauseCandidate
from daemon.settings.tickets import RetrySettings
from daemon.store import Store
from daemon.tickets.base import Escalation, ExternalTicket, TicketDraft, TicketStatus
from daemon.tickets.builtin import BuiltinTicketSystem
from daemon.tickets.errors import TicketSystemUnavailable
from daemon.tickets.manager import TicketManager
from daemon.tickets.models import BuiltinCommentRow, BuiltinTicketRow

T0 = 1_700_000_000.0
TICK = 15.0


class Crash(BaseException):
    """The process dies here."""


def stories(problems: int, rng: random.Random) -> list[ProblemEvent]:
    events: list[ProblemEvent] = []
    for index in range(problems):
        fp = f"fp-{index:03d}"
        start = T0 + rng.randint(0, 200) * TICK
        base = {
            "id": f"p-{index}",
            "fingerprint": fp,
            "title": f"problem {index}",
            "severity": "critical",
            "opened_at": start,
            "root_causes": [RootCauseCandidate(entity=f"deployment/shop/svc-{index}", confidence=0.7)],
        }
        ts = start
        kinds = ["opened"] + ["updated"] * rng.randint(1, 4) + ["mitigating", "action", "verified", "resolved"]
        if rng.random() < 0.4:
            kinds += ["reopened", "updated", "resolved"]
        for seq, kind in enumerate(kinds):
            status = {"mitigating": "mitigating", "resolved": "resolved"}.get(kind, "open")
            snap = ProblemSnapshot(**base, status=status, updated_at=ts, anomaly_count=seq + 1)
            events.append(ProblemEvent(kind=kind, problem=snap, ts=ts, message=f"{kind} #{seq} of {fp}"))
            ts += TICK * rng.randint(1, 6)
    return sorted(events, key=lambda e: e.ts)


class NaiveExternalSystem:
    """An external ticket system that outlives the daemon's crashes and does no deduplication of its own: a second
    create makes a second ticket, a repeated comment a second comment. Only the manager keeps it clean."""

    name = "external"

    def __init__(self) -> None:
        self.tickets: dict[str, dict[str, Any]] = {}

    def find(self, fingerprint: str) -> ExternalTicket | None:
        for external_id, t in self.tickets.items():
            if t["fingerprint"] == fingerprint:
                return ExternalTicket(external_id=external_id, status=t["status"])
        return None

    def create(self, draft: TicketDraft) -> ExternalTicket:
        external_id = str(len(self.tickets) + 1)
        self.tickets[external_id] = {"fingerprint": draft.fingerprint, "status": "open", "comments": []}
        return ExternalTicket(external_id=external_id)

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        self.tickets[external_id]["comments"].append((op_key, body))

    def has_comment(self, external_id: str, op_key: str) -> bool:
        return any(key == op_key for key, _ in self.tickets[external_id]["comments"])

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        self.tickets[external_id]["status"] = status

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        pass

    def outcome(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for t in self.tickets.values():
            entry = result.setdefault(t["fingerprint"], {"tickets": 0, "status": t["status"], "comments": []})
            entry["tickets"] += 1
            entry["comments"] += [body for _, body in t["comments"]]
        return result


class CrashingSystem:
    """A ticket system with injected faults: crashes before/after a call, and down spans."""

    def __init__(self, inner: BuiltinTicketSystem | NaiveExternalSystem) -> None:
        self.inner, self.name = inner, inner.name
        self.down = False
        self.countdown = 0  # crash at the n-th fault point from now (0: no crash armed)

    def _maybe(self, where: str) -> None:
        if self.down:
            raise TicketSystemUnavailable("down")
        if self.countdown:
            self.countdown -= 1
            if self.countdown == 0:
                raise Crash(where)

    def find(self, fingerprint: str) -> ExternalTicket | None:
        self._maybe("before find")
        return self.inner.find(fingerprint)

    def create(self, draft: TicketDraft) -> ExternalTicket:
        self._maybe("before create")
        ticket = self.inner.create(draft)
        self._maybe("after create, before mapping saved")
        return ticket

    def comment(self, external_id: str, body: str, op_key: str) -> None:
        self._maybe("before comment")
        self.inner.comment(external_id, body, op_key)
        self._maybe("after comment")

    def has_comment(self, external_id: str, op_key: str) -> bool:
        self._maybe("before has_comment")
        return self.inner.has_comment(external_id, op_key)

    def set_status(self, external_id: str, status: TicketStatus) -> None:
        self._maybe("before status")
        self.inner.set_status(external_id, status)
        self._maybe("after status")

    def escalate(self, external_id: str, escalation: Escalation) -> None:
        self.inner.escalate(external_id, escalation)


def outcome(store: Store) -> dict[str, dict[str, Any]]:
    with store.session() as session:
        tickets = list(session.scalars(select(BuiltinTicketRow)))
        result: dict[str, dict[str, Any]] = {}
        for t in tickets:
            bodies = list(session.scalars(select(BuiltinCommentRow.body).where(BuiltinCommentRow.ticket_id == t.id)))
            entry = result.setdefault(t.fingerprint, {"tickets": 0, "status": t.status, "comments": []})
            entry["tickets"] += 1
            entry["comments"] += bodies
        return result


def run(
    events: list[ProblemEvent], workdir: Path, rng: random.Random | None, restarts: int, target: str
) -> dict[str, Any]:
    db = workdir / f"{target}-{'chaos' if rng else 'reference'}.db"
    external = NaiveExternalSystem()
    retry = RetrySettings(initial_backoff="1s", max_backoff="30s")  # type: ignore[arg-type]
    clock_now = [T0]

    def clock() -> float:
        return clock_now[0]

    def open_manager() -> tuple[Store, CrashingSystem | BuiltinTicketSystem | NaiveExternalSystem, TicketManager]:
        store = Store(f"sqlite:///{db}")
        store.migrate()
        inner: BuiltinTicketSystem | NaiveExternalSystem = (
            BuiltinTicketSystem(store, clock) if target == "builtin" else external
        )
        system: CrashingSystem | BuiltinTicketSystem | NaiveExternalSystem = CrashingSystem(inner) if rng else inner
        return store, system, TicketManager(store, system, retry=retry, clock=clock)

    store, system, manager = open_manager()
    ticks = sorted({e.ts for e in events})
    crash_ticks = set(rng.sample(range(len(ticks)), min(restarts, len(ticks)))) if rng else set()
    handle_ms: list[float] = []
    crashes: Counter[str] = Counter()
    delivered = 0
    pos = 0
    for tick_index, ts in enumerate(ticks):
        clock_now[0] = ts
        batch = []
        while pos < len(events) and events[pos].ts == ts:
            batch.append(events[pos])
            pos += 1
        crash_here = tick_index in crash_ticks and rng is not None
        if isinstance(system, CrashingSystem) and rng is not None:
            if rng.random() < 0.05:
                system.down = not system.down
            system.countdown = rng.randint(1, 6) if crash_here else 0
        try:
            for index, ev in enumerate(batch):
                if crash_here and rng is not None and rng.random() < 0.2:
                    raise Crash("between handle calls")
                started = time.perf_counter()
                manager.handle(ev)
                handle_ms.append((time.perf_counter() - started) * 1000)
                delivered = pos - len(batch) + index + 1
            manager.flush()
            if crash_here:
                raise Crash("after flush (idle)")
        except Crash as crash:
            crashes[str(crash)] += 1
            store.dispose()
            store, system, manager = open_manager()
            manager.reconcile()
            for ev in events[max(0, delivered - 20) : pos]:  # at-least-once redelivery of recent events
                manager.handle(ev)
            manager.flush()
        if tick_index % 50 == 0:
            print(f"tick {tick_index}/{len(ticks)} crashes={sum(crashes.values())}", file=sys.stderr)
    if isinstance(system, CrashingSystem):
        system.down, system.countdown = False, 0
    for _ in range(200):
        clock_now[0] += 60
        if manager.flush().pending == 0:
            break
    final = outcome(store) if target == "builtin" else external.outcome()
    result = {"outcome": final, "crashes": dict(crashes), "handle_ms": handle_ms}
    store.dispose()
    return result


def svg_histogram(values: list[float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(values, bins=40)
    ax.set_xlabel("TicketManager.handle() latency (ms)")
    ax.set_ylabel("events")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--restarts", type=int, default=100)
    parser.add_argument("--problems", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the injected faults would log a warning each
    events = stories(args.problems, random.Random(args.seed))
    all_figures = {}
    for target in ("external", "builtin"):
        all_figures[target] = measure(events, args, target)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ticket_restarts.json").write_text(json.dumps(all_figures, indent=2))
    keys = list(all_figures["external"])
    rows = "\n".join(f"| {k} | {all_figures['external'][k]} | {all_figures['builtin'][k]} |" for k in keys)
    md = (
        "# Tickets across injected restarts\n\n"
        "external: a naive external system that does not deduplicate (as RT/Jira/GitHub would not); "
        "builtin: the store's own tickets.\n\n"
        f"| figure | external | builtin |\n|---|---|---|\n{rows}\n"
    )
    (args.out / "ticket_restarts.md").write_text(md)
    html_rows = "".join(
        f"<tr><td>{k}</td><td>{all_figures['external'][k]}</td><td>{all_figures['builtin'][k]}</td></tr>" for k in keys
    )
    png = svg_histogram(LATENCIES)
    (args.out / "ticket_restarts.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Tickets across restarts</title></head><body>"
        "<h1>Tickets across injected restarts</h1><table border='1'><tr><th>figure</th><th>external</th>"
        f"<th>builtin</th></tr>{html_rows}</table>"
        f"<h2>handle() latency</h2><img alt='handle latency histogram' src='data:image/png;base64,{png}'>"
        "</body></html>"
    )
    print(json.dumps(all_figures, indent=2))


LATENCIES: list[float] = []


def measure(events: list[ProblemEvent], args: argparse.Namespace, target: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{target}: reference run (no faults)", file=sys.stderr)
        reference = run(events, Path(tmp), None, 0, target)
        print(f"{target}: chaos run ({args.restarts} crash points)", file=sys.stderr)
        started = time.perf_counter()
        chaos = run(events, Path(tmp), random.Random(args.seed + 1), args.restarts, target)
        seconds = time.perf_counter() - started
    ref, got = reference["outcome"], chaos["outcome"]
    duplicates = sum(v["tickets"] - 1 for v in got.values())
    missing_tickets = len(set(ref) - set(got))
    lost = repeated = wrong_status = 0
    for fp, want in ref.items():
        have = got.get(fp, {"comments": [], "status": None})
        diff_want, diff_have = Counter(want["comments"]), Counter(have["comments"])
        lost += sum((diff_want - diff_have).values())
        repeated += sum((diff_have - diff_want).values())
        wrong_status += want["status"] != have["status"]
    latencies = chaos["handle_ms"]
    figures = {
        "problems": args.problems,
        "events": len(events),
        "restarts_injected": sum(chaos["crashes"].values()),
        "restarts_by_point": chaos["crashes"],
        "tickets_expected": len(ref),
        "duplicate_tickets": duplicates,
        "missing_tickets": missing_tickets,
        "lost_updates": lost,
        "repeated_updates": repeated,
        "wrong_final_status": wrong_status,
        "handle_ms_p50": round(statistics.median(latencies), 3),
        "handle_ms_p99": round(sorted(latencies)[int(0.99 * (len(latencies) - 1))], 3),
        "chaos_run_seconds": round(seconds, 2),
        "seed": args.seed,
    }
    LATENCIES.extend(latencies)
    return figures


if __name__ == "__main__":
    main()
