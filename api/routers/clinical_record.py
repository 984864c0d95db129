"""The clinical part of the patient card (E3): consultations, protocols, the diagnoses of the
signed ones, prescriptions, lab orders with results, and consents, in one read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from api.auth import CurrentActor, authorize_patient, patient_subject
from api.clinical_record_schemas import ClinicalRecordOut
from api.policy import STAFF, Action
from api.problems import PROBLEM_RESPONSES
from api.reads import AfterHeader, AfterQuery, PurposeHeader, await_position, etag, record_access
from api.state import services_of
from domain.actor import Actor
from domain.lab_order import is_abnormal
from projections.clinical_record import ClinicalRecordProjection, Entry, diagnoses

router = APIRouter(prefix="/v1", tags=["patients"], responses=PROBLEM_RESPONSES)


def _consultation(e: Entry) -> dict[str, Any]:
    content = e.content or {}
    return {
        "id": e.entry_id,
        "kind": content.get("kind"),
        "type_code": content.get("type_code"),
        "asynchronous": content.get("asynchronous"),
        "doctor_id": e.doctor_id,
        "organisation_id": e.organisation_id,
        "start": e.at,
        "end": e.ends_at,
        "status": e.status,
    }


def _protocol(e: Entry) -> dict[str, Any]:
    return {
        "id": e.entry_id,
        "consultation_id": e.consultation_id,
        "doctor_id": e.doctor_id,
        "status": e.status,
        "signer_id": e.signer_id,
        "signed_at": e.signed_at,
        "addenda": e.tally,
    }


def _prescription(e: Entry) -> dict[str, Any]:
    content = e.content or {}
    return {
        "id": e.entry_id,
        "consultation_id": e.consultation_id,
        "doctor_id": e.doctor_id,
        "organisation_id": e.organisation_id,
        "issued_at": e.at,
        "valid_until": e.ends_at,
        "status": e.status,
        "medication": content.get("medication"),
        "fills": e.tally,
        "fills_allowed": content.get("fills_allowed"),
    }


def _lab_order(e: Entry) -> dict[str, Any]:
    content = e.content or {}
    results = [
        {**r, "abnormal": is_abnormal(r)}
        for _, r in sorted(e.parts.items(), key=lambda p: int(p[0].split(".")[-1]))
        if isinstance(r, dict)
    ]
    return {
        "id": e.entry_id,
        "consultation_id": e.consultation_id,
        "doctor_id": e.doctor_id,
        "organisation_id": e.organisation_id,
        "ordered_at": e.at,
        "status": e.status,
        "tests": content.get("tests"),
        "note": content.get("note"),
        "results": results,
    }


def _consent(e: Entry) -> dict[str, Any]:
    content = e.content or {}
    return {
        "organisation_id": e.organisation_id,
        "kind": content.get("kind"),
        "version": content.get("version"),
        "sha256": content.get("sha256"),
        "status": e.status,
        "at": e.updated_at,
    }


def _purpose(e: Entry) -> dict[str, Any]:
    return {"purpose": (e.content or {}).get("purpose"), "status": e.status, "at": e.updated_at}


def _visible(actor: Actor, entry: Entry) -> bool:
    """Staff see what their organisation (or they themselves) did; the patient's side all."""
    if actor.role not in STAFF or entry.section == "purpose":
        return True
    return entry.organisation_id == actor.organisation_id or entry.doctor_id == actor.actor_id


@router.get("/patients/{patient_id}/clinical-record", response_model=ClinicalRecordOut)
def clinical_record(
    patient_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    """The card's clinical part, newest first in each section: for the patient (their holder,
    a caregiver with the read-records scope) and the care team (staff see what their
    organisation did). It moves with a beneficiary's transfer: the record is the patient's,
    whoever holds it. The read is on the patient's access log."""
    services = services_of(request)
    reader = authorize_patient(
        request, actor, Action.READ_CLINICAL_RECORD, patient_subject(request, patient_id)
    )
    await_position(services, ClinicalRecordProjection.name, after, after_header)
    entries = services.clinical_record.of_patient(patient_id)
    position = max((e.position for e in entries), default=0)
    shown = [e for e in entries if _visible(actor, e)]
    record_access(services, reader, [patient_id], "patient.clinical-record", purpose)
    response.headers["ETag"] = etag(position)

    def section(name: str) -> list[Entry]:
        return [e for e in shown if e.section == name]

    return {
        "patient_id": patient_id,
        "position": position,
        "consultations": [_consultation(e) for e in section("consultation")],
        "protocols": [_protocol(e) for e in section("protocol")],
        "diagnoses": diagnoses(shown),
        "prescriptions": [_prescription(e) for e in section("prescription")],
        "lab_orders": [_lab_order(e) for e in section("lab-order")],
        "consents": [_consent(e) for e in section("consent")],
        "consent_purposes": [_purpose(e) for e in section("purpose")],
    }
