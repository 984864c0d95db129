"""Schedule commands: a doctor's profile, practices, types, hours, time off, calendars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from commands.ports import UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor
from domain.booking import BOOKING_HORIZON_DAYS, DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.consultation import Consultation
from domain.schedule import DoctorSchedule
from domain.time_rules import Interval


@dataclass(frozen=True)
class OpenSchedule:
    actor: Actor
    doctor_id: UUID
    time_zone: str
    specialty: str
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChangeProfile:
    actor: Actor
    doctor_id: UUID
    time_zone: str
    specialty: str
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetProfile:
    """Open the doctor's schedule with this profile, or change the profile of the open one."""

    actor: Actor
    doctor_id: UUID
    time_zone: str
    specialty: str
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddPractice:
    actor: Actor
    doctor_id: UUID
    practice_id: UUID
    organisation_id: UUID


@dataclass(frozen=True)
class SetConsultationType:
    actor: Actor
    doctor_id: UUID
    practice_id: UUID
    code: str
    duration_minutes: int
    buffer_minutes: int
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class SetWeeklyHours:
    actor: Actor
    doctor_id: UUID
    practice_id: UUID
    weekday: int
    spans: tuple[str, ...]


@dataclass(frozen=True)
class SetDateOverride:
    actor: Actor
    doctor_id: UUID
    practice_id: UUID
    day: date
    spans: tuple[str, ...] | None


@dataclass(frozen=True)
class AddTimeOff:
    actor: Actor
    doctor_id: UUID
    period_id: UUID
    start: datetime
    end: datetime
    kind: str


@dataclass(frozen=True)
class RemoveTimeOff:
    actor: Actor
    doctor_id: UUID
    period_id: UUID


@dataclass(frozen=True)
class LinkCalendar:
    actor: Actor
    doctor_id: UUID
    calendar_id: UUID
    kind: str
    url: str
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class UnlinkCalendar:
    actor: Actor
    doctor_id: UUID
    calendar_id: UUID


@dataclass(frozen=True)
class RecordBusyPeriods:
    """What a calendar sync read from one linked calendar, for a window of time."""

    actor: Actor
    doctor_id: UUID
    calendar_id: UUID
    window: Interval
    busy: tuple[tuple[str, Interval], ...]


def open_schedule(cmd: OpenSchedule, uow: UnitOfWork) -> Saved:
    schedule = DoctorSchedule.open(
        cmd.doctor_id, cmd.time_zone, cmd.specialty, list(cmd.languages), by=cmd.actor
    )
    uow.ensure_subject(cmd.doctor_id)
    return uow.save(schedule)


