"""Retiring a practitioner's signing key when they stop practising (deactivation, erasure).

The retirement is an event of ``PractitionerKeys`` (the key's validity ends now, its public
half stays published, so everything it signed stays verifiable) and the signer destroys the
private half in the same transaction. A later signature by the same practitioner makes a new
key (``commands.protocols``); nobody signs with the retired one."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.ports import Ports, UnitOfWork
from domain.actor import Actor
from domain.signing_keys import PractitionerKeys


def retire_signing_key(
    uow: UnitOfWork, ports: Ports, practitioner_id: UUID, actor: Actor
) -> list[Aggregate]:
    """The aggregates to save with the deactivation or erasure (none if nothing to retire)."""
    keys = uow.find(PractitionerKeys, PractitionerKeys.create_id(practitioner_id))
    if keys is None:
        return []
    retired = keys.retire(ports.clock(), by=actor)
    if retired is None:
        return []
    uow.attach(ports.signer.destroy(practitioner_id, retired.key_id))
    return [keys]
