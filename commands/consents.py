"""Digital consents (C4): organisations publish versioned texts; a patient (or a holder or a
caregiver on the patient's behalf: the actor records who) signs the current version, with its
hash, and may withdraw it. Signatures live on the patient's record, so they are part of the
compliance timeline."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from commands.ports import UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor
from domain.consent_text import ConsentKind, ConsentText
from domain.patient import Patient


@dataclass(frozen=True)
class PublishConsentText:
    actor: Actor
    organisation_id: UUID
    kind: ConsentKind
    text: str


@dataclass(frozen=True)
class SignConsent:
    actor: Actor
    patient_id: UUID
    organisation_id: UUID
    kind: ConsentKind
    version: int


@dataclass(frozen=True)
class WithdrawSignedConsent:
    actor: Actor
    patient_id: UUID
    organisation_id: UUID
    kind: ConsentKind


def publish_consent_text(cmd: PublishConsentText, uow: UnitOfWork) -> Saved:
    text_id = ConsentText.create_id(cmd.organisation_id, cmd.kind)
    text = uow.find(ConsentText, text_id) or ConsentText(
        organisation_id=cmd.organisation_id, kind=cmd.kind, by=cmd.actor
    )
    text.publish(cmd.text, by=cmd.actor)
    return uow.save(text)


def sign_consent(cmd: SignConsent, uow: UnitOfWork) -> Saved:
    text_id = ConsentText.create_id(cmd.organisation_id, cmd.kind)
    text = uow.find(ConsentText, text_id)
    if text is None:
        raise NotFound("Consent text", text_id)
    patient = uow.get(Patient, cmd.patient_id)
    patient.sign_consent(
        cmd.organisation_id, cmd.kind.value, cmd.version, text.current(cmd.version), by=cmd.actor
    )
    return uow.save(patient)


def withdraw_signed_consent(cmd: WithdrawSignedConsent, uow: UnitOfWork) -> Saved:
    patient = uow.get(Patient, cmd.patient_id)
    patient.withdraw_signed_consent(cmd.organisation_id, cmd.kind.value, by=cmd.actor)
    return uow.save(patient)
