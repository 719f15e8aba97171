"""Errors of the remediations library.

RemediationError
├── RunbookError              a runbook could not do its job
│   ├── TemporaryError        worth retrying after ``delay`` seconds (API unreachable, conflict, 429/5xx)
│   └── PermanentError        retrying will not help (forbidden, invalid, precondition failed)
│       ├── PreconditionFailed     the target is not in a state the runbook may act on
│       ├── GitOpsManaged          the target belongs to Argo CD / Flux: escalate instead of patching
│       └── TargetNotFound         the target does not exist
├── UnknownRunbook            no runbook of that name in the registry
├── DuplicateRunbook          a runbook of that name is already registered
├── InvalidParams             parameters do not fit the runbook's model (which field, what was expected)
├── PolicyError               the guard policy file is invalid (file, field, what was expected)
└── InvalidTarget             a target string is not KIND/NAMESPACE/NAME
"""

from __future__ import annotations


class RemediationError(Exception):
    """Root of every error the remediations library raises on purpose."""


class RunbookError(RemediationError):
    pass


class TemporaryError(RunbookError):
    """A failure that may pass: the executor retries after ``delay`` seconds, up to its retry budget."""

    def __init__(self, message: str, delay: float = 1.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(RunbookError):
    """A failure that will not pass by itself: the executor stops and records it."""


class PreconditionFailed(PermanentError):
    pass


class GitOpsManaged(PermanentError):
    pass


class TargetNotFound(PermanentError):
    pass


class UnknownRunbook(RemediationError):
    pass


class DuplicateRunbook(RemediationError):
    pass


class InvalidParams(RemediationError):
    pass


class PolicyError(RemediationError):
    pass


class InvalidTarget(RemediationError):
    pass
