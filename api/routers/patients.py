"""Patients: register, read, search, change contact details, consents, erasure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from api.auth import (
    CurrentActor,
    authorize,
    authorize_patient,
    patient_subject,
    require_step_up,
)
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import (
    AfterHeader,
    AfterQuery,
    Purpose,
    PurposeHeader,
    accepted,
    await_position,
    decode_cursor,
    encode_cursor,
    etag,
    if_match_version,
    record_access,
)
from api.schemas import (
    Accepted,
    ConsentRequest,
    ContactDetails,
    PatientOut,
    PatientPage,
    PatientRegistration,
    PatientSearch,
)
from api.state import services_of
from commands.patients import (
    ChangeContactDetails,
    ErasePatient,
    RecordConsent,
    RegisterPatient,
    WithdrawConsent,
)
from commands.results import NotFound
from domain.actor import Actor, Role
from domain.errors import InvalidValue
from domain.patient import ConsentPurpose, ErasureReason, record_of

router = APIRouter(prefix="/v1/patients", tags=["patients"], responses=PROBLEM_RESPONSES)

IfMatch = Annotated[str | None, Header(alias="If-Match")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def register_patient(
    body: PatientRegistration,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Safe to retry with an Idempotency-Key (api.idempotency), like every change."""
    authorize(actor, Action.REGISTER_PATIENT)
    services = services_of(request)
    if actor.role is Role.PATIENT and (
        services.patient_exists(record_of(actor.actor_id))
        or services.relations.own_record(actor.actor_id) is not None
    ):
        raise Problem(409, "already-registered", "You are already registered")
    saved = services_of(request).bus.handle(RegisterPatient(actor=actor, **body.model_dump()))
    response.headers["Location"] = f"/v1/patients/{saved.aggregate_id}"
    return accepted(response, saved)


@router.get("/{patient_id}", response_model=PatientOut)
def read_patient(
    patient_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    subject = patient_subject(request, patient_id)
    actor = authorize_patient(request, actor, Action.READ_PATIENT, subject)
    services = services_of(request)
    # a record tampered with in the store is an integrity alarm, whatever the card has seen
    services.recorder.check_stream(patient_id)
    # as current as the write: the card is awaited (bounded) up to the log's head
    await_position(services, "patient_card", services.recorder.max_notification_id())
    card = services.patient_cards.get(patient_id)
    if card is None:
        raise NotFound("Patient", patient_id)
    record_access(services, actor, [card.patient_id], "patient.record", purpose)
    response.headers["ETag"] = etag(card.version)
    return {
        "id": card.patient_id,
        "version": card.version,
        "organisation_id": card.organisation_id,
        "given_name": card.given_name,
        "family_name": card.family_name,
        "birth_date": card.birth_date,
        "email": card.email,
        "phone": card.phone,
        "address": card.address,
        "notes": card.notes,
        "consents": list(card.consents),
        "erased": card.erased,
        "holder_id": card.holder_id,
        "has_account": card.has_account,
        "invitation_pending": card.invitation_pending,
    }


@router.get("", response_model=PatientPage)
def list_patients(
    request: Request,
    actor: CurrentActor,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    """Patients of your organisation, in registration order, paged by an opaque cursor."""
    return _directory_page(
        request,
        actor,
        PatientSearch(cursor=cursor, limit=limit, after=after),
        after_header,
        purpose,
    )


@router.post("/_search", response_model=PatientPage)
def search_patients(
    body: PatientSearch,
    request: Request,
    actor: CurrentActor,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    """Exact search by email and/or full name (in the body, so it never lands in a URL log)."""
    return _directory_page(request, actor, body, after_header, purpose)


def _directory_page(
    request: Request,
    actor: Actor,
    query: PatientSearch,
    after_header: int | None,
    purpose: Purpose | None,
) -> dict[str, Any]:
    authorize(actor, Action.SEARCH_PATIENTS)
    services = services_of(request)
    await_position(services, "patient_directory", query.after, after_header)
    try:
        entries = services.directory.search(
            organisation_id=actor.organisation_id,
            email=query.email,
            name=query.name,
            after=decode_cursor(query.cursor),
            limit=query.limit,
        )
    except InvalidValue:
        entries = []  # an email that cannot exist matches nobody
    record_access(services, actor, [e.patient_id for e in entries], "patient.directory", purpose)
    items = [
        {
            "id": e.patient_id,
            "version": e.version,
            "organisation_id": e.organisation_id,
            "given_name": e.given_name,
            "family_name": e.family_name,
            "birth_date": e.birth_date,
            "email": e.email,
            "phone": e.phone,
            "consents": list(e.consents),
            "erased": e.erased,
        }
        for e in entries
    ]
    last = entries[-1] if len(entries) == query.limit else None
    return {
        "items": items,
        "next_cursor": encode_cursor(last.registered_at, last.patient_id) if last else None,
    }


@dataclass
class PatientChange:
    """What every change to a patient's record needs: the loaded subject, the authorized actor
    and If-Match."""

    request: Request
    response: Response
    actor: Actor
    patient_id: UUID
    expected_version: int | None

    def run(
        self, action: Action, command: Callable[[int | None], Any], *, sensitive: bool = False
    ) -> dict[str, Any]:
        """``sensitive``: with two-factor on, the session needs a recent step-up (A6)."""
        services = services_of(self.request)
        subject = patient_subject(self.request, self.patient_id)
        self.actor = authorize_patient(self.request, self.actor, action, subject)
        if sensitive and services.accounts.has_second_factor(self.actor.actor_id):
            require_step_up(self.request.state.session)
        saved = services.bus.handle(command(self.expected_version))
        return accepted(self.response, saved)


def patient_change(
    patient_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
    if_match: IfMatch = None,
) -> PatientChange:
    return PatientChange(request, response, actor, patient_id, if_match_version(if_match))


Change = Annotated[PatientChange, Depends(patient_change)]


@router.patch("/{patient_id}/contact-details", response_model=Accepted)
def change_contact_details(body: ContactDetails, change: Change) -> dict[str, Any]:
    return change.run(
        Action.CHANGE_PATIENT,
        lambda version: ChangeContactDetails(
            change.actor, change.patient_id, body.email, body.phone, body.address, version
        ),
    )


@router.post("/{patient_id}/consents", response_model=Accepted)
def record_consent(body: ConsentRequest, change: Change) -> dict[str, Any]:
    return change.run(
        Action.CHANGE_PATIENT,
        lambda version: RecordConsent(change.actor, change.patient_id, body.purpose, version),
    )


@router.delete("/{patient_id}/consents/{purpose}", response_model=Accepted)
def withdraw_consent(purpose: ConsentPurpose, change: Change) -> dict[str, Any]:
    return change.run(
        Action.CHANGE_PATIENT,
        lambda version: WithdrawConsent(change.actor, change.patient_id, purpose, version),
    )


@router.delete("/{patient_id}", response_model=Accepted)
def erase_patient(
    change: Change, reason: ErasureReason = ErasureReason.SUBJECT_REQUEST
) -> dict[str, Any]:
    """The right to be forgotten: the person is erased, their account with their record (see
    the README, "Erasure"); history stays, unreadable. Needs a recent step-up when two-factor is
    on; a holder is erased once no beneficiary depends on them."""
    return change.run(
        Action.ERASE_PATIENT,
        lambda version: ErasePatient(change.actor, change.patient_id, reason, version),
        sensitive=True,
    )
