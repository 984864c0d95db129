"""A doctor's schedule: practices, consultation types, weekly hours, date overrides, time off.

What the schedule offers (its ``Rules`` and the slots they produce) is in ``domain.slots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent
from domain.slots import ConsultationType, Rules, Slot
from domain.time_rules import Interval, LocalSpan, no_overlaps, zone

KINDS = frozenset({"video", "chat", "in-person"})


class UnknownPractice(DomainError):
    """The doctor does not work at that practice."""


class NotPractisingThere(DomainError):
    """The doctor has no practice (or not that one) in the organisation booking for them."""


@dataclass(frozen=True)
class Practice:
    practice_id: UUID
    organisation_id: UUID


class DoctorSchedule(Aggregate):
    """One per doctor: where, when and what the doctor offers."""

    @staticmethod
    def create_id(doctor_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/doctor-schedules/{doctor_id}")

    class Opened(RecordedCreation):
        doctor_id: UUID
        time_zone: str
        specialty: str
        languages: list[str]

    class ProfileChanged(RecordedEvent):
        time_zone: str
        specialty: str
        languages: list[str]

    class PracticeAdded(RecordedEvent):
        practice_id: UUID
        organisation_id: UUID

    class ConsultationTypeSet(RecordedEvent):
        practice_id: UUID
        code: str
        duration_minutes: int
        buffer_minutes: int
        kinds: list[str]

    class WeeklyHoursSet(RecordedEvent):
        practice_id: UUID
        weekday: int
        spans: list[str]

    class DateOverrideSet(RecordedEvent):
        practice_id: UUID
        day: date
        spans: list[str] | None

    class TimeOffAdded(RecordedEvent):
        period_id: UUID
        start: datetime
        end: datetime
        kind: str

    class TimeOffRemoved(RecordedEvent):
        period_id: UUID

    @event(Opened)
    def __init__(
        self, *, doctor_id: UUID, time_zone: str, specialty: str, languages: list[str], by: Actor
    ) -> None:
        self.doctor_id = doctor_id
        self.time_zone, self.specialty, self.languages = time_zone, specialty, list(languages)
        self.practices: dict[UUID, Practice] = {}
        self.types: dict[tuple[UUID, str], ConsultationType] = {}
        self.weekly: dict[tuple[UUID, int], list[LocalSpan]] = {}
        self.overrides: dict[tuple[UUID, date], list[LocalSpan]] = {}
        self.time_off: dict[UUID, tuple[Interval, str]] = {}

    @classmethod
    def open(
        cls, doctor_id: UUID, time_zone: str, specialty: str, languages: list[str], *, by: Actor
    ) -> DoctorSchedule:
        zone(time_zone)
        return cls(
            doctor_id=doctor_id,
            time_zone=time_zone,
            specialty=_word(specialty),
            languages=_languages(languages),
            by=by,
        )

    # -- profile --------------------------------------------------------------------------------
    def change_profile(
        self, time_zone: str, specialty: str, languages: list[str], *, by: Actor
    ) -> None:
        zone(time_zone)
        self._profile_changed(
            time_zone=time_zone, specialty=_word(specialty), languages=_languages(languages), by=by
        )

    @event(ProfileChanged)
    def _profile_changed(
        self, *, time_zone: str, specialty: str, languages: list[str], by: Actor
    ) -> None:
        self.time_zone, self.specialty, self.languages = time_zone, specialty, list(languages)

    # -- practices and types --------------------------------------------------------------------
    def add_practice(self, practice_id: UUID, organisation_id: UUID, *, by: Actor) -> None:
        if practice_id not in self.practices:
            self._practice_added(practice_id=practice_id, organisation_id=organisation_id, by=by)

    @event(PracticeAdded)
    def _practice_added(self, *, practice_id: UUID, organisation_id: UUID, by: Actor) -> None:
        self.practices[practice_id] = Practice(practice_id, organisation_id)

    def set_consultation_type(
        self,
        practice_id: UUID,
        code: str,
        duration_minutes: int,
        buffer_minutes: int,
        kinds: list[str],
        *,
        by: Actor,
    ) -> None:
        self._require_practice(practice_id)
        if not 5 <= duration_minutes <= 480 or not 0 <= buffer_minutes <= 120:
            raise InvalidValue("duration 5-480 minutes, buffer 0-120 minutes")
        if not kinds or not set(kinds) <= KINDS:
            raise InvalidValue(f"kinds must be among {sorted(KINDS)}")
        self._type_set(
            practice_id=practice_id,
            code=_word(code),
            duration_minutes=duration_minutes,
            buffer_minutes=buffer_minutes,
            kinds=sorted(set(kinds)),
            by=by,
        )

    @event(ConsultationTypeSet)
    def _type_set(
        self,
        *,
        practice_id: UUID,
        code: str,
        duration_minutes: int,
        buffer_minutes: int,
        kinds: list[str],
        by: Actor,
    ) -> None:
        self.types[(practice_id, code)] = ConsultationType(
            code, duration_minutes, buffer_minutes, tuple(kinds)
        )

    # -- hours ----------------------------------------------------------------------------------
    def set_weekly_hours(
        self, practice_id: UUID, weekday: int, spans: list[str], *, by: Actor
    ) -> None:
        self._require_practice(practice_id)
        if not 0 <= weekday <= 6:
            raise InvalidValue("weekday is 0 (Monday) to 6 (Sunday)")
        parsed = [LocalSpan.parse(s) for s in spans]
        self._check_spans(parsed)
        self._weekly_set(
            practice_id=practice_id, weekday=weekday, spans=[str(s) for s in sorted(parsed)], by=by
        )

    @event(WeeklyHoursSet)
    def _weekly_set(self, *, practice_id: UUID, weekday: int, spans: list[str], by: Actor) -> None:
        self.weekly[(practice_id, weekday)] = [LocalSpan.parse(s) for s in spans]

    def set_date_override(
        self, practice_id: UUID, day: date, spans: list[str] | None, *, by: Actor
    ) -> None:
        """Other hours on one date (``[]``: not working there that day; ``None``: back to the
        weekly hours)."""
        self._require_practice(practice_id)
        parsed = [LocalSpan.parse(s) for s in spans or []]
        self._check_spans(parsed)
        self._override_set(
            practice_id=practice_id,
            day=day,
            spans=None if spans is None else [str(s) for s in sorted(parsed)],
            by=by,
        )

    @event(DateOverrideSet)
    def _override_set(
        self, *, practice_id: UUID, day: date, spans: list[str] | None, by: Actor
    ) -> None:
        if spans is None:
            self.overrides.pop((practice_id, day), None)
        else:
            self.overrides[(practice_id, day)] = [LocalSpan.parse(s) for s in spans]

    # -- time off -------------------------------------------------------------------------------
    def add_time_off(
        self, period_id: UUID, start: datetime, end: datetime, kind: str, *, by: Actor
    ) -> None:
        """Vacation, a day off or a one-off break: no slot anywhere in [start, end)."""
        if kind not in ("vacation", "day-off", "break"):
            raise InvalidValue("kind is vacation, day-off or break")
        span = Interval(start, end)
        if span.end - span.start > timedelta(days=366):
            raise InvalidValue("time off longer than a year")
        self._time_off_added(
            period_id=period_id,
            start=span.start.astimezone(UTC),
            end=span.end.astimezone(UTC),
            kind=kind,
            by=by,
        )

    @event(TimeOffAdded)
    def _time_off_added(
        self, *, period_id: UUID, start: datetime, end: datetime, kind: str, by: Actor
    ) -> None:
        self.time_off[period_id] = (Interval(start, end), kind)

    def remove_time_off(self, period_id: UUID, *, by: Actor) -> None:
        if period_id in self.time_off:
            self._time_off_removed(period_id=period_id, by=by)

    @event(TimeOffRemoved)
    def _time_off_removed(self, *, period_id: UUID, by: Actor) -> None:
        self.time_off.pop(period_id, None)

    # -- what the schedule offers -----------------------------------------------------------
    def rules(self) -> Rules:
        return Rules(
            self.time_zone,
            self.types,
            self.weekly,
            self.overrides,
            [span for span, _ in self.time_off.values()],
        )

    def hours(self, practice_id: UUID, day: date) -> list[LocalSpan]:
        return self.rules().hours(practice_id, day)

    def offered_slots(self, day: date) -> list[Slot]:
        """Every slot the rules offer on one local day, before bookings and busy times."""
        return self.rules().offered_slots(day)

    def offers(self, practice_id: UUID, type_code: str, start: datetime) -> Slot | None:
        day = start.astimezone(zone(self.time_zone)).date()
        wanted = start.astimezone(UTC)
        for slot in self.offered_slots(day):
            if (slot.practice_id, slot.type_code, slot.start) == (practice_id, type_code, wanted):
                return slot
        return None

    def require_practice_of(self, practice_id: UUID, booked_for: UUID | None) -> None:
        """Staff book for their organisation: the practice must be one of it."""
        practice = self.practices.get(practice_id)
        if booked_for is not None and (practice is None or practice.organisation_id != booked_for):
            raise NotPractisingThere(f"practice {practice_id} is not one of {booked_for}")

    def urgent_organisation(self, booked_for: UUID | None) -> UUID | None:
        """The organisation of an urgent booking: the one booking for the doctor, where the
        doctor must have a practice; for the patient's side, the doctor's first practice's."""
        organisations = [p.organisation_id for p in self.practices.values()]
        if booked_for is None:
            return organisations[0] if organisations else None
        if booked_for not in organisations:
            raise NotPractisingThere(f"the doctor has no practice in {booked_for}")
        return booked_for

    def _require_practice(self, practice_id: UUID) -> None:
        if practice_id not in self.practices:
            raise UnknownPractice(str(practice_id))

    @staticmethod
    def _check_spans(spans: list[LocalSpan]) -> None:
        # Hours at different practices may overlap (video consultations for two organisations
        # at once); the bookings never do: the doctor's day refuses overlapping bookings.
        if not no_overlaps(spans):
            raise InvalidValue("working intervals of one practice overlap each other")


def _word(value: str) -> str:
    text = value.strip().lower()
    if not text or len(text) > 60:
        raise InvalidValue("a code of 1 to 60 characters is needed")
    return text


def _languages(values: list[str]) -> list[str]:
    langs = sorted({v.strip().lower() for v in values if v.strip()})
    if any(len(v) > 8 for v in langs):
        raise InvalidValue("languages are codes like 'fr' or 'lb'")
    return langs
