"""``POST /api/v1/problems/{id}/ack`` and ``/resolve``: a person's decision, queued in the store and applied by the
correlating daemon (the leader) at its next tick; ``GET /api/v1/problem-commands/{n}`` tells whether it was applied.
The daemon mounts this router behind bearer auth."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from daemon.problems import SqlProblemRepository, commands
from daemon.problems.commands import CommandStatus
from daemon.store.db import Store


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(min_length=1, max_length=128, description="Who decides (a person or a tool acting for one).")
    reason: str = Field("", max_length=4000, description="Why (resolve); recorded on the timeline and the ticket.")


def build_commands_router(store: Store) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["problems"])
    problems = SqlProblemRepository(store)

    def _queue(problem_id: str, action: commands.Action, decision: Decision) -> CommandStatus:
        try:
            found = problems.find(problem_id)
            if found is None:
                raise HTTPException(404, detail=f"no problem with id or fingerprint {problem_id!r}")
            if found.status == "closed":
                raise HTTPException(409, detail=f"problem {found.id} is closed")
            return commands.request(store, found.id, action, decision.by, decision.reason)
        except SQLAlchemyError as exc:
            raise HTTPException(503, detail=f"the store cannot answer: {exc}") from None

    @router.post("/problems/{problem_id}/ack", status_code=status.HTTP_202_ACCEPTED, response_model=CommandStatus)
    def acknowledge(problem_id: str, decision: Decision) -> CommandStatus:
        """Someone is on it. Queued; the daemon applies it at its next tick (poll the returned request)."""
        return _queue(problem_id, "ack", decision)

    @router.post("/problems/{problem_id}/resolve", status_code=status.HTTP_202_ACCEPTED, response_model=CommandStatus)
    def resolve(problem_id: str, decision: Decision) -> CommandStatus:
        """A person says it is over; its ticket is resolved. Queued; applied at the daemon's next tick."""
        return _queue(problem_id, "resolve", decision)

    @router.get("/problem-commands/{command_id}", response_model=CommandStatus)
    def command(command_id: int) -> CommandStatus:
        """queued, applied or rejected (with the reason)."""
        found = commands.status(store, command_id)
        if found is None:
            raise HTTPException(404, detail=f"no request {command_id}")
        return found

    return router
