"""Erasure erases the person (F5): their record, their account and whatever points at them, in
one transaction. Personal fields go with the data keys (crypto-shredding); the support tables
forget the person in the same commit; future consultations are cancelled and their time freed.

- The record and, when it has one, its account (email, password hash, TOTP secret: all under
  the two keys destroyed here). The account's address opens nothing any more, so it may
  register again later, as somebody new.
- Sessions end, mail not sent yet is dropped, ties end, delegation grants the person gave or
  held are revoked (as events on each grant).
- A holder is erased only once no beneficiary depends on them (``HoldsBeneficiaries``).
- A practitioner's future consultations are cancelled and their assistants unassigned; what
  they did stays in the log under their (now pseudonymous) id, and the hash chains verify. Their
  signing key is retired (its public half stays published, so their signatures still verify) and
  its private half destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.accounts import require_step_up
from commands.booking import cancel_and_release
from commands.patients import ErasePatient
from commands.ports import Grants, Ports, Ties, UnitOfWork
from commands.results import Saved, StaleVersion
from commands.signing_keys import retire_signing_key
from domain.account import Account
from domain.actor import Actor, Role
from domain.consultation import Consultation
from domain.delegation import Grant
from domain.patient import ErasureReason, Patient, record_of

#: the cancellation reasons recorded on consultations an erasure cancels
PATIENT_ERASED, PRACTITIONER_ERASED = "patient-erased", "practitioner-erased"


@dataclass(frozen=True)
class EraseAccount:
    """Erase the person who signs in with the account, with their own record if they have one
    (``DELETE /v1/accounts/me``): a practitioner, or a patient."""

    actor: Actor
    account_id: UUID
    stepped_up: bool = False  # a code confirmed recently (needed when two-factor is on)


def erase_patient(cmd: ErasePatient, uow: UnitOfWork, ports: Ports) -> Saved:
    patient = uow.get(Patient, cmd.patient_id)
    if cmd.expected_version is not None and patient.version != cmd.expected_version:
        raise StaleVersion(cmd.expected_version, patient.version)
    account = uow.find(Account, patient.account_id) if patient.account_id else None
    actor = cmd.actor.acting_for(patient.id)
    return _erase(uow, ports, actor, patient, account, cmd.reason)


def erase_account(cmd: EraseAccount, uow: UnitOfWork, ports: Ports) -> Saved:
    account = uow.get(Account, cmd.account_id)
    require_step_up(account, cmd.stepped_up)
    record_id = ports.ties.own_record(account.id) or record_of(account.id)
    patient = uow.find(Patient, record_id) if account.role is Role.PATIENT else None
    if patient is not None and patient.erased:
        patient = None
    return _erase(uow, ports, cmd.actor, patient, account, ErasureReason.SUBJECT_REQUEST)


def _erase(
    uow: UnitOfWork,
    ports: Ports,
    actor: Actor,
    patient: Patient | None,
    account: Account | None,
    reason: ErasureReason,
) -> Saved:
    changed: list[Aggregate] = []
    if patient is not None:
        patient.erase(reason, by=actor)
        changed.append(patient)
    if account is not None:
        account.erase(ports.ties.held_by(account.id), by=actor)
        changed.append(account)
        uow.attach(ports.sessions.end_all(account.id))
        uow.attach(ports.emails.release(account.id))
    subjects = [a.id for a in changed]
    if patient is not None:
        found = ports.appointments.consultations_of(patient.id)
        changed += _cancel(uow, found, PATIENT_ERASED, actor)
    if account is not None and account.role is Role.DOCTOR:
        found = ports.appointments.consultations_with(account.id)
        changed += _cancel(uow, found, PRACTITIONER_ERASED, actor)
        changed += _unassign_assistants(uow, ports.ties, account.id, actor)
    if account is not None and account.role is not Role.PATIENT:
        changed += retire_signing_key(uow, ports, account.id, actor)
    changed += _revoke_grants(uow, subjects, ports.grants, actor)
    for subject_id in subjects:
        uow.erase_subject(subject_id)
        uow.attach(ports.mail.discard_unsent(subject_id))
    uow.attach(ports.ties.end_all(subjects))
    return uow.save(*changed)


def _cancel(
    uow: UnitOfWork, consultation_ids: list[UUID], reason: str, actor: Actor
) -> list[Aggregate]:
    cancelled: list[Aggregate] = []
    now = datetime.now(UTC)
    for consultation_id in consultation_ids:
        consultation = uow.get(Consultation, consultation_id)
        if consultation.open and consultation.slot.end > now:  # the future ones
            cancelled += cancel_and_release(uow, consultation, reason, actor)
    return list({id(a): a for a in cancelled}.values())  # a doctor's day once


def _unassign_assistants(
    uow: UnitOfWork, ties: Ties, doctor_id: UUID, actor: Actor
) -> list[Aggregate]:
    assistants = [uow.get(Account, a) for a, _ in ties.assistants_of(doctor_id)]
    return [a for a in assistants if a.unassign_from(doctor_id, by=actor)]


def _revoke_grants(
    uow: UnitOfWork, party_ids: list[UUID], grants: Grants, actor: Actor
) -> list[Aggregate]:
    revoked: list[Aggregate] = []
    for grant_id in grants.in_force_for(party_ids):
        grant = uow.get(Grant, grant_id)
        if not grant.revoked:
            grant.revoke(by=actor)
            revoked.append(grant)
        uow.attach(grants.revoke(grant_id))
    return revoked
