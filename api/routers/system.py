"""Liveness and read-model positions, for operators and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.state import alarms_of, services_of

router = APIRouter(prefix="/v1", tags=["system"])


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    services = services_of(request)
    return {
        "status": "ok",
        "last_position": services.recorder.max_notification_id() or 0,
        "projections": {name: r.position() for name, r in services.runners.items()},
        "alarms": alarms_of(request).counts(),
    }
