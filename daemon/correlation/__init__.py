"""Correlation: anomalies become problems with ranked root causes and a lifecycle."""

from daemon.correlation.correlator import ProblemCorrelator
from daemon.correlation.errors import CorrelationError, InvalidTransition, ScenarioError, UnknownProblem
from daemon.correlation.model import Member, Problem, anomaly_key, fingerprint_of
from daemon.correlation.repository import MemoryProblemRepository, ProblemRepository

__all__ = [
    "CorrelationError",
    "InvalidTransition",
    "Member",
    "MemoryProblemRepository",
    "Problem",
    "ProblemCorrelator",
    "ProblemRepository",
    "ScenarioError",
    "UnknownProblem",
    "anomaly_key",
    "fingerprint_of",
]
