"""A consultation's video room (BRIEF D1, D2, F6): an address and a guest and a host PIN from
the CSPRNG, open only in its window (a lead-in before the start to a grace after the end).
It follows its consultation: rescheduling moves the window, cancelling closes the room,
completing ends it. Wrong PINs are counted; after ``MAX_WRONG_PINS`` the room's PINs rotate.
The PINs are secrets of the patient's appointment: encrypted with the patient's key. That a
combination of address and PINs is never issued twice is the unique index's job (adapters.rooms),
written in the same transaction as these events; not luck."""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError
from domain.personal import Erased, RecordedCreation, RecordedEvent

#: defaults the booking template (the consultation's options) may override
LEAD_IN_MINUTES = 10
GRACE_MINUTES = 15
#: wrong PINs (since the last rotation) after which the PINs rotate
MAX_WRONG_PINS = 5
PIN_DIGITS = 8
_ADDRESS_BYTES = 15  # 120 bits: 24 lowercase base32 characters


class Mode(StrEnum):
    P2P = "p2p"  # two peers, relayed through TURN where needed
    SFU = "sfu"  # a selective forwarding unit (LiveKit)


class RoomStatus(StrEnum):
    OPEN = "open"  # open within its window
    CLOSED = "closed"  # the consultation was cancelled
    ENDED = "ended"  # the consultation was completed


class PinKind(StrEnum):
    HOST = "host"
    GUEST = "guest"


class RoomClosed(DomainError):
    """Joining outside the room's window, or a room closed or ended (answered 409 with the
    window)."""

    def __init__(self, status: str, opens: datetime, closes: datetime, detail: str) -> None:
        super().__init__(detail)
        self.status, self.opens, self.closes = status, opens, closes


def new_address() -> str:
    return base64.b32encode(secrets.token_bytes(_ADDRESS_BYTES)).decode().lower()


def new_pins() -> tuple[str, str]:
    """A guest and a host PIN from the CSPRNG, never equal."""
    while True:
        guest, host = (f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}" for _ in "gh")
        if guest != host:
            return guest, host


