"""The daemon's HTTP server: /healthz, /readyz, /metrics (no auth), and the API routers (bearer token)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from daemon.health import HealthState
from daemon.metrics import DaemonMetrics

logger = logging.getLogger(__name__)


def bearer_auth(token: str | None) -> object:
    """A dependency that demands ``Authorization: Bearer <token>``; with no token configured the API is closed."""

    def check(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if token is None or scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), token):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return Depends(check)


def build_app(
    health: HealthState,
    metrics: DaemonMetrics,
    routers: Sequence[APIRouter] = (),
    api_token: str | None = None,
) -> FastAPI:
    app = FastAPI(title="aiopsd", version="0.1.0", description="The aiopsd daemon's HTTP API.")

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        ok, body = health.live()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        ok, body = health.ready()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["health"])
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    auth = bearer_auth(api_token)
    for router in routers:
        app.include_router(router, dependencies=[auth])  # type: ignore[list-item]
    return app


class HttpServer:
    """uvicorn in a background thread, bound where the settings say (127.0.0.1 by default)."""

    def __init__(self, app: FastAPI, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        config = uvicorn.Config(app, host=host.strip("[]"), port=int(port), log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="aiopsd-http", daemon=True)
        self.listen = listen

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if self._server.started:
                logger.info("serving /healthz /readyz /metrics on http://%s", self.listen)
                return
            if not self._thread.is_alive():
                break
            deadline.wait(0.05)
        raise RuntimeError(f"HTTP server did not start on {self.listen}")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
