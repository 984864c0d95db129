"""Patient commands and their handlers: load, act, save."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from commands.ports import PatientRegistrationsIndex, UnitOfWork
from commands.results import Saved, StaleVersion
from domain.actor import Actor, Role
from domain.patient import ConsentPurpose, ErasureReason, Patient, record_of


@dataclass(frozen=True)
class RegisterPatient:
    actor: Actor
    given_name: str
    family_name: str
    birth_date: date | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class ChangeContactDetails:
    actor: Actor
    patient_id: UUID
    email: str | None
    phone: str | None
    address: str | None
    expected_version: int | None = None


@dataclass(frozen=True)
class RecordConsent:
    actor: Actor
    patient_id: UUID
    purpose: ConsentPurpose
    expected_version: int | None = None


@dataclass(frozen=True)
class WithdrawConsent:
    actor: Actor
    patient_id: UUID
    purpose: ConsentPurpose
    expected_version: int | None = None


@dataclass(frozen=True)
class ErasePatient:
    """Erase the person behind the record (handled in ``commands.erasure``)."""

    actor: Actor
    patient_id: UUID
    reason: ErasureReason = ErasureReason.SUBJECT_REQUEST
    expected_version: int | None = None


def register_patient(
    cmd: RegisterPatient, uow: UnitOfWork, registrations: PatientRegistrationsIndex
) -> Saved:
    self_registration = cmd.actor.role is Role.PATIENT
    patient = Patient.register(
        by=cmd.actor,
        patient_id=record_of(cmd.actor.actor_id) if self_registration else None,
        given_name=cmd.given_name,
        family_name=cmd.family_name,
        birth_date=cmd.birth_date,
        email=cmd.email,
        phone=cmd.phone,
        address=cmd.address,
        notes=cmd.notes,
        organisation_id=cmd.actor.organisation_id,
        self_registered=self_registration,
    )
    uow.add_subject(patient.id)
    uow.attach(registrations.record(patient.id, patient.organisation_id))
    return uow.save(patient)


def change_contact_details(cmd: ChangeContactDetails, uow: UnitOfWork) -> Saved:
    patient = _load(uow, cmd.patient_id, cmd.expected_version)
    patient.change_contact_details(
        email=cmd.email, phone=cmd.phone, address=cmd.address, by=cmd.actor.acting_for(patient.id)
    )
    return uow.save(patient)


def record_consent(cmd: RecordConsent, uow: UnitOfWork) -> Saved:
    patient = _load(uow, cmd.patient_id, cmd.expected_version)
    patient.record_consent(cmd.purpose, by=cmd.actor.acting_for(patient.id))
    return uow.save(patient)


def withdraw_consent(cmd: WithdrawConsent, uow: UnitOfWork) -> Saved:
    patient = _load(uow, cmd.patient_id, cmd.expected_version)
    patient.withdraw_consent(cmd.purpose, by=cmd.actor.acting_for(patient.id))
    return uow.save(patient)


def _load(uow: UnitOfWork, patient_id: UUID, expected_version: int | None) -> Patient:
    patient = uow.get(Patient, patient_id)
    if expected_version is not None and patient.version != expected_version:
        raise StaleVersion(expected_version, patient.version)
    return patient
