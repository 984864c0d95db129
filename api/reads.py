"""Helpers shared by query routes: read-your-writes waits, access records, ETags, cursors."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, Query, Response

from adapters.composition import Services
from api.problems import Problem
from commands.results import Saved
from domain.actor import Actor


class Purpose(StrEnum):
    CARE = "care"
    SELF = "self"
    BILLING = "billing"
    LEGAL = "legal"
    COMPLIANCE = "compliance"
    DISPENSING = "dispensing"  # a pharmacy verifying a prescription it is shown


AfterQuery = Annotated[
    int | None,
    Query(ge=0, description="Wait (bounded) until the read model has processed this position"),
]
AfterHeader = Annotated[int | None, Header(alias="X-After-Position", ge=0)]
PurposeHeader = Annotated[Purpose | None, Header(alias="X-Access-Purpose")]


def await_position(services: Services, projection: str, *positions: int | None) -> None:
    wanted = max((p for p in positions if p is not None), default=None)
    if wanted is None:
        return
    head = services.recorder.max_notification_id() or 0
    if wanted > head:
        raise Problem(422, "unknown-position", "No event has that position yet", last_position=head)
    if not services.runners[projection].wait_for(wanted, services.settings.read_wait_seconds):
        raise Problem(
            503,
            "read-model-lagging",
            "The read model has not caught up with your write yet; retry",
            position=services.runners[projection].position(),
        )


def record_access(
    services: Services, actor: Actor, subjects: list[UUID], what: str, purpose: Purpose | None
) -> None:
    services.access_log.record(actor, subjects, what, (purpose or Purpose.CARE).value)


def etag(version: int) -> str:
    return f'W/"{version}"'


def if_match_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    try:
        return int(raw)
    except ValueError:
        raise Problem(400, "bad-if-match", "If-Match must be an ETag from this API") from None


def accepted(response: Response, saved: Saved) -> dict[str, Any]:
    response.headers["ETag"] = etag(saved.version)
    if saved.position is not None:
        response.headers["X-Position"] = str(saved.position)
    return {"id": saved.aggregate_id, "version": saved.version, "position": saved.position}


def aware(value: datetime | None) -> datetime | None:
    """A query's time, which must carry its UTC offset."""
    if value is not None and value.tzinfo is None:
        raise Problem(422, "naive-datetime", "Times need a UTC offset (ISO 8601)")
    return value


def encode_cursor(at: datetime, ident: UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{ident}".encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        at, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "bad-cursor", "The cursor is not one this API handed out") from None
