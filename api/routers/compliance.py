"""Compliance officers: a record's timeline, its state at any moment, who read it, and the
verification of the audit chains."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from adapters.audit.replay import plain
from api.audit import verify_all
from api.auth import CurrentActor, authorize
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import Purpose, record_access
from api.schemas import AccessRecordOut, AuditReport, StateAsOf, TimelineEntryOut, Timestamp
from api.state import alarms_of, services_of

router = APIRouter(prefix="/v1/compliance", tags=["compliance"], responses=PROBLEM_RESPONSES)


def _existing(request: Request, patient_id: UUID) -> None:
    if not services_of(request).patient_exists(patient_id):
        raise Problem(404, "not-found", "Patient not found")


@router.get("/patients/{patient_id}/timeline", response_model=list[TimelineEntryOut])
def timeline(patient_id: UUID, request: Request, actor: CurrentActor) -> list[dict[str, Any]]:
    authorize(actor, Action.COMPLIANCE_READ)
    _existing(request, patient_id)
    services = services_of(request)
    entries = services.replay.timeline(patient_id)
    record_access(services, actor, [patient_id], "patient.timeline", Purpose.COMPLIANCE)
    return [
        {
            "position": e.position,
            "version": e.version,
            "event_type": e.event_type,
            "occurred_at": e.occurred_at,
            "recorded_at": e.recorded_at,
            "actor": e.actor.as_dict() if e.actor else None,
            "data": e.data,
        }
        for e in entries
    ]


@router.get("/patients/{patient_id}/state", response_model=StateAsOf)
def state_as_of(
    patient_id: UUID,
    request: Request,
    actor: CurrentActor,
    at: Annotated[Timestamp, Query(description="ISO 8601 moment, with offset")],
) -> dict[str, Any]:
    authorize(actor, Action.COMPLIANCE_READ)
    _existing(request, patient_id)
    if at.tzinfo is None:
        raise Problem(422, "naive-datetime", "The moment needs a UTC offset")
    services = services_of(request)
    aggregate = services.replay.as_of(patient_id, at)
    record_access(services, actor, [patient_id], "patient.state-as-of", Purpose.COMPLIANCE)
    if aggregate is None:
        return {"at": at, "exists": False}
    state = {k: plain(v) for k, v in vars(aggregate).items() if not k.startswith("_")}
    return {"at": at, "exists": True, "version": aggregate.version, "state": state}


@router.get("/patients/{patient_id}/access-log", response_model=list[AccessRecordOut])
def access_log(patient_id: UUID, request: Request, actor: CurrentActor) -> list[dict[str, Any]]:
    authorize(actor, Action.COMPLIANCE_READ)
    services = services_of(request)
    records = services.access_log.for_subject(patient_id)
    # who saw a patient, and when, is about the patient too (listed from the next read on)
    record_access(services, actor, [patient_id], "patient.access-log", Purpose.COMPLIANCE)
    return [
        {
            "position": r.position,
            "at": r.at,
            "actor_id": r.actor_id,
            "role": r.role,
            "organisation_id": r.organisation_id,
            "on_behalf_of": r.on_behalf_of,
            "what": r.what,
            "purpose": r.purpose,
        }
        for r in records
    ]


@router.get("/audit", response_model=AuditReport)
def verify_audit(request: Request, actor: CurrentActor) -> dict[str, Any]:
    authorize(actor, Action.AUDIT_VERIFY)
    report = verify_all(services_of(request))
    if not report["ok"]:  # tampering found: the officer gets the report, operators the alarm
        broken = ",".join(c["chain"] for c in report["chains"] if not c["ok"])
        alarms_of(request).integrity_failure(
            f"hash-chain {broken}", str(actor.correlation_id), "/v1/compliance/audit"
        )
    return report
