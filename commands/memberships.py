"""Staff memberships: leaving an organisation, deactivation, and assistants assigned to the
doctors they act for. Ties (adapters.relations) change in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.accounts import release
from commands.ports import Ports, UnitOfWork
from commands.results import NotFound, Saved
from commands.signing_keys import retire_signing_key
from domain.account import Account
from domain.actor import Actor
from domain.errors import DomainError
from domain.organisation import Organisation


class WorksElsewhere(DomainError):
    """The account works for an organisation outside the one deactivating it."""


@dataclass(frozen=True)
class LeaveOrganisation:
    """End a membership; an account that works nowhere any more is deactivated."""

    actor: Actor
    account_id: UUID
    organisation_id: UUID


@dataclass(frozen=True)
class Membership(Saved):
    organisations: tuple[UUID, ...]
    active: bool


def leave_organisation(cmd: LeaveOrganisation, uow: UnitOfWork, ports: Ports) -> Membership:
    account = uow.get(Account, cmd.account_id)
    if cmd.organisation_id not in account.organisations:
        raise NotFound("Account", cmd.account_id)
    rosters = release(uow, account, [cmd.organisation_id], cmd.actor)
    unassigned = account.leave(cmd.organisation_id, by=cmd.actor)
    uow.attach(ports.ties.leave(account.id, cmd.organisation_id))
    for doctor_id in unassigned:
        uow.attach(ports.ties.unassign(account.id, doctor_id))
    retired: list[Aggregate] = []
    if not account.organisations:
        account.deactivate(by=cmd.actor)
        retired = retire_signing_key(uow, ports, account.id, cmd.actor)
    saved = uow.save(account, *rosters, *retired)
    return Membership(
        saved.aggregate_id,
        saved.version,
        saved.position,
        tuple(account.organisations),
        account.active,
    )


@dataclass(frozen=True)
class DeactivateAccount:
    """Only for an account that works nowhere outside ``organisation_id``'s tree."""

    actor: Actor
    account_id: UUID
    organisation_id: UUID


def deactivate_account(cmd: DeactivateAccount, uow: UnitOfWork, ports: Ports) -> Saved:
    account = uow.get(Account, cmd.account_id)
    inside = [cmd.organisation_id in _chain(uow, org) for org in account.organisations]
    if not any(inside):
        raise NotFound("Account", cmd.account_id)
    if not all(inside):
        raise WorksElsewhere(str(cmd.account_id))
    rosters = release(uow, account, account.organisations, cmd.actor)
    account.deactivate(by=cmd.actor)
    return uow.save(account, *rosters, *retire_signing_key(uow, ports, account.id, cmd.actor))


def _chain(uow: UnitOfWork, organisation_id: UUID) -> list[UUID]:
    """The organisation and those above it, nearest first (at most 20 levels)."""
    chain: list[UUID] = []
    current: UUID | None = organisation_id
    while current is not None and len(chain) < 20 and current not in chain:
        chain.append(current)
        found = uow.find(Organisation, current)
        current = found.parent_id if found else None
    return chain


@dataclass(frozen=True)
class AssignAssistant:
    actor: Actor
    assistant_id: UUID
    doctor_id: UUID
    organisation_id: UUID


def assign_assistant(cmd: AssignAssistant, uow: UnitOfWork, ports: Ports) -> Saved:
    account = uow.get(Account, cmd.assistant_id)
    account.assign_to(cmd.doctor_id, cmd.organisation_id, by=cmd.actor)
    uow.attach(ports.ties.assign(cmd.assistant_id, cmd.doctor_id, cmd.organisation_id))
    return uow.save(account)


@dataclass(frozen=True)
class UnassignAssistant:
    actor: Actor
    assistant_id: UUID
    doctor_id: UUID


@dataclass(frozen=True)
class Unassigned(Saved):
    removed: bool


def unassign_assistant(cmd: UnassignAssistant, uow: UnitOfWork, ports: Ports) -> Unassigned:
    account = uow.get(Account, cmd.assistant_id)
    if not account.unassign_from(cmd.doctor_id, by=cmd.actor):
        return Unassigned(account.id, account.version, None, removed=False)
    uow.attach(ports.ties.unassign(cmd.assistant_id, cmd.doctor_id))
    saved = uow.save(account)
    return Unassigned(saved.aggregate_id, saved.version, saved.position, removed=True)
