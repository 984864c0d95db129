"""A doctor's day: the boundary that prevents double booking."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError
from domain.personal import RecordedCreation, RecordedEvent
from domain.time_rules import Interval

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")


#: how far ahead a booking may be made; the doctor's days beyond it are never opened, so the
#: days a schedule change must look at are bounded
BOOKING_HORIZON_DAYS = 730


class SlotTaken(DomainError):
    """Another booking of the doctor overlaps that time (at any of the doctor's practices)."""


class SlotNotOffered(DomainError):
    """The schedule does not offer that slot (outside hours, time off, busy elsewhere)."""


class DoctorDay(Aggregate):
    """One doctor's bookings that touch one UTC calendar day, across all of the doctor's
    practices. The key is the instant's UTC date, which no schedule change can move (a local
    date moves with the doctor's time zone); a booking that spans UTC midnight is held by both
    days. Two racing bookings of one time write the same stream: optimistic concurrency lets
    exactly one of them through.

    Urgent consultations occupy their time like any booking, without a check: the ordinary
    bookings they overlap are answered for the caller to flag, and a later urgent request
    waits until the doctor is free of urgent ones (``urgent_until``)."""

    @staticmethod
    def create_id(doctor_id: UUID, day: date) -> UUID:
        return uuid5(NAMESPACE_URL, f"/doctor-days/utc/{doctor_id}/{day.isoformat()}")

    @staticmethod
    def days_of(interval: Interval) -> list[date]:
        """The UTC dates an interval touches (its end is exclusive)."""
        first = interval.start.astimezone(UTC).date()
        last = (interval.end.astimezone(UTC) - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    class Opened(RecordedCreation):
        doctor_id: UUID
        day: date

    class SlotBooked(RecordedEvent):
        class_version = 2  # v2: urgent consultations occupy their time too
        consultation_id: UUID
        start: datetime
        end: datetime
        urgent: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["urgent"] = False

    class SlotReleased(RecordedEvent):
        consultation_id: UUID

    @event(Opened)
    def __init__(self, *, doctor_id: UUID, day: date, by: Actor) -> None:
        self.doctor_id, self.day = doctor_id, day
        self.bookings: dict[UUID, Interval] = {}
        self.urgent: set[UUID] = set()

    def book(self, consultation_id: UUID, slot: Interval, *, by: Actor) -> None:
        if any(slot.overlaps(taken) for taken in self.bookings.values()):
            raise SlotTaken(f"{slot.start.isoformat()} is taken")
        self._booked(
            consultation_id=consultation_id, start=slot.start, end=slot.end, urgent=False, by=by
        )

    def occupy_urgently(self, consultation_id: UUID, slot: Interval, *, by: Actor) -> list[UUID]:
        """Hold the time of an urgent consultation; answers the ordinary bookings it overlaps
        (they stay booked, for the caller to flag)."""
        overlapped = [
            held
            for held, taken in self.bookings.items()
            if held not in self.urgent and slot.overlaps(taken)
        ]
        self._booked(
            consultation_id=consultation_id, start=slot.start, end=slot.end, urgent=True, by=by
        )
        return overlapped

    def urgent_until(self, slot: Interval) -> datetime | None:
        """The end of the last urgent consultation that overlaps ``slot``, if any."""
        ends = [
            self.bookings[held].end for held in self.urgent if self.bookings[held].overlaps(slot)
        ]
        return max(ends, default=None)

    @event(SlotBooked)
    def _booked(
        self, *, consultation_id: UUID, start: datetime, end: datetime, urgent: bool, by: Actor
    ) -> None:
        self.bookings[consultation_id] = Interval(start, end)
        if urgent:
            self.urgent.add(consultation_id)

    def release(self, consultation_id: UUID, *, by: Actor) -> None:
        if consultation_id in self.bookings:
            self._released(consultation_id=consultation_id, by=by)

    @event(SlotReleased)
    def _released(self, *, consultation_id: UUID, by: Actor) -> None:
        self.bookings.pop(consultation_id, None)
        self.urgent.discard(consultation_id)
