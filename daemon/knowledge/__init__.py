"""Knowledge: articles per problem signature and the Beta posterior of each runbook's success (see base.py)."""

from daemon.knowledge.base import (
    OUTCOMES,
    PRIOR_ALPHA,
    PRIOR_BETA,
    KnowledgeArticle,
    KnowledgeBase,
    Outcome,
    OutcomeRecord,
    RunbookConfidence,
)
from daemon.knowledge.errors import InvalidOutcome, KnowledgeError, UnknownArticle

__all__ = [
    "OUTCOMES",
    "PRIOR_ALPHA",
    "PRIOR_BETA",
    "InvalidOutcome",
    "KnowledgeArticle",
    "KnowledgeBase",
    "KnowledgeError",
    "Outcome",
    "OutcomeRecord",
    "RunbookConfidence",
    "UnknownArticle",
]
