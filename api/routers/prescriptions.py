"""Prescriptions (issued when the doctor signs the protocol): the patient's side and the care team
read them, the prescriber cancels or completes one, and a pharmacy's machine client verifies and
dispenses one by its code. A wrong code counts as a failed attempt against the pharmacy and its
address (``services.throttle``): too many, and both are locked out for a while (429)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from adapters.composition import Services
from api.auth import CurrentActor, authorize, authorize_patient, client_address, patient_subject
from api.policy import STAFF, Action
from api.prescription_schemas import (
    CancelBody,
    CodeBody,
    DispensedOut,
    PrescriptionOut,
    VerificationOut,
)
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import (
    AfterHeader,
    AfterQuery,
    Purpose,
    PurposeHeader,
    accepted,
    await_position,
    record_access,
)
from api.schemas import Accepted
from api.state import services_of
from commands import prescriptions as cmd
from commands.results import NotFound
from domain.actor import Actor, Role
from domain.prescription import DISPENSING_FIELDS, refusal_reason
from projections.prescriptions import PrescriptionRow

router = APIRouter(prefix="/v1", tags=["prescriptions"], responses=PROBLEM_RESPONSES)
_WRONG_CODE = "No prescription has that code"


def _out(row: PrescriptionRow, reader: Actor) -> dict[str, Any]:
    """The code only for the patient's side and the prescriber."""
    shows_code = reader.role is Role.PATIENT or reader.actor_id == row.doctor_id
    return {
        "id": row.prescription_id,
        "version": row.version,
        "patient_id": row.patient_id,
        "consultation_id": row.consultation_id,
        "protocol_id": row.protocol_id,
        "line": row.line,
        "doctor_id": row.doctor_id,
        "organisation_id": row.organisation_id,
        "status": row.status,
        "fills": row.fills,
        "fills_allowed": row.fills_allowed,
        "fills_left": row.fills_left,
        "issued_at": row.issued_at,
        "valid_until": row.valid_until,
        "updated_at": row.updated_at,
        "medication": row.medication,
        "code": row.code if shows_code else None,
        "cancel_reason": row.cancel_reason,
    }