def change_profile(cmd: ChangeProfile, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.change_profile(cmd.time_zone, cmd.specialty, list(cmd.languages), by=cmd.actor)
    return _save_and_flag(uow, schedule, cmd.actor)


def set_profile(cmd: SetProfile, uow: UnitOfWork) -> Saved:
    if uow.find(DoctorSchedule, DoctorSchedule.create_id(cmd.doctor_id)) is None:
        return open_schedule(OpenSchedule(*_profile(cmd)), uow)
    return change_profile(ChangeProfile(*_profile(cmd)), uow)


def _profile(cmd: SetProfile) -> tuple[Actor, UUID, str, str, tuple[str, ...]]:
    return cmd.actor, cmd.doctor_id, cmd.time_zone, cmd.specialty, cmd.languages


def add_practice(cmd: AddPractice, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.add_practice(cmd.practice_id, cmd.organisation_id, by=cmd.actor)
    return uow.save(schedule)


def set_consultation_type(cmd: SetConsultationType, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.set_consultation_type(
        cmd.practice_id,
        cmd.code,
        cmd.duration_minutes,
        cmd.buffer_minutes,
        list(cmd.kinds),
        by=cmd.actor,
    )
    return _save_and_flag(uow, schedule, cmd.actor)


def set_weekly_hours(cmd: SetWeeklyHours, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.set_weekly_hours(cmd.practice_id, cmd.weekday, list(cmd.spans), by=cmd.actor)
    return _save_and_flag(uow, schedule, cmd.actor)


def set_date_override(cmd: SetDateOverride, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    spans = None if cmd.spans is None else list(cmd.spans)
    schedule.set_date_override(cmd.practice_id, cmd.day, spans, by=cmd.actor)
    return _save_and_flag(uow, schedule, cmd.actor)


def add_time_off(cmd: AddTimeOff, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.add_time_off(cmd.period_id, cmd.start, cmd.end, cmd.kind, by=cmd.actor)
    return _save_and_flag(uow, schedule, cmd.actor)


def remove_time_off(cmd: RemoveTimeOff, uow: UnitOfWork) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.remove_time_off(cmd.period_id, by=cmd.actor)
    return uow.save(schedule)


def link_calendar(cmd: LinkCalendar, uow: UnitOfWork) -> Saved:
    _schedule(uow, cmd.doctor_id)
    calendars = _calendars(uow, cmd.doctor_id, cmd.actor)
    calendars.link(cmd.calendar_id, cmd.kind, cmd.url, cmd.username, cmd.password, by=cmd.actor)
    return uow.save(calendars)


def unlink_calendar(cmd: UnlinkCalendar, uow: UnitOfWork) -> Saved:
    calendars = _calendars(uow, cmd.doctor_id, cmd.actor)
    calendars.unlink(cmd.calendar_id, by=cmd.actor)
    return uow.save(calendars)


def record_busy_periods(cmd: RecordBusyPeriods, uow: UnitOfWork) -> Saved:
    calendars = _calendars(uow, cmd.doctor_id, cmd.actor)
    calendars.sync(cmd.calendar_id, dict(cmd.busy), cmd.window, by=cmd.actor)
    return _save_and_flag(uow, calendars, cmd.actor)


def _schedule(uow: UnitOfWork, doctor_id: UUID) -> DoctorSchedule:
    schedule = uow.find(DoctorSchedule, DoctorSchedule.create_id(doctor_id))
    if schedule is None:
        raise NotFound("Schedule", doctor_id)
    return schedule


def _calendars(uow: UnitOfWork, doctor_id: UUID, actor: Actor) -> ExternalCalendars:
    calendars = uow.find(ExternalCalendars, ExternalCalendars.create_id(doctor_id))
    if calendars is None:
        calendars = ExternalCalendars(doctor_id=doctor_id, by=actor)
        uow.ensure_subject(doctor_id)
    return calendars


def _booked_on_days(uow: UnitOfWork, doctor_id: UUID, today: date) -> list[UUID]:
    """What the doctor's days hold from yesterday (UTC) to the end of the booking horizon:
    the write model's own answer, never a read model's."""
    ids = [
        DoctorDay.create_id(doctor_id, today + timedelta(days=offset))
        for offset in range(-1, BOOKING_HORIZON_DAYS + 2)
    ]
    return sorted({held for day in uow.find_existing(DoctorDay, ids) for held in day.bookings})


def _save_and_flag(
    uow: UnitOfWork, changed: DoctorSchedule | ExternalCalendars, actor: Actor
) -> Saved:
    """A schedule change never silently drops bookings: those that no longer fit are flagged
    in the same transaction, for the doctor to reschedule."""
    doctor_id = changed.doctor_id
    schedule = changed if isinstance(changed, DoctorSchedule) else _schedule(uow, doctor_id)
    calendars = (
        changed
        if isinstance(changed, ExternalCalendars)
        else uow.find(ExternalCalendars, ExternalCalendars.create_id(doctor_id))
    )
    flagged = []
    now = datetime.now(UTC)
    for consultation_id in _booked_on_days(uow, doctor_id, now.date()):
        consultation = uow.find(Consultation, consultation_id)
        if (
            consultation is None
            or consultation.urgent
            or consultation.practice_id is None
            or consultation.slot.end <= now
        ):
            continue
        why = None
        if (
            schedule.offers(
                consultation.practice_id, consultation.type_code, consultation.slot.start
            )
            is None
        ):
            why = "outside-the-schedule"
        elif calendars is not None and any(
            b.overlaps(consultation.slot) for b in calendars.busy_between(consultation.slot)
        ):
            why = "busy-in-external-calendar"
        if why is not None:
            consultation.flag(why, by=actor)
            flagged.append(consultation)
    return uow.save(changed, *flagged)
