"""Erasure erases the person (F5): their record, their account and whatever points at them, in
one transaction. Personal fields go with the data keys (crypto-shredding); the support tables
forget the person in the same commit; future consultations are cancelled and their time freed.

- The record and, when it has one, its account (email, password hash, TOTP secret: all under
  the two keys destroyed here). The account's address opens nothing any more, so it may
  register again later, as somebody new.
- Sessions end, mail not sent yet is dropped, ties end, delegation grants the person gave or
  held are revoked (as events on each grant).
- A holder is erased only once no beneficiary depends on them (``HoldsBeneficiaries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.booking import cancel_and_release
from commands.patients import ErasePatient
from commands.ports import UnitOfWork
from commands.results import Saved, StaleVersion
from domain.account import Account
from domain.actor import Actor
from domain.booking import Consultation
from domain.delegation import Grant
from domain.patient import Patient

#: the cancellation reason recorded on consultations an erasure cancels
ERASED_REASON = "patient-erased"


class Appointments(Protocol):
    def open_consultations_of(self, patient_id: UUID) -> list[UUID]:
        """Booked or confirmed consultations of the patient that have not ended yet."""
        ...


class Sessions(Protocol):
    def end_all(self, account_id: UUID) -> object: ...


class MailQueue(Protocol):
    def discard_unsent(self, subject_id: UUID) -> object: ...


class GrantsInForce(Protocol):
    def in_force_for(self, party_ids: list[UUID]) -> list[UUID]: ...
    def revoke(self, grant_id: UUID) -> object: ...


class PersonTies(Protocol):
    def held_by(self, holder_id: UUID) -> list[UUID]: ...
    def end_all(self, party_ids: list[UUID]) -> object: ...


class AddressBook(Protocol):
    def release(self, account_id: UUID) -> object: ...


@dataclass(frozen=True)
class ErasurePorts:
    """The support tables an erasure reaches, each through its own adapter's row writers."""

    appointments: Appointments
    sessions: Sessions
    mail: MailQueue
    grants: GrantsInForce
    ties: PersonTies
    addresses: AddressBook


def erase_patient(cmd: ErasePatient, uow: UnitOfWork, ports: ErasurePorts) -> Saved:
    patient = uow.get(Patient, cmd.patient_id)
    if cmd.expected_version is not None and patient.version != cmd.expected_version:
        raise StaleVersion(cmd.expected_version, patient.version)
    actor = cmd.actor.acting_for(patient.id)
    account = uow.find(Account, patient.account_id) if patient.account_id else None
    patient.erase(cmd.reason, by=actor)
    changed: list[Aggregate] = [patient]
    if account is not None:
        account.erase(ports.ties.held_by(account.id), by=actor)
        changed.append(account)
        uow.attach(ports.sessions.end_all(account.id))
        uow.attach(ports.addresses.release(account.id))
    subjects = [a.id for a in changed]
    changed += _cancel_future_consultations(uow, patient.id, ports.appointments, actor)
    changed += _revoke_grants(uow, subjects, ports.grants, actor)
    for subject_id in subjects:
        uow.erase_subject(subject_id)
        uow.attach(ports.mail.discard_unsent(subject_id))
    uow.attach(ports.ties.end_all(subjects))
    return uow.save(*changed)


def _cancel_future_consultations(
    uow: UnitOfWork, patient_id: UUID, appointments: Appointments, actor: Actor
) -> list[Aggregate]:
    cancelled: list[Aggregate] = []
    for consultation_id in appointments.open_consultations_of(patient_id):
        consultation = uow.get(Consultation, consultation_id)
        if consultation.open and consultation.patient_id == patient_id:
            cancelled += cancel_and_release(uow, consultation, ERASED_REASON, actor)
    return list({id(a): a for a in cancelled}.values())  # a doctor's day once


def _revoke_grants(
    uow: UnitOfWork, party_ids: list[UUID], grants: GrantsInForce, actor: Actor
) -> list[Aggregate]:
    revoked: list[Aggregate] = []
    for grant_id in grants.in_force_for(party_ids):
        grant = uow.get(Grant, grant_id)
        if not grant.revoked:
            grant.revoke(by=actor)
            revoked.append(grant)
        uow.attach(grants.revoke(grant_id))
    return revoked
