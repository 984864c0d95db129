"""Video rooms: opened with a video consultation's booking (in its transaction), moved, closed
and ended with it (in theirs, see commands.booking and commands.consultations); joined with a
PIN while open, where wrong PINs are counted and rotate the PINs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.ports import Ports, RoomRegistry, UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor
from domain.consultation import Consultation, Kind
from domain.room import Mode, PinKind, Room


@dataclass(frozen=True)
class JoinRoom:
    """A party presents a PIN at the room's address (authorized for its consultation)."""

    actor: Actor
    room_id: UUID
    pin: str


@dataclass(frozen=True)
class CheckRoomOpen:
    """Is the room open now (a TURN refresh asks)? Changes nothing."""

    actor: Actor
    room_id: UUID


@dataclass(frozen=True)
class RoomEntry(Saved):
    """What a PIN opened: ``pin`` None when it was wrong (``rotated``: and the PINs rotated)."""

    pin: PinKind | None
    rotated: bool
    consultation_id: UUID
    address: str
    mode: Mode
    opens: datetime
    closes: datetime


def open_room(
    uow: UnitOfWork,
    rooms: RoomRegistry,
    consultation: Consultation,
    now: datetime,
    by: Actor,
) -> list[Room]:
    """A video consultation's room, for the booking command to save with it (none for other
    kinds). Its identifiers are claimed in the same transaction."""
    if consultation.kind is not Kind.VIDEO or consultation.asynchronous:
        return []
    room = Room.open_for(
        consultation_id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        organisation_id=consultation.organisation_id,
        start=consultation.slot.start,
        end=consultation.slot.end,
        options=consultation.options,
        by=by,
        opens_at_once=now if consultation.urgent else None,
    )
    uow.attach(
        rooms.claim(room.id, consultation.id, room.address, room.guest_pin, room.host_pin, now)
    )
    return [room]


def room_of(uow: UnitOfWork, consultation_id: UUID) -> Room | None:
    return uow.find(Room, Room.create_id(consultation_id))


def join_room(cmd: JoinRoom, uow: UnitOfWork, ports: Ports) -> RoomEntry:
    room = uow.get(Room, cmd.room_id)
    now = ports.clock()
    pins = (room.guest_pin, room.host_pin)
    opened = room.enter(cmd.pin, now, by=cmd.actor)
    rotated = (room.guest_pin, room.host_pin) != pins
    if rotated:
        uow.attach(ports.rooms.issue(room.address, room.guest_pin, room.host_pin, now))
    saved = uow.save(room)
    return _entry(saved, room, opened, rotated)


def check_room_open(cmd: CheckRoomOpen, uow: UnitOfWork, ports: Ports) -> RoomEntry:
    room = uow.find(Room, cmd.room_id)
    if room is None:
        raise NotFound("Room", cmd.room_id)
    room.require_open(ports.clock())
    return _entry(Saved(room.id, room.version, None), room, None, False)


def _entry(saved: Saved, room: Room, pin: PinKind | None, rotated: bool) -> RoomEntry:
    return RoomEntry(
        aggregate_id=saved.aggregate_id,
        version=saved.version,
        position=saved.position,
        pin=pin,
        rotated=rotated,
        consultation_id=room.consultation_id,
        address=room.address,
        mode=room.mode,
        opens=room.opens,
        closes=room.closes,
    )
