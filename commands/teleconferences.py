"""Teleconferences: the organiser schedules one and invites people, each participant answers
their invitation, the organiser starts, ends or cancels it. Times come from the ports' clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from domain.actor import Actor
from domain.errors import InvalidValue
from domain.teleconference import ParticipantKind, Teleconference


@dataclass(frozen=True)
class ScheduleTeleconference:
    """``participants``: staff by account id, patients by record id (the route checks who may
    be invited)."""

    actor: Actor
    start: datetime
    end: datetime
    participants: tuple[tuple[UUID, ParticipantKind], ...] = ()


@dataclass(frozen=True)
class InviteParticipant:
    actor: Actor
    teleconference_id: UUID
    participant_id: UUID
    kind: ParticipantKind


@dataclass(frozen=True)
class RemoveParticipant:
    actor: Actor
    teleconference_id: UUID
    participant_id: UUID


@dataclass(frozen=True)
class RespondToInvitation:
    actor: Actor
    teleconference_id: UUID
    participant_id: UUID
    accept: bool


@dataclass(frozen=True)
class StartTeleconference:
    actor: Actor
    teleconference_id: UUID


@dataclass(frozen=True)
class EndTeleconference:
    actor: Actor
    teleconference_id: UUID


@dataclass(frozen=True)
class CancelTeleconference:
    actor: Actor
    teleconference_id: UUID


def schedule_teleconference(cmd: ScheduleTeleconference, uow: UnitOfWork) -> Saved:
    if cmd.actor.organisation_id is None:
        raise InvalidValue("a teleconference is organised for an organisation")
    conference = Teleconference.schedule(
        organiser_id=cmd.actor.actor_id,
        organisation_id=cmd.actor.organisation_id,
        start=cmd.start,
        end=cmd.end,
        participants=dict(cmd.participants),
        by=cmd.actor,
    )
    return uow.save(conference)


def invite_participant(cmd: InviteParticipant, uow: UnitOfWork) -> Saved:
    conference = uow.get(Teleconference, cmd.teleconference_id)
    conference.invite(cmd.participant_id, cmd.kind, by=cmd.actor)
    return uow.save(conference)


def remove_participant(cmd: RemoveParticipant, uow: UnitOfWork) -> Saved:
    conference = uow.get(Teleconference, cmd.teleconference_id)
    conference.remove(cmd.participant_id, by=cmd.actor)
    return uow.save(conference)


def respond_to_invitation(cmd: RespondToInvitation, uow: UnitOfWork) -> Saved:
    conference = uow.get(Teleconference, cmd.teleconference_id)
    conference.respond(cmd.participant_id, cmd.accept, by=cmd.actor)
    return uow.save(conference)


def start_teleconference(cmd: StartTeleconference, uow: UnitOfWork, ports: Ports) -> Saved:
    conference = uow.get(Teleconference, cmd.teleconference_id)
    conference.begin(ports.clock(), by=cmd.actor)
    return uow.save(conference)


def end_teleconference(cmd: EndTeleconference, uow: UnitOfWork, ports: Ports) -> Saved:
    conference = uow.get(Teleconference, cmd.teleconference_id)
    conference.finish(ports.clock(), by=cmd.actor)
    return uow.save(conference)


def cancel_teleconference(cmd: CancelTeleconference, uow: UnitOfWork, ports: Ports) -> Saved:
    conference = uow.get(Teleconference, cmd.teleconference_id)
    conference.cancel(ports.clock(), by=cmd.actor)
    return uow.save(conference)