@router.get("/patients/{patient_id}/prescriptions", response_model=list[PrescriptionOut])
def patient_prescriptions(
    patient_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> list[dict[str, Any]]:
    """The patient's prescriptions, newest first: for the patient (their holder, a caregiver
    with the read-records scope) and the care team (staff see their organisation's only). The
    read is on the patient's access log."""
    services = services_of(request)
    reader = authorize_patient(
        request, actor, Action.READ_PRESCRIPTIONS, patient_subject(request, patient_id)
    )
    await_position(services, "prescriptions", after, after_header)
    rows = services.prescriptions.of_patient(patient_id)
    if actor.role in STAFF:
        rows = [r for r in rows if r.organisation_id == actor.organisation_id]
    record_access(services, reader, [patient_id], "patient.prescriptions", purpose)
    return [_out(r, actor) for r in rows]


@router.get("/prescriptions/{prescription_id}", response_model=PrescriptionOut)
def prescription(
    prescription_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    """One prescription, for those who read the patient's prescriptions."""
    services = services_of(request)
    await_position(services, "prescriptions", after, after_header)
    row = services.prescriptions.get(prescription_id)
    if row is None:
        authorize(actor, Action.READ_PRESCRIPTIONS)
        raise NotFound("Prescription", prescription_id)
    reader = authorize_patient(
        request, actor, Action.READ_PRESCRIPTIONS, patient_subject(request, row.patient_id)
    )
    if actor.role in STAFF and row.organisation_id != actor.organisation_id:
        raise Problem(403, "forbidden", "Another organisation's prescription")
    record_access(services, reader, [row.patient_id], "prescription.read", purpose)
    return _out(row, actor)


@router.post("/prescriptions/{prescription_id}/cancel", response_model=Accepted)
def cancel(
    prescription_id: UUID,
    body: CancelBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The prescribing doctor, with a reason (encrypted with the patient's key); 409
    ``not-dispensable`` once it is not active."""
    authorize(actor, Action.CHANGE_PRESCRIPTION)
    saved = services_of(request).bus.handle(
        cmd.CancelPrescription(actor, prescription_id, body.reason)
    )
    return accepted(response, saved)


@router.post("/prescriptions/{prescription_id}/complete", response_model=Accepted)
def complete(
    prescription_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The prescribing doctor ends the course before its last fill; 409 once not active."""
    authorize(actor, Action.CHANGE_PRESCRIPTION)
    saved = services_of(request).bus.handle(cmd.CompletePrescription(actor, prescription_id))
    return accepted(response, saved)


def _throttled(services: Services, request: Request, actor: Actor) -> tuple[str, str]:
    """The keys a wrong code counts against (the pharmacy, its address: apart from the
    address's sign-in failures); 429 if either is locked."""
    keys = (f"pharmacy:{actor.actor_id}", f"prescription-code:{client_address(request)}")
    if any(services.throttle.locked_until(key) is not None for key in keys):
        raise Problem(429, "too-many-attempts", "Too many wrong codes; try again later")
    return keys


def _wrong_code(services: Services, keys: tuple[str, str]) -> Problem:
    for key in keys:
        services.throttle.failed(key)
    return Problem(404, "not-found", _WRONG_CODE)


@router.post("/pharmacy/prescriptions/verify", response_model=VerificationOut)
def verify(body: CodeBody, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """A pharmacy's machine client (a bearer token from ``POST /v1/oauth/token``) asks whether
    the prescription the code opens may be dispensed now, and sees what dispensing needs (any
    organisation's prescription: the code is the patient's authorisation). Nothing about the
    patient. 404 for a wrong code (counted), 429 after too many. On the patient's access log."""
    authorize(actor, Action.DISPENSE_PRESCRIPTION)
    services = services_of(request)
    await_position(services, "prescriptions", services.recorder.max_notification_id())
    if not services.prescriptions.is_pharmacy(actor.actor_id):
        raise Problem(403, "forbidden", "Only a pharmacy's machine client verifies")
    keys = _throttled(services, request, actor)
    row = services.prescriptions.by_code(body.code)
    if row is None or row.medication is None:
        raise _wrong_code(services, keys)
    reason = refusal_reason(row.status, row.valid_until, services.clock())
    line = row.medication
    record_access(
        services, actor, [row.patient_id], "prescription.verification", Purpose.DISPENSING
    )
    return {
        "valid": reason is None,
        "reason": reason,
        **{name: line.get(name) for name in DISPENSING_FIELDS},
        "fills_left": row.fills_left,
        "valid_until": row.valid_until,
        "prescriber_id": row.doctor_id,
    }


@router.post("/pharmacy/prescriptions/dispense", response_model=DispensedOut)
def dispense(
    body: CodeBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """A pharmacy's machine client records a fill: 409 ``not-dispensable`` with the ``reason``
    (cancelled, completed, expired); of two pharmacies dispensing the last fill at once, one
    wins and the other gets that 409. 404 for a wrong code (counted), 429 after too many."""
    authorize(actor, Action.DISPENSE_PRESCRIPTION)
    services = services_of(request)
    keys = _throttled(services, request, actor)
    try:
        done = services.bus.answer(cmd.DispensePrescription(actor, body.code), cmd.Dispensed)
    except NotFound:
        raise _wrong_code(services, keys) from None
    if done.position is not None:
        response.headers["X-Position"] = str(done.position)
    return {
        "fill": done.fill,
        "fills_allowed": done.fills_allowed,
        "fills_left": done.fills_allowed - done.fill if done.status == "active" else 0,
        "status": done.status,
        "position": done.position,
    }
