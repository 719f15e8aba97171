"""The read API: ``GET /api/v1/problems``, ``/problems/{id}``, ``/tickets``, ``/actions``, ``/kpis``, ``/knowledge``
and ``/knowledge/{signature}``. The lead mounts the router in the daemon's HTTP server, which adds bearer-token auth;
FastAPI serves the OpenAPI description at /openapi.json."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from daemon.domain import Frozen, ProblemSnapshot
from daemon.errors import StoreError
from daemon.knowledge import KnowledgeArticle, KnowledgeBase, UnknownArticle
from daemon.kpi import KpiReport, compute_kpis
from daemon.problems import SqlProblemRepository
from daemon.remediation.tables import ActionRow
from daemon.reports import knowledge_report, kpi_report
from daemon.settings.kpi import KpiSettings
from daemon.store.db import Store
from daemon.tickets.models import TicketLinkRow
from daemon.timeparse import parse_time
from remediations.model import ActionRecord

PROBLEM_STATUSES = ("open", "mitigating", "resolved", "closed")
ACTION_STATUSES = ("planned", "running", "verifying", "verified", "rolled_back", "failed", "refused", "dry_run")


class TimelineEntry(Frozen):
    ts: float
    kind: str
    message: str
    details: dict[str, Any]


class TicketOut(Frozen):
    system: str
    fingerprint: str
    problem_id: str
    title: str
    severity: str
    state: str = Field(description="watching (no ticket yet) | open | resolved, as the daemon asked for it.")
    external_id: str | None
    url: str
    created_at: float
    updated_at: float


class ProblemDetail(Frozen):
    problem: ProblemSnapshot
    acknowledged_by: str | None
    timeline: list[TimelineEntry]
    tickets: list[TicketOut]


def _ticket(row: TicketLinkRow) -> TicketOut:
    return TicketOut(
        system=row.system,
        fingerprint=row.fingerprint,
        problem_id=row.problem_id,
        title=row.title,
        severity=row.severity,
        state=row.state,
        external_id=row.external_id,
        url=row.url,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _unavailable(exc: StoreError) -> HTTPException:
    return HTTPException(503, detail=f"the store cannot answer: {exc}")


@contextmanager
def _answering() -> Iterator[None]:
    """A store that fails is a 503 saying why, not a 500."""
    try:
        yield
    except StoreError as exc:
        raise _unavailable(exc) from exc
    except SQLAlchemyError as exc:
        raise _unavailable(StoreError(str(exc))) from exc


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise HTTPException(422, detail=f"query parameter {name}: expected one of {list(allowed)}, got {value!r}")


def build_read_router(store: Store, kpi_settings: KpiSettings, clock: Callable[[], float]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["read"])
    problems = SqlProblemRepository(store)
    knowledge = KnowledgeBase(store)

    def _tickets(*where: Any, limit: int = 100) -> list[TicketOut]:
        with _answering(), store.session() as session:
            query = select(TicketLinkRow).where(*where).order_by(TicketLinkRow.updated_at.desc()).limit(limit)
            return [_ticket(row) for row in session.scalars(query)]

    @router.get("/problems", response_model=list[ProblemSnapshot])
    def list_problems(
        status: str | None = Query(None, description="open, mitigating, resolved or closed"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[ProblemSnapshot]:
        """Newest first; problems merged into another are left out."""
        _choice("status", status, PROBLEM_STATUSES)
        with _answering():
            return problems.list_snapshots(status, limit)

    @router.get("/problems/{problem_id}", response_model=ProblemDetail)
    def get_problem(problem_id: str) -> ProblemDetail:
        """A problem by id or fingerprint, with its timeline and tickets."""
        with _answering():
            snapshot = problems.find(problem_id)
            if snapshot is None:
                raise HTTPException(404, detail=f"no problem with id or fingerprint {problem_id!r}")
            timeline = [
                TimelineEntry(ts=e.ts, kind=e.kind, message=e.message, details=e.details or {})
                for e in problems.timeline(snapshot.id)
            ]
            return ProblemDetail(
                problem=snapshot,
                acknowledged_by=problems.acknowledged_by(snapshot.id),
                timeline=timeline,
                tickets=_tickets(TicketLinkRow.fingerprint == snapshot.fingerprint),
            )

    @router.get("/tickets", response_model=list[TicketOut])
    def list_tickets(
        state: str | None = Query(None, description="watching, open or resolved"),
        problem: str | None = Query(None, description="only the tickets of this problem id"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[TicketOut]:
        _choice("state", state, ("watching", "open", "resolved"))
        where = []
        if state:
            where.append(TicketLinkRow.state == state)
        if problem:
            where.append(TicketLinkRow.problem_id == problem)
        return _tickets(*where, limit=limit)

    @router.get("/actions", response_model=list[ActionRecord])
    def list_actions(
        status: str | None = Query(None, description="planned, running, verified, rolled_back, failed, …"),
        runbook: str | None = Query(None),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[ActionRecord]:
        """The remediation journal, newest first."""
        _choice("status", status, ACTION_STATUSES)
        query = select(ActionRow)
        if status:
            query = query.where(ActionRow.status == status)
        if runbook:
            query = query.where(ActionRow.runbook == runbook)
        with _answering(), store.session() as session:
            rows = session.scalars(query.order_by(ActionRow.created_at.desc()).limit(limit))
            return [ActionRecord.model_validate(row.record) for row in rows]

    @router.get("/kpis", response_model=KpiReport, responses={200: {"content": {"text/markdown": {}, "text/html": {}}}})
    def get_kpis(
        since: str | None = Query(None, description="RFC 3339, unix seconds or relative ('-7d'); default: kpi.window"),
        until: str | None = Query(None, description="as since; default now"),
        fmt: Literal["json", "md", "html"] = Query("json", alias="format"),
    ) -> Response:
        now = clock()
        try:
            end = parse_time(until, now) if until else now
            start = parse_time(since, now) if since else end - kpi_settings.window.total_seconds()
        except ValueError as exc:
            raise HTTPException(422, detail=f"query parameter since/until: {exc}") from None
        if end <= start:
            raise HTTPException(422, detail=f"query parameter since: must be before until ({start} >= {end})")
        with _answering():
            report = compute_kpis(store, kpi_settings, start, end, generated_at=now)
        if fmt == "html":
            return HTMLResponse(kpi_report.render_html(report))
        if fmt == "md":
            return PlainTextResponse(kpi_report.render_markdown(report), media_type="text/markdown")
        return Response(kpi_report.render_json(report), media_type="application/json")

    @router.get(
        "/knowledge",
        response_model=list[KnowledgeArticle],
        responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
    )
    def list_knowledge(fmt: Literal["json", "md", "html"] = Query("json", alias="format")) -> Response:
        """Every article with its runbooks' confidence, most recently updated first; md and html include history."""
        with _answering():
            articles = knowledge.articles()
            if fmt == "json":
                return Response(knowledge_report.render_json(articles), media_type="application/json")
            full = [knowledge.article(a.signature) for a in articles]
        if fmt == "html":
            return HTMLResponse(knowledge_report.render_html(full, clock()))
        return PlainTextResponse(knowledge_report.render_markdown(full, clock()), media_type="text/markdown")

    @router.get("/knowledge/{signature}", response_model=KnowledgeArticle)
    def get_knowledge(signature: str) -> KnowledgeArticle:
        """One article with its outcome history."""
        try:
            with _answering():
                return knowledge.article(signature)
        except UnknownArticle as exc:
            raise HTTPException(404, detail=str(exc)) from None

    return router
