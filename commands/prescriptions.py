"""Prescriptions after their issue (issued with the signed protocol, commands.protocols): a
pharmacy's machine client dispenses one by its code; the prescribing doctor cancels (with a
reason) or completes it. The pharmacy is checked on the write side, from its MachineClient."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from commands.ports import Ports, UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor
from domain.errors import InvalidValue
from domain.machine_client import ClientPurpose, MachineClient
from domain.prescription import (
    NotAPharmacy,
    Prescription,
    normalised_code,
    prescription_id_of,
)


@dataclass(frozen=True)
class DispensePrescription:
    """A pharmacy's machine client (the actor) records a fill of the prescription the code
    opens."""

    actor: Actor
    code: str


@dataclass(frozen=True)
class CancelPrescription:
    actor: Actor
    prescription_id: UUID
    reason: str


@dataclass(frozen=True)
class CompletePrescription:
    actor: Actor
    prescription_id: UUID


@dataclass(frozen=True)
class Dispensed(Saved):
    """The fill recorded (1 for the first), of how many, and the prescription's status after."""

    fill: int
    fills_allowed: int
    status: str


def dispense_prescription(cmd: DispensePrescription, uow: UnitOfWork, ports: Ports) -> Dispensed:
    """``NotAPharmacy`` for any other actor; ``NotFound`` for a code that opens nothing (a
    malformed one too: the same answer as a wrong code)."""
    client = uow.find(MachineClient, cmd.actor.actor_id)
    if client is None or client.revoked or client.purpose is not ClientPurpose.PHARMACY:
        raise NotAPharmacy("only a pharmacy's machine client dispenses")
    prescription = uow.get(Prescription, _opened(cmd.code))
    if prescription.code != normalised_code(cmd.code):  # erased: the code opens nothing
        raise NotFound("Prescription", prescription.id)
    prescription.dispense(at=ports.clock(), by=cmd.actor)
    saved = uow.save(prescription)
    return Dispensed(
        saved.aggregate_id,
        saved.version,
        saved.position,
        prescription.fills,
        prescription.fills_allowed,
        prescription.status.value,
    )


def cancel_prescription(cmd: CancelPrescription, uow: UnitOfWork, ports: Ports) -> Saved:
    prescription = uow.get(Prescription, cmd.prescription_id)
    prescription.cancel(cmd.reason, at=ports.clock(), by=cmd.actor)
    return uow.save(prescription)


def complete_prescription(cmd: CompletePrescription, uow: UnitOfWork, ports: Ports) -> Saved:
    prescription = uow.get(Prescription, cmd.prescription_id)
    prescription.complete(at=ports.clock(), by=cmd.actor)
    return uow.save(prescription)


def _opened(code: str) -> UUID:
    try:
        return prescription_id_of(code)
    except InvalidValue:
        raise NotFound("Prescription", UUID(int=0)) from None
