"""Delegation grants: a patient (or the nurse manager) lets a nurse or caregiver act for the
patient, within scopes and a period; revocable at any time, effective at once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import Field

from api.auth import CurrentActor, authorize_patient, patient_subject
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import accepted
from api.schemas import Accepted, Body, Timestamp
from api.state import services_of
from commands.delegation import GiveGrant, RevokeGrant
from domain.delegation import Scope

router = APIRouter(prefix="/v1/patients", tags=["delegation"], responses=PROBLEM_RESPONSES)


class GrantBody(Body):
    grantee_id: UUID
    scopes: list[Scope] = Field(min_length=1, max_length=4)
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None


@router.post(
    "/{patient_id}/delegations", status_code=status.HTTP_201_CREATED, response_model=Accepted
)
def give(
    patient_id: UUID, body: GrantBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """By the patient, or the nurse manager of the patient's organisation."""
    actor = authorize_patient(
        request, actor, Action.MANAGE_DELEGATION, patient_subject(request, patient_id)
    )
    saved = services_of(request).bus.handle(
        GiveGrant(
            actor,
            patient_id,
            body.grantee_id,
            tuple(s.value for s in body.scopes),
            body.starts_at or datetime.now(UTC),
            body.ends_at,
        )
    )
    return accepted(response, saved)


@router.delete("/{patient_id}/delegations/{grant_id}", response_model=Accepted)
def revoke(
    patient_id: UUID, grant_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """A grant of another patient is not found here."""
    actor = authorize_patient(
        request, actor, Action.MANAGE_DELEGATION, patient_subject(request, patient_id)
    )
    saved = services_of(request).bus.handle(RevokeGrant(actor, patient_id, grant_id))
    return accepted(response, saved)
