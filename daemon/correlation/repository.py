"""What the correlator needs to survive a restart, as a Protocol; the SQL implementation is daemon.problems."""

from __future__ import annotations

from typing import Protocol

from daemon.correlation.model import Problem
from daemon.domain import ProblemEvent


class ProblemRepository(Protocol):
    def load_unfinished(self) -> list[Problem]:
        """Problems not yet closed (open, mitigating, resolved within the reopen window), with their members."""
        ...

    def save(self, problems: list[Problem], events: list[ProblemEvent]) -> None:
        """Write the problems' current state and the events of this step in one transaction."""
        ...

    def history(self, base_key: str) -> tuple[int, str | None]:
        """How many problems were ever opened for this unit and symptom, and the id of the latest."""
        ...


class MemoryProblemRepository:
    """Keeps everything in memory: for replays, benchmarks and tests."""

    def __init__(self) -> None:
        self.problems: dict[str, Problem] = {}
        self.events: list[ProblemEvent] = []
        self._order: list[str] = []

    def load_unfinished(self) -> list[Problem]:
        return [p for p in self.problems.values() if p.status != "closed" and p.merged_into is None]

    def save(self, problems: list[Problem], events: list[ProblemEvent]) -> None:
        for problem in problems:
            if problem.id not in self.problems:
                self._order.append(problem.id)
            self.problems[problem.id] = problem
        self.events.extend(events)

    def history(self, base_key: str) -> tuple[int, str | None]:
        ids = [i for i in self._order if self.problems[i].base_key == base_key]
        return len(ids), (ids[-1] if ids else None)
