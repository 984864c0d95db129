"""The rows of the availability read model: each doctor's free slots, computed when asked from
the doctor's rules and what is taken (the domain's own ``Rules.offered_slots`` and
``free_slots``), and the query interface routers use.

Nothing is materialised per slot: a query loads the doctor's rules (cached per rules version)
and the bookings and busy times of its window, and ``FreeSlots`` computes the rows. What one
rules version offers on a local day is remembered (bounded), so a booking costs no
recomputation. Across doctors, each doctor keeps one number: a lower bound of its first free
slot (``first_free``), so the earliest query looks only at the doctors that can answer first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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


#: what a query needs of one doctor: its rules, their version, and what is taken in the window
Loaded = tuple[DoctorRules, int, list[Interval]]


def horizon(time_zone: str, days: int) -> list[date]:
    """The local days the read model offers: yesterday to ``days`` days ahead."""
    today = datetime.now(UTC).astimezone(zone(time_zone)).date()
    return [today + timedelta(days=i) for i in range(-1, days + 1)]


def _order(s: FreeSlot) -> tuple[datetime, UUID, UUID, str]:
    return s.start, s.doctor_id, s.practice_id, s.type_code


class FreeSlots:
    """Free slots computed from a doctor's rules and what is taken. Remembers, per rules
    version, the parsed rules and each local day's offered rows (bounded; the rules change
    rarely, bookings often, and a booking only filters the rows again)."""

    def __init__(self, horizon_days: int = 90, size: int = 50_000) -> None:
        self.horizon_days, self.size = horizon_days, size
        self._rules: dict[UUID, tuple[int, DoctorRules]] = {}
        self._days: dict[tuple[UUID, int, date], dict[Slot, FreeSlot]] = {}

    def rules(self, doctor_id: UUID, version: int, document: Callable[[], str]) -> DoctorRules:
        """The doctor's rules of that version (``document`` is read only when not known)."""
        known = self._rules.get(doctor_id)
        if known is not None and known[0] == version:
            return known[1]
        if len(self._rules) >= self.size:
            self._rules.clear()
        rules = DoctorRules.from_json(document())
        self._rules[doctor_id] = (version, rules)
        return rules

    def days(self, rules: DoctorRules, start: datetime, end: datetime) -> list[date]:
        """The local days of the horizon on which a slot starting in [start, end) can lie."""
        if end <= start:
            return []
        tz = zone(rules.time_zone)
        first = start.astimezone(tz).date()
        last = (end - timedelta(microseconds=1)).astimezone(tz).date()
        return [d for d in self.days_held(rules) if first <= d <= last]

    def days_held(self, rules: DoctorRules) -> list[date]:
        """The local days the read model offers for a doctor."""
        return horizon(rules.time_zone, self.horizon_days)

    def on(
        self, rules: DoctorRules, version: int, day: date, taken: list[Interval]
    ) -> list[FreeSlot]:
        """The free rows of one local day: what the rules offer, less what is taken."""
        key = (rules.doctor_id, version, day)
        offered = self._days.get(key)
        if offered is None:
            if len(self._days) >= self.size:
                self._days.clear()
            pairs = [(s, row(rules, s)) for s in rules.value().offered_slots(day)]
            offered = dict(sorted(pairs, key=lambda p: _order(p[1])))
            self._days[key] = offered
        bounds = local_day_bounds(day, zone(rules.time_zone))
        near = [t for t in taken if t.overlaps(bounds)]
        if not near:
            return list(offered.values())
        free = set(free_slots(list(offered), near))
        return [r for s, r in offered.items() if s in free]

    def between(
        self, loaded: Loaded, start: datetime, end: datetime, want: Callable[[FreeSlot], bool]
    ) -> Iterator[FreeSlot]:
        """The wanted free rows starting in [start, end), in order."""
        rules, version, taken = loaded
        for day in self.days(rules, start, end):
            for r in self.on(rules, version, day, taken):
                if start <= r.start < end and want(r):
                    yield r

    def horizon_end(self, rules: DoctorRules) -> datetime:
        """When the last local day the read model offers ends."""
        return local_day_bounds(self.days_held(rules)[-1], zone(rules.time_zone)).end

    def first_free(self, loaded: Loaded, after: datetime) -> datetime:
        """When the doctor's first free slot from ``after`` starts (the end of the horizon when
        none is free): what the read model keeps per doctor as a lower bound."""
        last = self.horizon_end(loaded[0])
        return next((r.start for r in self.between(loaded, after, last, _any)), last)

    def earliest(
        self,
        candidates: Iterable[tuple[UUID, datetime | None]],
        load: Callable[[UUID, datetime], Loaded | None],
        after: datetime,
        want: Callable[[FreeSlot], bool],
        limit: int,
    ) -> list[FreeSlot]:
        """The first ``limit`` wanted rows of any candidate doctor, in order of start. A
        candidate comes with a lower bound of its first free slot; doctors are asked in that
        order until none can start before the last row found."""
        found: list[FreeSlot] = []
        floor = datetime.min.replace(tzinfo=UTC)
        for doctor_id, bound in sorted(candidates, key=lambda c: (c[1] or floor, c[0])):
            begin = max(after, bound or floor)
            if len(found) >= limit and begin > found[-1].start:
                break
            loaded = load(doctor_id, begin)
            if loaded is None:
                continue
            last = self.horizon_end(loaded[0])
            mine: list[FreeSlot] = []
            for r in self.between(loaded, begin, last, want):
                if len(mine) >= limit or (len(found) >= limit and r.start > found[-1].start):
                    break
                mine.append(r)
            found = sorted(found + mine, key=_order)[:limit]
        return found


def _any(_: FreeSlot) -> bool:
    return True


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
