"""Errors of correlation and problems.

AiopsdError (daemon.errors)
└── CorrelationError          something about problems went wrong
    ├── UnknownProblem        no active problem has that id
    ├── InvalidTransition     the lifecycle does not allow that step (e.g. mitigating a closed problem)
    └── ScenarioError         a scenario file is malformed (which file, which field/row, what was expected)
"""

from __future__ import annotations

from daemon.errors import AiopsdError


class CorrelationError(AiopsdError):
    pass


class UnknownProblem(CorrelationError):
    def __init__(self, problem_id: str) -> None:
        self.problem_id = problem_id
        super().__init__(f"no active problem with id {problem_id!r}")


class InvalidTransition(CorrelationError):
    pass


class ScenarioError(CorrelationError):
    pass
