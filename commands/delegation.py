"""Delegation commands: give and revoke a grant to act for a patient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from commands.ports import UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor
from domain.delegation import Grant


class GrantIndexPort(Protocol):
    def record(self, grant: Grant) -> object: ...
    def revoke(self, grant_id: UUID) -> object: ...


@dataclass(frozen=True)
class GiveGrant:
    actor: Actor
    patient_id: UUID
    grantee_id: UUID
    scopes: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True)
class RevokeGrant:
    actor: Actor
    patient_id: UUID
    grant_id: UUID


def give_grant(cmd: GiveGrant, uow: UnitOfWork, grants: GrantIndexPort) -> Saved:
    grant = Grant.give(
        cmd.patient_id,
        cmd.grantee_id,
        list(cmd.scopes),
        cmd.starts_at,
        cmd.ends_at,
        by=cmd.actor.acting_for(cmd.patient_id),
    )
    uow.attach(grants.record(grant))
    return uow.save(grant)


def revoke_grant(cmd: RevokeGrant, uow: UnitOfWork, grants: GrantIndexPort) -> Saved:
    grant = uow.get(Grant, cmd.grant_id)
    if grant.patient_id != cmd.patient_id:
        raise NotFound("Grant", cmd.grant_id)  # no such grant for that patient
    grant.revoke(by=cmd.actor.acting_for(grant.patient_id))
    uow.attach(grants.revoke(grant.id))
    return uow.save(grant)
