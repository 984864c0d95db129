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
    consultation_ties,
    patient_subject,
)
from api.policy import STAFF, Action, ConsultationScope, decide_for_consultation
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import (
    AfterHeader,
    AfterQuery,
    PurposeHeader,
    accepted,
    await_position,
    record_access,
)
from api.routers.agenda import consultation_out
from api.schedule_schemas import (
    BookingBody,
    CancelBody,
    ConsultationOut,
    RescheduleBody,
    UrgentBody,
)
from api.schemas import Accepted
from api.state import services_of
from commands import booking as cmd
from commands.results import Saved
from domain.actor import Actor, Role
from domain.booking import Consultation, Kind, SlotNotOffered, SlotTaken
from domain.schedule import DoctorSchedule

router = APIRouter(prefix="/v1/consultations", tags=["consultations"], responses=PROBLEM_RESPONSES)


def _booking_scope(
    services: Services, patient_id: UUID, doctor_id: UUID, practice_id: UUID | None
) -> ConsultationScope:
    """Whose booking it is: the patient, the doctor, and the organisation of the practice."""
    schedule = services.bus_uow().find(DoctorSchedule, DoctorSchedule.create_id(doctor_id))
    practices = schedule.practices if schedule else {}
    org = None
    if practice_id is not None and practice_id in practices:
        org = practices[practice_id].organisation_id
    elif practice_id is None and len({p.organisation_id for p in practices.values()}) == 1:
        org = next(iter(practices.values())).organisation_id
    return ConsultationScope(patient_id, doctor_id, org)


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
    scope = _booking_scope(services, body.patient_id, body.doctor_id, body.practice_id)
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
    services = services_of(request)
    actor = _may_book(
        request, actor, _booking_scope(services, body.patient_id, body.doctor_id, None)
    )
    saved = services.bus.handle(
        cmd.BookUrgent(actor, body.patient_id, body.doctor_id, body.reason, body.minutes)
    )
    return accepted(response, saved)


def _may_book(request: Request, actor: Actor, scope: ConsultationScope) -> Actor:
    """The patient (or their holder, or a grantee with the booking scope); staff of the
    practice's organisation, for a patient whose record they may see."""
    acting = authorize_consultation(request, actor, Action.BOOK, scope)
    if acting.on_behalf_of is None and actor.role is not Role.PATIENT:
        _, subject = patient_subject(request, scope.patient_id)
        authorize_patient(request, actor, Action.BOOK, subject)
    return acting


def _load(services: Services, consultation_id: UUID) -> Consultation:
    return services.bus_uow().get(Consultation, consultation_id)


def _change(
    request: Request,
    consultation_id: UUID,
    actor: Actor,
    action: Action = Action.CHANGE_CONSULTATION,
) -> tuple[Services, Actor]:
    services = services_of(request)
    c = _load(services, consultation_id)
    actor = authorize_consultation(
        request,
        actor,
        action,
        ConsultationScope(c.patient_id, c.doctor_id, c.organisation_id),
    )
    return services, actor


@router.get("/{consultation_id}", response_model=ConsultationOut)
def read(
    consultation_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    services = services_of(request)
    c = _load(services, consultation_id)
    actor = authorize_consultation(
        request,
        actor,
        Action.READ_CONSULTATION,
        ConsultationScope(c.patient_id, c.doctor_id, c.organisation_id),
    )
    record_access(services, actor, [c.patient_id], "consultation", purpose)
    return {
        "id": c.id,
        "version": c.version,
        "doctor_id": c.doctor_id,
        "patient_id": c.patient_id,
        "practice_id": c.practice_id,
        "organisation_id": c.organisation_id,
        "type_code": c.type_code,
        "kind": c.kind.value,
        "start": c.slot.start,
        "end": c.slot.end,
        "status": c.status.value,
        "urgent": c.urgent,
        "flagged": c.flagged,
        "booked_by_role": c.booked_by.role.value,
        "options": c.options,
    }


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


patients_router = APIRouter(
    prefix="/v1/patients", tags=["consultations"], responses=PROBLEM_RESPONSES
)


@patients_router.get("/{patient_id}/consultations", response_model=list[ConsultationOut])
def patient_consultations(
    patient_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> list[dict[str, Any]]:
    """A patient's appointments: for the patient (or their holder, or a grantee), and for the
    care team of each appointment's organisation."""
    services = services_of(request)
    probe = ConsultationScope(patient_id, patient_id, actor.organisation_id)
    ties = consultation_ties(request, actor, probe)
    # staff see the list, filtered below to what each consultation allows them
    verdict = decide_for_consultation(actor, Action.READ_CONSULTATION, probe, ties)
    if actor.role not in STAFF and not verdict:
        raise Problem(403, "forbidden", "Your role does not allow this for that patient")
    await_position(services, "agenda", after, after_header)
    entries = [
        e
        for e in services.agenda.of_patient(patient_id)
        if decide_for_consultation(
            actor,
            Action.READ_CONSULTATION,
            ConsultationScope(e.patient_id, e.doctor_id, e.organisation_id),
            ties,
        )
    ]
    # even an empty list tells whether the patient has appointments here
    reader = actor.acting_for(patient_id) if verdict.on_behalf else actor
    record_access(services, reader, [patient_id], "patient.consultations", purpose)
    return [consultation_out(e) for e in entries]
