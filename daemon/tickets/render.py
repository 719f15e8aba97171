"""Ticket text: what a person reads in the ticket when it opens and with every event."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.domain import ProblemEvent, ProblemSnapshot
from daemon.tickets.base import fingerprint_tag


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def ticket_title(problem: ProblemSnapshot) -> str:
    """Title with the fingerprint tag: systems without labels or custom fields find the ticket by it."""
    return f"{problem.title} {fingerprint_tag(problem.fingerprint)}"


def story_line(event: ProblemEvent) -> str:
    return f"{_when(event.ts)} {event.kind}: {event.message}"


def ticket_body(event: ProblemEvent, earlier: list[str] | None = None) -> str:
    """The ticket's first text: the problem as it stands, then its story so far (events before it was confirmed)."""
    problem = event.problem
    lines = [
        f"Problem {problem.id}: {problem.title}",
        f"Severity: {problem.severity}   Status: {problem.status}   Opened: {_when(problem.opened_at)}",
        f"Fingerprint: {problem.fingerprint}",
    ]
    if problem.root_causes:
        lines.append("")
        lines.append("Root-cause candidates:")
        for rank, cand in enumerate(problem.root_causes, 1):
            reasons = "; ".join(cand.reasons)
            lines.append(
                f"  {rank}. {cand.entity} (confidence {cand.confidence:.0%})" + (f": {reasons}" if reasons else "")
            )
    if problem.entities:
        lines.append("")
        lines.append("Entities: " + ", ".join(problem.entities))
    if problem.symptoms:
        lines.append("Symptoms: " + ", ".join(problem.symptoms))
    if problem.linked_to:
        lines.append(f"Recurs after problem {problem.linked_to}.")
    lines += ["", "Story:", *(earlier or []), story_line(event)]
    return "\n".join(lines)


def event_comment(event: ProblemEvent) -> str:
    problem = event.problem
    lines = [f"{_when(event.ts)} {event.kind}: {event.message}"]
    lines.append(f"Severity: {problem.severity}   Status: {problem.status}   Anomalies: {problem.anomaly_count}")
    if problem.root_causes:
        top = problem.root_causes[0]
        lines.append(f"Most likely cause: {top.entity} (confidence {top.confidence:.0%})")
    for key, value in sorted(event.details.items()):
        lines.append(f"{key}: {value}")
    return "\n".join(lines)
