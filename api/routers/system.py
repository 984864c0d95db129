"""Liveness and read-model positions, for operators and load balancers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from adapters.crypto.signing_key import key_id, public_key_text
from api.problems import PROBLEM_RESPONSES
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


@router.get("/audit/public-key", responses=PROBLEM_RESPONSES)
def checkpoint_public_key(request: Request) -> dict[str, str]:
    """The key that verifies this deployment's signed audit checkpoints (Ed25519)."""
    verify_key = services_of(request).checkpoint_key.verify_key
    return {
        "algorithm": "ed25519",
        "public_key": public_key_text(verify_key),
        "key_id": key_id(verify_key),
    }
