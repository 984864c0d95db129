"""Video rooms as their parties see them (``GET /v1/consultations/{id}/room``): the address,
mode, window and state in clear; the PINs (the links' secret) sealed with the patient's key in
storage and opened at query time, so an erased patient's links are gone. Computed from the
Room events alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.room import Room
from projections.base import Projection


@dataclass(frozen=True)
class RoomRow:
    """One room; the PINs are None once the patient is erased."""

    room_id: UUID
    consultation_id: UUID
    patient_id: UUID
    doctor_id: UUID
    address: str
    mode: str
    status: str
    opens: datetime
    closes: datetime
    version: int
    pins_rotated: int
    guest_pin: str | None
    host_pin: str | None


class RoomsWriter(Protocol):
    def opened(self, row: RoomRow) -> None: ...
    def moved(self, room_id: UUID, version: int, opens: datetime, closes: datetime) -> None: ...
    def status(self, room_id: UUID, version: int, status: str) -> None: ...
    def refused(self, room_id: UUID, version: int) -> None: ...
    def rotated(
        self, room_id: UUID, patient_id: UUID, version: int, guest_pin: str, host_pin: str
    ) -> None: ...


class Rooms(Protocol):
    """What routes ask of the view."""

    def of_consultation(self, consultation_id: UUID) -> RoomRow | None: ...


class RoomsProjection(Projection[RoomsWriter]):
    name = "rooms"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Room.Opened,
            Room.Moved,
            Room.Closed,
            Room.Ended,
            Room.PinRefused,
            Room.PinsRotated,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change the rooms' view."""

    @process_event.register
    def _(self, event: Room.Opened, tracking: Tracking) -> None:
        self.view.opened(
            RoomRow(
                room_id=event.originator_id,
                consultation_id=event.consultation_id,
                patient_id=event.patient_id,
                doctor_id=event.doctor_id,
                address=event.address,
                mode=str(event.mode),
                status="open",
                opens=event.opens,
                closes=event.closes,
                version=event.originator_version,
                pins_rotated=0,
                guest_pin=event.guest_pin,
                host_pin=event.host_pin,
            )
        )

    @process_event.register
    def _(self, event: Room.Moved, tracking: Tracking) -> None:
        self.view.moved(event.originator_id, event.originator_version, event.opens, event.closes)

    @process_event.register
    def _(self, event: Room.Closed, tracking: Tracking) -> None:
        self.view.status(event.originator_id, event.originator_version, "closed")

    @process_event.register
    def _(self, event: Room.Ended, tracking: Tracking) -> None:
        self.view.status(event.originator_id, event.originator_version, "ended")

    @process_event.register
    def _(self, event: Room.PinRefused, tracking: Tracking) -> None:
        self.view.refused(event.originator_id, event.originator_version)

    @process_event.register
    def _(self, event: Room.PinsRotated, tracking: Tracking) -> None:
        self.view.rotated(
            event.originator_id,
            event.patient_id,
            event.originator_version,
            event.guest_pin,
            event.host_pin,
        )
