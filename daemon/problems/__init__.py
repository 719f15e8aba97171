"""Problems in the store: tables (Alembic revision 0002) and the correlator's repository."""

from daemon.problems.repository import SqlProblemRepository
from daemon.problems.tables import ProblemEventRow, ProblemMemberRow, ProblemRow

__all__ = ["ProblemEventRow", "ProblemMemberRow", "ProblemRow", "SqlProblemRepository"]
