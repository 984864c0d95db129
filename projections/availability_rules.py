"""The availability read model's own copy of a doctor's rules: rebuilt from the schedule's
events, stored as one JSON document per doctor, and turned into the domain's plain ``Rules``
value, so the read model offers exactly the slots the aggregate offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import orjson

from domain.schedule import DoctorSchedule
from domain.slots import ConsultationType, Rules
from domain.time_rules import Interval, LocalSpan


@dataclass
class DoctorRules:
    doctor_id: UUID
    time_zone: str
    specialty: str
    languages: list[str]
    practices: dict[UUID, UUID] = field(default_factory=dict)  # practice -> organisation
    types: dict[tuple[UUID, str], ConsultationType] = field(default_factory=dict)
    weekly: dict[tuple[UUID, int], list[LocalSpan]] = field(default_factory=dict)
    overrides: dict[tuple[UUID, date], list[LocalSpan]] = field(default_factory=dict)
    time_off: dict[UUID, Interval] = field(default_factory=dict)
    _value: Rules | None = field(default=None, repr=False, compare=False)

    @classmethod
    def opened(cls, event: DoctorSchedule.Opened) -> DoctorRules:
        return cls(event.doctor_id, event.time_zone, event.specialty, list(event.languages))

    def value(self) -> Rules:
        """The domain's rules value (what ``DoctorSchedule.offered_slots`` works on)."""
        if self._value is None:
            self._value = Rules(
                self.time_zone,
                self.types,
                self.weekly,
                self.overrides,
                list(self.time_off.values()),
            )
        return self._value

    # -- the schedule's events, applied as the aggregate applies them --------------------------
    @singledispatchmethod
    def apply(self, event: object) -> None:
        raise TypeError(f"not a schedule change: {type(event).__name__}")

    @apply.register
    def _(self, event: DoctorSchedule.ProfileChanged) -> None:
        self.time_zone, self.specialty = event.time_zone, event.specialty
        self.languages = list(event.languages)
        self._value = None

    @apply.register
    def _(self, event: DoctorSchedule.PracticeAdded) -> None:
        self.practices[event.practice_id] = event.organisation_id

    @apply.register
    def _(self, event: DoctorSchedule.ConsultationTypeSet) -> None:
        self.types[(event.practice_id, event.code)] = ConsultationType(
            event.code, event.duration_minutes, event.buffer_minutes, tuple(event.kinds)
        )

    @apply.register
    def _(self, event: DoctorSchedule.WeeklyHoursSet) -> None:
        self.weekly[(event.practice_id, event.weekday)] = [LocalSpan.parse(s) for s in event.spans]

    @apply.register
    def _(self, event: DoctorSchedule.DateOverrideSet) -> None:
        if event.spans is None:
            self.overrides.pop((event.practice_id, event.day), None)
        else:
            self.overrides[(event.practice_id, event.day)] = [
                LocalSpan.parse(s) for s in event.spans
            ]

    @apply.register
    def _(self, event: DoctorSchedule.TimeOffAdded) -> None:
        self.time_off[event.period_id] = Interval(event.start, event.end)
        self._value = None

    @apply.register
    def _(self, event: DoctorSchedule.TimeOffRemoved) -> None:
        self.time_off.pop(event.period_id, None)
        self._value = None

    # -- one document --------------------------------------------------------------------------
    def to_json(self) -> str:
        document = {
            "doctor_id": str(self.doctor_id),
            "time_zone": self.time_zone,
            "specialty": self.specialty,
            "languages": self.languages,
            "practices": {str(p): str(o) for p, o in self.practices.items()},
            "types": [
                [str(p), t.code, t.duration_minutes, t.buffer_minutes, list(t.kinds)]
                for (p, _), t in self.types.items()
            ],
            "weekly": [[str(p), d, [str(s) for s in v]] for (p, d), v in self.weekly.items()],
            "overrides": [
                [str(p), d.isoformat(), [str(s) for s in v]] for (p, d), v in self.overrides.items()
            ],
            "time_off": {
                str(k): [i.start.isoformat(), i.end.isoformat()] for k, i in self.time_off.items()
            },
        }
        return orjson.dumps(document).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> DoctorRules:
        d: dict[str, Any] = orjson.loads(text)
        return cls(
            UUID(d["doctor_id"]),
            d["time_zone"],
            d["specialty"],
            list(d["languages"]),
            {UUID(p): UUID(o) for p, o in d["practices"].items()},
            {
                (UUID(p), code): ConsultationType(code, minutes, buffer, tuple(kinds))
                for p, code, minutes, buffer, kinds in d["types"]
            },
            {(UUID(p), day): [LocalSpan.parse(s) for s in v] for p, day, v in d["weekly"]},
            {
                (UUID(p), date.fromisoformat(day)): [LocalSpan.parse(s) for s in v]
                for p, day, v in d["overrides"]
            },
            {
                UUID(k): Interval(datetime.fromisoformat(s), datetime.fromisoformat(e))
                for k, (s, e) in d["time_off"].items()
            },
        )
