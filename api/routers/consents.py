"""Digital consents (C4) and the recording rule (C8): org admins publish versioned consent
texts; the patient (their holder, a caregiver with the ``book`` scope, on the patient's behalf)
signs the current version, with its SHA-256, or withdraws it; the signature history is on the
patient's record (the compliance timeline). Whether a consultation may be recorded is answered
from the consents view and the consultation view: no aggregate is loaded."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints

from api.auth import (
    CurrentActor,
    authorize,
    authorize_consultation,
    authorize_organisation,
    authorize_patient,
    consultation_scope,
    patient_subject,
)
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import PurposeHeader, accepted, await_position, record_access
from api.schemas import Accepted, Body
from api.state import services_of
from commands import consents as cmd
from commands.results import NotFound
from domain.consent_text import ConsentKind, ConsentText
from projections.consents import recording_permission

router = APIRouter(tags=["consents"], responses=PROBLEM_RESPONSES)


class ConsentTextBody(Body):
    text: Annotated[str, StringConstraints(min_length=1, max_length=50_000)]


class SignatureBody(Body):
    organisation_id: UUID
    kind: ConsentKind
    version: int = Field(ge=1, le=100_000)


class WithdrawalBody(Body):
    organisation_id: UUID
    kind: ConsentKind


@router.post("/v1/organisations/{organisation_id}/consent-texts/{kind}", response_model=Accepted)
def publish_text(
    organisation_id: UUID,
    kind: ConsentKind,
    body: ConsentTextBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """A new version of the organisation's text of that kind; earlier versions stay as they
    were, and signatures of them stop being current."""
    authorize_organisation(request, actor, Action.MANAGE_ORGANISATION, organisation_id)
    saved = services_of(request).bus.handle(
        cmd.PublishConsentText(actor, organisation_id, kind, body.text)
    )
    return accepted(response, saved)


@router.get("/v1/organisations/{organisation_id}/consent-texts/{kind}")
def read_text(
    organisation_id: UUID, kind: ConsentKind, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """The current version, with its SHA-256 (of the text's UTF-8 bytes), to show and sign."""
    authorize(actor, Action.READ_CONSENT_TEXT)
    services = services_of(request)
    await_position(services, "consents", services.recorder.max_notification_id())
    text = services.consents.text(organisation_id, kind)
    if text is None:
        raise NotFound("Consent text", ConsentText.create_id(organisation_id, kind))
    return {
        "organisation_id": organisation_id,
        "kind": kind.value,
        "version": text.version,
        "sha256": text.sha256,
        "text": text.text,
        "published_at": text.published_at,
    }


@router.post("/v1/patients/{patient_id}/signed-consents", response_model=Accepted)
def sign(
    patient_id: UUID,
    body: SignatureBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Sign the current version (409 ``stale-consent-version`` for another one); the event
    records the version, its hash, the time and who signed (on the patient's behalf for a
    holder or caregiver)."""
    acting = authorize_patient(
        request, actor, Action.SIGN_CONSENT, patient_subject(request, patient_id)
    )
    saved = services_of(request).bus.handle(
        cmd.SignConsent(acting, patient_id, body.organisation_id, body.kind, body.version)
    )
    return accepted(response, saved)


@router.post("/v1/patients/{patient_id}/signed-consents/withdraw", response_model=Accepted)
def withdraw(
    patient_id: UUID,
    body: WithdrawalBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Withdraw a signed consent (409 ``consent-not-given`` if none is in force); it ends at
    once what depended on it (recording)."""
    acting = authorize_patient(
        request, actor, Action.SIGN_CONSENT, patient_subject(request, patient_id)
    )
    saved = services_of(request).bus.handle(
        cmd.WithdrawSignedConsent(acting, patient_id, body.organisation_id, body.kind)
    )
    return accepted(response, saved)


@router.get("/v1/patients/{patient_id}/signed-consents")
def in_force(
    patient_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> list[dict[str, Any]]:
    """The signatures in force (the history: the compliance timeline), for whoever may read
    the record."""
    actor = authorize_patient(
        request, actor, Action.READ_PATIENT, patient_subject(request, patient_id)
    )
    services = services_of(request)
    await_position(services, "consents", services.recorder.max_notification_id())
    signatures = services.consents.in_force(patient_id)
    record_access(services, actor, [patient_id], "patient.consents", purpose)
    return [
        {
            "organisation_id": s.organisation_id,
            "kind": s.kind,
            "version": s.version,
            "sha256": s.sha256,
            "signed_at": s.signed_at,
            "signed_by_role": s.signed_by_role,
            "on_behalf": s.on_behalf,
        }
        for s in signatures
    ]


@router.get("/v1/consultations/{consultation_id}/recording-permission")
def recording(
    consultation_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """Whether the consultation may be recorded now, and why not: the booking template must
    allow it (``recording: with-consent``) and the patient must have signed the organisation's
    current recording text and not withdrawn it. For the consultation's parties."""
    services = services_of(request)
    scope = consultation_scope(request, consultation_id)
    actor = authorize_consultation(request, actor, Action.READ_CONSULTATION, scope)
    head = services.recorder.max_notification_id()
    await_position(services, "consents", head)
    await_position(services, "consultation_view", head)
    consultation = services.consultations.get(consultation_id)
    if consultation is None:
        raise NotFound("Consultation", consultation_id)
    permission = recording_permission(
        consultation.options,
        consultation.organisation_id,
        [consultation.patient_id],
        services.consents,
    )
    record_access(services, actor, [consultation.patient_id], "consultation.recording", purpose)
    return {
        "consultation_id": consultation_id,
        "patient_id": consultation.patient_id,
        "allowed": permission.allowed,
        "reasons": permission.reasons,
        "lacking_consent": permission.lacking_consent,
    }
