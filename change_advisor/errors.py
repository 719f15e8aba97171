"""Errors of the change advisor.

ChangeAdvisorError
├── ChangeRequestError     a change request is invalid (carries every problem: file, field, what was expected)
├── GitMetricsError        the change metrics could not be computed from a git range (bad repository, unknown rev)
├── HistoryError           a history / backtest table is malformed (file, row, column)
└── ModelError             the risk model cannot be trained or used (too little data, a broken saved state)
"""

from __future__ import annotations

from dataclasses import dataclass


class ChangeAdvisorError(Exception):
    """Root of every error the change advisor raises on purpose."""


@dataclass(frozen=True)
class RequestIssue:
    """One problem in a change request: where (file and field path), and what was expected."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ChangeRequestError(ChangeAdvisorError):
    def __init__(self, source: str, issues: list[RequestIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{source}: invalid change request, {len(issues)} error(s)\n{lines}")


class GitMetricsError(ChangeAdvisorError):
    pass


class HistoryError(ChangeAdvisorError):
    pass


class ModelError(ChangeAdvisorError):
    pass
