"""Compliance officers: a record's timeline, its state at any moment, who read it, and the
verification of the audit chains. A patient's timeline and state cover the whole record: the
patient aggregate and every stream the clinical record's index lists for the patient
(consultations, protocols, prescriptions, lab orders, on-call requests, grants, rule
decisions, teleconferences), merged in log position order."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from fastapi import APIRouter, Query, Request

from adapters.audit.replay import TimelineEntry, plain
from adapters.composition import Services
from api.audit import verify_all
from api.auth import CurrentActor, authorize
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import Purpose, await_position, record_access
from api.schemas import AccessRecordOut, AuditReport, StateAsOf, TimelineEntryOut, Timestamp
from api.state import alarms_of, services_of
from projections.clinical_record import ClinicalRecordProjection, StreamRef

router = APIRouter(prefix="/v1/compliance", tags=["compliance"], responses=PROBLEM_RESPONSES)


def _existing(request: Request, patient_id: UUID) -> None:
    if not services_of(request).patient_exists(patient_id):
        raise Problem(404, "not-found", "Patient not found")


def _streams(services: Services, patient_id: UUID) -> list[StreamRef]:
    """The record's streams, the patient's own first, from an index that has every event so
    far (the officer waits, bounded, for it to catch up)."""
    head = services.recorder.max_notification_id() or 0
    await_position(services, ClinicalRecordProjection.name, head)
    others = services.clinical_record.streams_of(patient_id)
    return [StreamRef(patient_id, "Patient")] + [s for s in others if s.aggregate_id != patient_id]


def _entry_out(e: TimelineEntry) -> dict[str, Any]:
    return {
        "position": e.position,
        "version": e.version,
        "event_type": e.event_type,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "actor": e.actor.as_dict() if e.actor else None,
        "data": e.data,
        "aggregate_id": e.aggregate_id,
        "aggregate_type": e.aggregate_type,
    }


def _state(aggregate: Aggregate) -> dict[str, Any]:
    return {k: plain(v) for k, v in vars(aggregate).items() if not k.startswith("_")}


@router.get("/patients/{patient_id}/timeline", response_model=list[TimelineEntryOut])
def timeline(patient_id: UUID, request: Request, actor: CurrentActor) -> list[dict[str, Any]]:
    """Every event of the patient's whole record, in log order, each naming its stream."""
    authorize(actor, Action.COMPLIANCE_READ)
    _existing(request, patient_id)
    services = services_of(request)
    entries = services.replay.record_timeline(_streams(services, patient_id))
    record_access(services, actor, [patient_id], "patient.timeline", Purpose.COMPLIANCE)
    return [_entry_out(e) for e in entries]


@router.get("/patients/{patient_id}/state", response_model=StateAsOf)
def state_as_of(
    patient_id: UUID,
    request: Request,
    actor: CurrentActor,
    at: Annotated[Timestamp, Query(description="ISO 8601 moment, with offset")],
) -> dict[str, Any]:
    """The patient record as of ``at`` (top level), and each stream of the whole record as of
    ``at`` in ``aggregates`` (the record first; ``exists`` false for what came later)."""
    authorize(actor, Action.COMPLIANCE_READ)
    _existing(request, patient_id)
    if at.tzinfo is None:
        raise Problem(422, "naive-datetime", "The moment needs a UTC offset")
    services = services_of(request)
    replayed = services.replay.record_as_of(_streams(services, patient_id), at)
    record_access(services, actor, [patient_id], "patient.state-as-of", Purpose.COMPLIANCE)
    aggregates = [
        {
            "aggregate_id": ref.aggregate_id,
            "aggregate_type": ref.aggregate_type,
            "exists": found is not None,
            "version": found.version if found is not None else None,
            "state": _state(found) if found is not None else None,
        }
        for ref, found in replayed
    ]
    record = replayed[0][1]
    if record is None:
        return {"at": at, "exists": False, "aggregates": aggregates}
    return {
        "at": at,
        "exists": True,
        "version": record.version,
        "state": _state(record),
        "aggregates": aggregates,
    }


@router.get("/aggregates/{aggregate_id}/timeline", response_model=list[TimelineEntryOut])
def aggregate_timeline(
    aggregate_id: UUID, request: Request, actor: CurrentActor
) -> list[dict[str, Any]]:
    """Any one stream's events (a teleconference, an organisation, a consultation). When the
    stream is part of patients' records, the read is on their access logs."""
    authorize(actor, Action.COMPLIANCE_READ)
    services = services_of(request)
    entries = services.replay.timeline(aggregate_id)
    if not entries:
        raise Problem(404, "not-found", "No stream has that id")
    head = services.recorder.max_notification_id() or 0
    await_position(services, ClinicalRecordProjection.name, head)
    owners = services.clinical_record.owners_of(aggregate_id)
    record_access(services, actor, owners, "aggregate.timeline", Purpose.COMPLIANCE)
    return [_entry_out(e) for e in entries]


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
