"""Consultations: book (or urgent), confirm, cancel, reschedule, no-show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from adapters.composition import Services
from api.auth import (
    CurrentActor,
    authorize_consultation,
    authorize_patient,
    consultation_scope,
    patient_subject,
)
from api.policy import Action, ConsultationScope
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import (
    accepted,
)
from api.schedule_schemas import (
    BookingBody,
    CancelBody,
    RescheduleBody,
    UrgentBody,
)
from api.schemas import Accepted
from api.state import services_of
from commands import booking as cmd
from commands.results import Saved
from domain.actor import Actor, Role
from domain.booking import SlotNotOffered, SlotTaken
from domain.consultation import Kind

router = APIRouter(prefix="/v1/consultations", tags=["consultations"], responses=PROBLEM_RESPONSES)


def _booking_scope(
    request: Request, actor: Actor, patient_id: UUID, doctor_id: UUID
) -> ConsultationScope:
    """Whose booking it is: the patient, the doctor, and for staff the organisation they act
    for when the doctor works there too (the handler checks the doctor practises there)."""
    organisation_id = actor.organisation_id if actor.role is not Role.PATIENT else None
    if organisation_id not in services_of(request).relations.memberships(doctor_id):
        organisation_id = None
    return ConsultationScope(patient_id, doctor_id, organisation_id)


def _booked_for(acting: Actor, scope: ConsultationScope) -> UUID | None:
    """The organisation a booking is made for: staff's own, unless they act for the patient."""
    return scope.organisation_id if acting.on_behalf_of is None else None


def _alternatives(services: Services, body: BookingBody) -> list[dict[str, Any]]:
    """The next free slots of that doctor and type, once availability has seen the booking
    that won (bounded wait)."""
    head = services.recorder.max_notification_id() or 0
    services.runners["availability"].wait_for(head, min(1.0, services.settings.read_wait_seconds))
    slots = services.availability.of_doctor(
        body.doctor_id,
        max(body.start, datetime.now(UTC)),
        body.start + timedelta(days=30),
        body.type_code,
        body.practice_id,
        limit=5,
    )
    return [
        {
            "start": s.start.isoformat(),
            "end": s.end.isoformat(),
            "practice_id": str(s.practice_id),
            "type_code": s.type_code,
        }
        for s in slots
    ]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def book(
    body: BookingBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Book a free slot. A slot someone else just took answers 409 with the next free ones."""
    services = services_of(request)
    scope = _booking_scope(request, actor, body.patient_id, body.doctor_id)
    actor = _may_book(request, actor, scope)
    try:
        saved = services.bus.handle(
            cmd.BookConsultation(
                actor,
                body.patient_id,
                body.doctor_id,
                body.practice_id,
                body.type_code,
                body.start,
                Kind(body.kind),
                _booked_for(actor, scope),
            )
        )
    except (SlotTaken, SlotNotOffered) as exc:
        kind = "slot-taken" if isinstance(exc, SlotTaken) else "slot-not-offered"
        raise Problem(
            409,
            kind,
            "That slot cannot be booked",
            str(exc),
            alternatives=_alternatives(services, body),
        ) from None
    response.headers["Location"] = f"/v1/consultations/{saved.aggregate_id}"
    return accepted(response, saved)


@router.post("/urgent", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def book_urgent(
    body: UrgentBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Urgent: booked at once outside the schedule; on the doctor's agenda right away."""
    scope = _booking_scope(request, actor, body.patient_id, body.doctor_id)
    actor = _may_book(request, actor, scope)
    saved = services_of(request).bus.handle(
        cmd.BookUrgent(
            actor,
            body.patient_id,
            body.doctor_id,
            body.reason,
            body.minutes,
            _booked_for(actor, scope),
        )
    )
    return accepted(response, saved)


def _may_book(request: Request, actor: Actor, scope: ConsultationScope) -> Actor:
    """The patient (or their holder, or a grantee with the booking scope); staff of the
    practice's organisation, for a patient whose record they may see."""
    acting = authorize_consultation(request, actor, Action.BOOK, scope)
    if acting.on_behalf_of is None and actor.role is not Role.PATIENT:
        subject = patient_subject(request, scope.patient_id)
        authorize_patient(request, actor, Action.BOOK, subject)
    return acting


def _change(
    request: Request,
    consultation_id: UUID,
    actor: Actor,
    action: Action = Action.CHANGE_CONSULTATION,
) -> tuple[Services, Actor]:
    scope = consultation_scope(request, consultation_id)
    return services_of(request), authorize_consultation(request, actor, action, scope)


@router.post("/{consultation_id}/confirm", response_model=Accepted)
def confirm(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    services, actor = _change(request, consultation_id, actor)
    return accepted(response, services.bus.handle(cmd.ConfirmConsultation(actor, consultation_id)))


@router.post("/{consultation_id}/cancel", response_model=Accepted)
def cancel(
    consultation_id: UUID,
    body: CancelBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    services, actor = _change(request, consultation_id, actor)
    return accepted(
        response, services.bus.handle(cmd.CancelConsultation(actor, consultation_id, body.reason))
    )


@router.post("/{consultation_id}/reschedule", response_model=Accepted)
def reschedule(
    consultation_id: UUID,
    body: RescheduleBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Move to another free slot atomically: never both times held, never neither."""
    services, actor = _change(request, consultation_id, actor)
    try:
        saved: Saved = services.bus.handle(
            cmd.RescheduleConsultation(actor, consultation_id, body.start)
        )
    except (SlotTaken, SlotNotOffered) as exc:
        raise Problem(
            409,
            "slot-taken" if isinstance(exc, SlotTaken) else "slot-not-offered",
            "That slot cannot be booked",
            str(exc),
        ) from None
    return accepted(response, saved)


@router.post("/{consultation_id}/no-show", response_model=Accepted)
def no_show(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Recorded by the practice (never by the patient's side)."""
    services, actor = _change(request, consultation_id, actor, Action.RECORD_NO_SHOW)
    return accepted(response, services.bus.handle(cmd.RecordNoShow(actor, consultation_id)))
