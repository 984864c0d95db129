"""Organisation commands: found (or a sub-organisation), settings, booking templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from commands.ports import OrganisationParentsIndex, UnitOfWork
from commands.results import Saved
from domain.actor import Actor
from domain.organisation import Organisation


@dataclass(frozen=True)
class FoundOrganisation:
    actor: Actor
    organisation_id: UUID
    name: str
    parent_id: UUID | None


@dataclass(frozen=True)
class ChangeSettings:
    actor: Actor
    organisation_id: UUID
    settings: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SetBookingTemplate:
    actor: Actor
    organisation_id: UUID
    type_code: str
    options: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RemoveBookingTemplate:
    actor: Actor
    organisation_id: UUID
    type_code: str


def found_organisation(
    cmd: FoundOrganisation, uow: UnitOfWork, parents: OrganisationParentsIndex
) -> Saved:
    existing = uow.find(Organisation, cmd.organisation_id)
    if existing is not None:  # founding is idempotent: the record is there already
        return uow.save(existing)
    uow.attach(parents.record(cmd.organisation_id, cmd.parent_id))
    return uow.save(Organisation.found(cmd.organisation_id, cmd.name, cmd.parent_id, by=cmd.actor))


def change_settings(cmd: ChangeSettings, uow: UnitOfWork) -> Saved:
    organisation = uow.get(Organisation, cmd.organisation_id)
    organisation.change_settings(settings=dict(cmd.settings), by=cmd.actor)
    return uow.save(organisation)


def set_booking_template(cmd: SetBookingTemplate, uow: UnitOfWork) -> Saved:
    organisation = uow.get(Organisation, cmd.organisation_id)
    organisation.set_template(cmd.type_code, dict(cmd.options), by=cmd.actor)
    return uow.save(organisation)


def remove_booking_template(cmd: RemoveBookingTemplate, uow: UnitOfWork) -> Saved:
    organisation = uow.get(Organisation, cmd.organisation_id)
    organisation.remove_template(cmd.type_code, by=cmd.actor)
    return uow.save(organisation)
