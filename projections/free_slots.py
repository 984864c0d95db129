"""The rows of the availability read model: each doctor's free slots, how the rows of one local
day are computed from the doctor's rules and what is taken, and how routers query them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from uuid import UUID

from domain.booking import DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.schedule import DoctorSchedule
from domain.slots import Slot, free_slots
from domain.time_rules import Interval, local_day_bounds, zone
from projections.availability_rules import DoctorRules


@dataclass(frozen=True)
class FreeSlot:
    doctor_id: UUID
    practice_id: UUID
    type_code: str
    start: datetime
    end: datetime
    organisation_id: UUID
    specialty: str
    languages: tuple[str, ...]
    kinds: tuple[str, ...]
    time_zone: str


class Availability(Protocol):
    """What routers ask of the read model."""

    def of_doctor(
        self,
        doctor_id: UUID,
        start: datetime,
        end: datetime,
        type_code: str | None = None,
        practice_id: UUID | None = None,
        limit: int = 2000,
    ) -> list[FreeSlot]: ...

    def earliest(
        self,
        *,
        specialty: str,
        type_code: str | None,
        after: datetime,
        organisation_id: UUID | None = None,
        language: str | None = None,
        limit: int = 10,
    ) -> list[FreeSlot]: ...


def horizon(time_zone: str, days: int) -> list[date]:
    """The local days the read model holds: yesterday to ``days`` days ahead."""
    today = datetime.now(UTC).astimezone(zone(time_zone)).date()
    return [today + timedelta(days=i) for i in range(-1, days + 1)]


def local_days(at: Interval, time_zone: str) -> set[date]:
    """The local dates an interval touches (its end is exclusive)."""
    tz = zone(time_zone)
    first = at.start.astimezone(tz).date()
    last = (at.end - timedelta(microseconds=1)).astimezone(tz).date()
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def free_on(rules: DoctorRules, day: date, taken: list[Interval]) -> list[FreeSlot]:
    """The rows of one local day: what the rules offer, less what is taken."""
    bounds = local_day_bounds(day, zone(rules.time_zone))
    near = [t for t in taken if t.overlaps(bounds)]
    return [row(rules, slot) for slot in free_slots(rules.value().offered_slots(day), near)]


def row(rules: DoctorRules, slot: Slot) -> FreeSlot:
    return FreeSlot(
        rules.doctor_id,
        slot.practice_id,
        slot.type_code,
        slot.start,
        slot.end,
        rules.practices[slot.practice_id],
        rules.specialty,
        tuple(rules.languages),
        rules.types[(slot.practice_id, slot.type_code)].kinds,
        rules.time_zone,
    )


def compute_day(
    schedule: DoctorSchedule,
    doctor_days: list[DoctorDay],
    calendars: ExternalCalendars | None,
    day: date,
) -> list[Slot]:
    """The free slots of one local day from the write model, from scratch (an oracle for
    tests); ``doctor_days`` are the doctor's UTC days that the local day touches."""
    taken = [booked for d in doctor_days for booked in d.bookings.values()]
    if calendars is not None:
        taken += calendars.busy_between(local_day_bounds(day, zone(schedule.time_zone)))
    return free_slots(schedule.offered_slots(day), taken)


def utc_days_of(day: date, time_zone: str) -> list[date]:
    """The UTC dates (the doctor's days' keys) that one local day touches."""
    return DoctorDay.days_of(local_day_bounds(day, zone(time_zone)))
