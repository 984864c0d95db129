"""Beneficiaries: a holder (a patient account) adds records of their own, with their own data
key, managed by the holder (A3). How such a record (or one a practice made) comes to have an
account of its own: ``commands.record_invitations``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from domain.actor import Actor, Role
from domain.errors import InvalidValue
from domain.patient import Link, Patient


@dataclass(frozen=True)
class AddBeneficiary:
    actor: Actor
    given_name: str
    family_name: str
    birth_date: date | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    notes: str | None = None


def add_beneficiary(cmd: AddBeneficiary, uow: UnitOfWork, ports: Ports) -> Saved:
    """A record of the beneficiary's own (own key), held by the patient who adds it."""
    if cmd.actor.role is not Role.PATIENT:
        raise InvalidValue("beneficiaries are added by a patient account (their holder)")
    patient = Patient.register(
        by=cmd.actor,
        given_name=cmd.given_name,
        family_name=cmd.family_name,
        birth_date=cmd.birth_date,
        email=cmd.email,
        phone=cmd.phone,
        address=cmd.address,
        notes=cmd.notes,
        organisation_id=None,
        self_registered=False,
    )
    patient.become_beneficiary_of(holder_id=cmd.actor.actor_id, by=cmd.actor.acting_for(patient.id))
    uow.add_subject(patient.id)
    uow.attach(ports.patient_registrations.record(patient.id, patient.organisation_id))
    uow.attach(ports.ties.link(patient.id, cmd.actor.actor_id, Link.HOLDER))
    return uow.save(patient)
