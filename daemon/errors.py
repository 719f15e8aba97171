"""Errors of the aiopsd daemon.

AiopsdError
├── ConfigError            a settings file or variable is invalid (carries every problem found)
├── SourceError            a metric source failed
│   ├── SourceUnavailable  it could not be reached (retry later)
│   └── QueryError         it answered with an error for one query (a bad PromQL, a limit)
├── InputError             a file given on the command line is malformed (path, row, field)
└── StoreError             the database failed or its schema is not the expected one
"""

from __future__ import annotations

from dataclasses import dataclass


class AiopsdError(Exception):
    """Root of every error the daemon raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration: where it is, what was wrong, what was expected."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ConfigError(AiopsdError):
    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"{source}: {len(issues)} configuration error(s)\n{lines}")


class SourceError(AiopsdError):
    pass


class SourceUnavailable(SourceError):
    pass


class QueryError(SourceError):
    pass


class InputError(AiopsdError):
    pass


class StoreError(AiopsdError):
    pass
