"""Errors of the knowledge base.

AiopsdError (daemon.errors)
└── KnowledgeError            something about knowledge articles went wrong
    ├── UnknownArticle        no article has that signature
    └── InvalidOutcome        an outcome is not one the knowledge base learns from (which value, what was expected)
"""

from __future__ import annotations

from daemon.errors import AiopsdError


class KnowledgeError(AiopsdError):
    pass


class UnknownArticle(KnowledgeError):
    def __init__(self, signature: str) -> None:
        self.signature = signature
        super().__init__(f"no knowledge article for signature {signature!r} (see `aiopsd kb list`)")


class InvalidOutcome(KnowledgeError):
    pass
