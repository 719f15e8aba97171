"""``POST /api/v1/alerts``: Alertmanager's webhook receiver. The daemon mounts this router behind bearer auth."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from fastapi import APIRouter, HTTPException, Request, status

from daemon.alerts import (
    AlertPayloadError,
    AlertSink,
    received_now,
    series_of,
    to_anomalies,
    validate_payload,
)

logger = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024


def alerts_router(
    sink: AlertSink,
    entity_labels: dict[str, str] | None = None,
    clock: Callable[[], float] = received_now,
    bucket: float = 60.0,
) -> APIRouter:
    """A router whose webhook turns firing alerts into anomalies and hands them to ``sink`` (e.g. an AlertInbox)."""
    router = APIRouter()

    @router.post("/api/v1/alerts", status_code=status.HTTP_202_ACCEPTED)
    async def receive_alerts(request: Request) -> dict[str, int]:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"body over {MAX_BODY} bytes")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, {"errors": [f"body: invalid JSON: {exc}"]}) from None
        try:
            payload = validate_payload(data)
        except AlertPayloadError as exc:
            raise HTTPException(422, {"errors": exc.problems}) from None
        received = clock()
        anomalies = to_anomalies(payload, received, entity_labels, bucket)
        sink.submit(anomalies, received)
        sink.resolve([series_of(a) for a in payload.alerts if a.status == "resolved"])
        firing = sum(1 for a in payload.alerts if a.status == "firing")
        logger.info("alertmanager %s: %d alerts, %d accepted as anomalies", payload.receiver, firing, len(anomalies))
        return {"accepted": len(anomalies), "firing": firing, "resolved": len(payload.alerts) - firing}

    return router
