"""Bookings: a doctor's day (the boundary that prevents double booking) and the consultation."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
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


class ConsultationClosed(DomainError):
    """The consultation was cancelled or is over; it cannot change any more."""


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


class Kind(StrEnum):
    VIDEO = "video"
    CHAT = "chat"
    IN_PERSON = "in-person"


class Status(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    NO_SHOW = "no-show"


class Consultation(Aggregate):
    """An appointment between a patient and a doctor (or an urgent request)."""

    class Booked(RecordedCreation):
        personal_fields = ("urgent_reason",)
        subject_field = "patient_id"
        class_version = 2  # v2: the options preset by the organisation's booking template
        patient_id: UUID
        doctor_id: UUID
        practice_id: UUID | None
        organisation_id: UUID | None
        type_code: str
        kind: Kind
        start: datetime
        end: datetime
        urgent: bool
        urgent_reason: str | None
        options: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["options"] = {}

    class Confirmed(RecordedEvent):
        pass

    class Cancelled(RecordedEvent):
        reason: str

    class Rescheduled(RecordedEvent):
        start: datetime
        end: datetime

    class NoShowRecorded(RecordedEvent):
        pass

    class FlaggedForRescheduling(RecordedEvent):
        why: str

    @event(Booked)
    def __init__(
        self,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        practice_id: UUID | None,
        organisation_id: UUID | None,
        type_code: str,
        kind: Kind,
        start: datetime,
        end: datetime,
        urgent: bool,
        urgent_reason: str | None,
        options: dict[str, Any],
        by: Actor,
    ) -> None:
        self.patient_id, self.doctor_id = patient_id, doctor_id
        self.practice_id, self.organisation_id = practice_id, organisation_id
        self.type_code, self.kind = type_code, Kind(kind)
        self.slot = Interval(start, end)
        self.urgent, self.urgent_reason = urgent, urgent_reason
        self.options = dict(options)
        self.status = Status.BOOKED
        self.flagged: str | None = None
        self.booked_by = by

    @classmethod
    def book(
        cls,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        practice_id: UUID,
        organisation_id: UUID,
        type_code: str,
        kind: Kind,
        slot: Interval,
        by: Actor,
        options: dict[str, Any] | None = None,
    ) -> Consultation:
        """A booking; ``options`` come from the organisation's template for the type (B9)."""
        return cls(
            patient_id=patient_id,
            doctor_id=doctor_id,
            practice_id=practice_id,
            organisation_id=organisation_id,
            type_code=type_code,
            kind=Kind(kind),
            start=slot.start,
            end=slot.end,
            urgent=False,
            urgent_reason=None,
            options=dict(options or {}),
            by=by,
        )

    @classmethod
    def book_urgent(
        cls,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
        reason: str,
        now: datetime,
        minutes: int,
        by: Actor,
    ) -> Consultation:
        """Urgent: at once, outside the schedule; the doctor joins when able."""
        if not reason.strip():
            raise InvalidValue("an urgent consultation needs a reason")
        return cls(
            patient_id=patient_id,
            doctor_id=doctor_id,
            practice_id=None,
            organisation_id=organisation_id,
            type_code="urgent",
            kind=Kind.VIDEO,
            start=now,
            end=now + timedelta(minutes=minutes),
            urgent=True,
            urgent_reason=reason.strip(),
            options={},
            by=by,
        )

    @property
    def open(self) -> bool:
        return self.status in (Status.BOOKED, Status.CONFIRMED)

    def confirm(self, *, by: Actor) -> None:
        self._require_open()
        if self.status is Status.BOOKED:
            self._confirmed(by=by)

    @event(Confirmed)
    def _confirmed(self, *, by: Actor) -> None:
        self.status = Status.CONFIRMED

    def cancel(self, reason: str, *, by: Actor) -> None:
        self._require_open()
        code = reason.strip().lower()
        if not _CODE.match(code):
            raise InvalidValue("a cancellation reason is a code like 'patient-request'")
        self._cancelled(reason=code, by=by)

    @event(Cancelled)
    def _cancelled(self, *, reason: str, by: Actor) -> None:
        self.status = Status.CANCELLED

    def reschedule(self, slot: Interval, *, by: Actor) -> None:
        self._require_open()
        if self.urgent:
            raise InvalidValue("urgent consultations are not rescheduled")
        self._rescheduled(start=slot.start, end=slot.end, by=by)

    @event(Rescheduled)
    def _rescheduled(self, *, start: datetime, end: datetime, by: Actor) -> None:
        self.slot = Interval(start, end)
        self.status = Status.BOOKED
        self.flagged = None

    def record_no_show(self, now: datetime, *, by: Actor) -> None:
        self._require_open()
        if now < self.slot.start:
            raise InvalidValue("a no-show is recorded after the appointment started")
        self._no_show(by=by)

    @event(NoShowRecorded)
    def _no_show(self, *, by: Actor) -> None:
        self.status = Status.NO_SHOW

    def flag(self, why: str, *, by: Actor) -> None:
        if self.open and self.flagged != why:
            self._flagged(why=why, by=by)

    @event(FlaggedForRescheduling)
    def _flagged(self, *, why: str, by: Actor) -> None:
        self.flagged = why

    def _require_open(self) -> None:
        if not self.open:
            raise ConsultationClosed(self.status.value)
