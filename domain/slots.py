"""What a schedule offers, as plain values: its rules, the slots they produce on a local day,
and which of those are free.

Rules are wall-clock times in the doctor's IANA zone; ``offered_slots`` turns them into instants
for one local day, so every slot is DST-correct. The schedule aggregate holds one ``Rules``, and
so does the availability read model, so both offer the same slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from domain.time_rules import Interval, LocalSpan, local_instant, zone


@dataclass(frozen=True)
class ConsultationType:
    code: str
    duration_minutes: int
    buffer_minutes: int
    kinds: tuple[str, ...]


@dataclass(frozen=True, order=True)
class Slot:
    start: datetime
    end: datetime
    practice_id: UUID
    type_code: str

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


@dataclass(frozen=True)
class Rules:
    """What a schedule offers, as plain values: the aggregate holds one, and so does the
    availability read model (rebuilt from the schedule's events), so both offer the same slots."""

    time_zone: str
    types: Mapping[tuple[UUID, str], ConsultationType]
    weekly: Mapping[tuple[UUID, int], list[LocalSpan]]
    overrides: Mapping[tuple[UUID, date], list[LocalSpan]]
    time_off: Sequence[Interval]

    def hours(self, practice_id: UUID, day: date) -> list[LocalSpan]:
        override = self.overrides.get((practice_id, day))
        if override is not None:
            return override
        return self.weekly.get((practice_id, day.weekday()), [])

    def offered_slots(self, day: date) -> list[Slot]:
        """Every slot the rules offer on one local day, before bookings and busy times."""
        tz = zone(self.time_zone)
        slots: list[Slot] = []
        for (practice_id, _), kind in sorted(
            self.types.items(), key=lambda i: (str(i[0][0]), i[0][1])
        ):
            length = timedelta(minutes=kind.duration_minutes)
            step = timedelta(minutes=kind.duration_minutes + kind.buffer_minutes)
            for span in self.hours(practice_id, day):
                wall = datetime.combine(day, span.start)
                last = datetime.combine(day, span.end)
                while wall + length <= last:
                    start = local_instant(day, wall.time(), tz)
                    if start is not None:
                        slot = Slot(
                            start.astimezone(UTC),
                            (start + length).astimezone(UTC),
                            practice_id,
                            kind.code,
                        )
                        if not any(slot.interval.overlaps(o) for o in self.time_off):
                            slots.append(slot)
                    wall += step
        return sorted(slots)


def free_slots(offered: list[Slot], taken: list[Interval]) -> list[Slot]:
    """The offered slots that overlap nothing taken (bookings, external busy times)."""
    ordered = sorted(taken)
    free = []
    for slot in offered:
        if not any(slot.start < t.end and t.start < slot.end for t in ordered):
            free.append(slot)
    return free
