"""``POST /api/v1/changes/score`` for pipelines. The lead mounts the router in the daemon's HTTP server, which adds
bearer-token auth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from change_advisor.errors import ChangeAdvisorError, ChangeRequestError
from change_advisor.report import render
from change_advisor.request import parse_change_request
from daemon.changes import score_and_record
from daemon.settings.changes import ChangeAdvisorSettings
from daemon.store.db import Store


def build_changes_router(
    store: Store,
    settings: ChangeAdvisorSettings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> APIRouter:
    router = APIRouter(prefix="/api/v1/changes", tags=["changes"])

    @router.post("/score")
    def score(
        body: dict[str, Any] = Body(..., description="a change request (the schema of examples/changes)"),
        fmt: Literal["json", "md", "html"] = Query("json", alias="format"),
    ) -> Response:
        try:
            request = parse_change_request(body, source="request body")
            if not settings.api_local_paths and (request.change.git or request.change.manifests):
                raise HTTPException(
                    422,
                    detail=[
                        "request body change: git and manifests name files on the daemon's host; send diff_stats, "
                        "or enable changes.api_local_paths"
                    ],
                )
            report = score_and_record(store, settings, request, clock)
        except ChangeRequestError as exc:
            raise HTTPException(422, detail=[str(issue) for issue in exc.issues]) from None
        except ChangeAdvisorError as exc:
            raise HTTPException(422, detail=[str(exc)]) from None
        if fmt == "html":
            return HTMLResponse(render(report, "html"))
        if fmt == "md":
            return PlainTextResponse(render(report, "md"), media_type="text/markdown")
        return Response(render(report, "json"), media_type="application/json")

    return router