def minutes_option(options: dict[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    good = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 240
    return value if good else default


class Room(Aggregate):
    """One consultation's room, from booking until its window closes."""

    class Opened(RecordedCreation):
        personal_fields = ("guest_pin", "host_pin")
        subject_field = "patient_id"
        consultation_id: UUID
        patient_id: UUID
        doctor_id: UUID
        organisation_id: UUID | None
        mode: Mode
        address: str
        guest_pin: str
        host_pin: str
        opens: datetime
        closes: datetime
        lead_in_minutes: int
        grace_minutes: int

    class Moved(RecordedEvent):
        """The consultation was rescheduled: the window follows it."""

        opens: datetime
        closes: datetime

    class Closed(RecordedEvent):
        reason: str

    class Ended(RecordedEvent):
        at: datetime

    class PinRefused(RecordedEvent):
        """A wrong PIN (counted since the last rotation)."""

        at: datetime
        wrong: int

    class PinsRotated(RecordedEvent):
        """Too many wrong PINs: new ones, under the same address; the old links stop working."""

        personal_fields = ("guest_pin", "host_pin")
        subject_field = "patient_id"
        patient_id: UUID
        guest_pin: str
        host_pin: str
        at: datetime
        after_wrong: int

    @staticmethod
    def create_id(consultation_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/rooms/{consultation_id}")

    @event(Opened)
    def __init__(
        self,
        *,
        consultation_id: UUID,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
        mode: Mode,
        address: str,
        guest_pin: str,
        host_pin: str,
        opens: datetime,
        closes: datetime,
        lead_in_minutes: int,
        grace_minutes: int,
        by: Actor,
    ) -> None:
        self.consultation_id, self.patient_id = consultation_id, patient_id
        self.doctor_id, self.organisation_id = doctor_id, organisation_id
        self.mode, self.address = Mode(mode), address
        self.guest_pin, self.host_pin = guest_pin, host_pin
        self.opens, self.closes = opens, closes
        self.lead_in, self.grace = (
            timedelta(minutes=lead_in_minutes),
            timedelta(minutes=grace_minutes),
        )
        self.status = RoomStatus.OPEN
        self.wrong_pins = 0

    @classmethod
    def open_for(
        cls,
        *,
        consultation_id: UUID,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
        start: datetime,
        end: datetime,
        options: dict[str, Any],
        by: Actor,
        opens_at_once: datetime | None = None,
    ) -> Room:
        """The room of a consultation booked from ``start`` to ``end``; the template's options
        choose the mode (``room``: p2p, the default, or sfu) and the window
        (``room_lead_in_minutes``, ``room_grace_minutes``). ``opens_at_once``: an urgent
        consultation's room opens when it is booked."""
        lead_in = minutes_option(options, "room_lead_in_minutes", LEAD_IN_MINUTES)
        grace = minutes_option(options, "room_grace_minutes", GRACE_MINUTES)
        mode = Mode.SFU if options.get("room") == Mode.SFU.value else Mode.P2P
        opens = start - timedelta(minutes=lead_in)
        if opens_at_once is not None:
            opens = min(opens, opens_at_once)
        guest, host = new_pins()
        return cls(
            consultation_id=consultation_id,
            patient_id=patient_id,
            doctor_id=doctor_id,
            organisation_id=organisation_id,
            mode=mode,
            address=new_address(),
            guest_pin=guest,
            host_pin=host,
            opens=opens,
            closes=end + timedelta(minutes=grace),
            lead_in_minutes=lead_in,
            grace_minutes=grace,
            by=by,
        )

    # -- following the consultation ------------------------------------------------------------

    def move(self, start: datetime, end: datetime, *, by: Actor) -> None:
        if self.status is RoomStatus.OPEN:
            self._moved(opens=start - self.lead_in, closes=end + self.grace, by=by)

    @event(Moved)
    def _moved(self, *, opens: datetime, closes: datetime, by: Actor) -> None:
        self.opens, self.closes = opens, closes

    def close(self, reason: str, *, by: Actor) -> None:
        if self.status is RoomStatus.OPEN:
            self._closed(reason=reason, by=by)

    @event(Closed)
    def _closed(self, *, reason: str, by: Actor) -> None:
        self.status = RoomStatus.CLOSED

    def end(self, now: datetime, *, by: Actor) -> None:
        if self.status is RoomStatus.OPEN:
            self._ended(at=now, by=by)

    @event(Ended)
    def _ended(self, *, at: datetime, by: Actor) -> None:
        self.status = RoomStatus.ENDED

    # -- joining -------------------------------------------------------------------------------

    def require_open(self, now: datetime) -> None:
        """Refuse outside the window, or once the room is closed or ended."""
        if self.status is not RoomStatus.OPEN:
            raise RoomClosed(self.status.value, self.opens, self.closes, f"the room {self.status}")
        if now < self.opens:
            raise RoomClosed("not-yet-open", self.opens, self.closes, "the room is not open yet")
        if now >= self.closes:
            raise RoomClosed("over", self.opens, self.closes, "the room's time is over")

    def enter(self, pin: str, now: datetime, *, by: Actor) -> PinKind | None:
        """Which PIN opens the room (None: a wrong one, counted; the last one allowed before
        rotation rotates the PINs). Outside the window nothing is counted: ``RoomClosed``."""
        self.require_open(now)
        if isinstance(self.host_pin, Erased) or isinstance(self.guest_pin, Erased):
            raise RoomClosed("erased", self.opens, self.closes, "the patient's record was erased")
        given = pin.encode()
        if hmac.compare_digest(given, self.host_pin.encode()):
            return PinKind.HOST
        if hmac.compare_digest(given, self.guest_pin.encode()):
            return PinKind.GUEST
        self._pin_refused(at=now, wrong=self.wrong_pins + 1, by=by)
        if self.wrong_pins >= MAX_WRONG_PINS:
            guest, host = new_pins()
            self._pins_rotated(
                patient_id=self.patient_id,
                guest_pin=guest,
                host_pin=host,
                at=now,
                after_wrong=self.wrong_pins,
                by=by,
            )
        return None

    @event(PinRefused)
    def _pin_refused(self, *, at: datetime, wrong: int, by: Actor) -> None:
        self.wrong_pins = wrong

    @event(PinsRotated)
    def _pins_rotated(
        self,
        *,
        patient_id: UUID,
        guest_pin: str,
        host_pin: str,
        at: datetime,
        after_wrong: int,
        by: Actor,
    ) -> None:
        self.guest_pin, self.host_pin, self.wrong_pins = guest_pin, host_pin, 0
