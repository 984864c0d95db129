"""Booking commands: book, urgent, confirm, cancel, reschedule, no-show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.ports import PartiesIndex, RoomRegistry, Ties, UnitOfWork
from commands.results import NotFound, Saved
from commands.rooms import open_room, room_of
from domain.actor import Actor, Role
from domain.booking import BOOKING_HORIZON_DAYS, DoctorDay, SlotNotOffered
from domain.calendar_links import ExternalCalendars
from domain.consultation import Consultation, Kind
from domain.organisation import Organisation
from domain.patient import Link, record_of
from domain.schedule import DoctorSchedule
from domain.slots import Slot
from domain.time_rules import Interval


@dataclass(frozen=True)
class BookConsultation:
    actor: Actor
    patient_id: UUID
    doctor_id: UUID
    practice_id: UUID
    type_code: str
    start: datetime
    kind: Kind
    organisation_id: UUID | None = None  # staff's: the organisation they book for


@dataclass(frozen=True)
class BookUrgent:
    actor: Actor
    patient_id: UUID
    doctor_id: UUID
    reason: str
    minutes: int = 20
    organisation_id: UUID | None = None  # staff's: the organisation they book for


@dataclass(frozen=True)
class ConfirmConsultation:
    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class CancelConsultation:
    actor: Actor
    consultation_id: UUID
    reason: str


@dataclass(frozen=True)
class RescheduleConsultation:
    actor: Actor
    consultation_id: UUID
    start: datetime


@dataclass(frozen=True)
class RecordNoShow:
    actor: Actor
    consultation_id: UUID


def book_consultation(
    cmd: BookConsultation,
    uow: UnitOfWork,
    ties: Ties,
    parties: PartiesIndex,
    now: datetime,
    rooms: RoomRegistry,
) -> Saved:
    """Book a free slot (staff: at a practice of the organisation they book for); the
    practice's organisation gains a consultation relationship with the patient (its care team
    may then read the record)."""
    schedule = _schedule(uow, cmd.doctor_id)
    schedule.require_practice_of(cmd.practice_id, cmd.organisation_id)
    slot = _bookable(uow, schedule, cmd.practice_id, cmd.type_code, cmd.start, cmd.kind, now)
    organisation_id = schedule.practices[cmd.practice_id].organisation_id
    organisation = uow.find(Organisation, organisation_id)
    options = organisation.templates.get(cmd.type_code, {}) if organisation else {}
    consultation = Consultation.book(
        patient_id=cmd.patient_id,
        doctor_id=cmd.doctor_id,
        practice_id=cmd.practice_id,
        organisation_id=organisation_id,
        type_code=cmd.type_code,
        kind=cmd.kind,
        slot=slot.interval,
        by=_for(cmd.actor, cmd.patient_id),
        options=options,
    )
    days = _days(uow, cmd.doctor_id, slot.interval, cmd.actor)
    for day in days.values():
        day.book(consultation.id, slot.interval, by=cmd.actor)
    uow.ensure_subject(cmd.patient_id)
    uow.attach(ties.link(cmd.patient_id, organisation_id, Link.CARE))
    uow.attach(parties.record(consultation.id, cmd.patient_id, cmd.doctor_id, organisation_id))
    room = open_room(uow, rooms, consultation, now, cmd.actor)
    return uow.save(consultation, *days.values(), *room)


def book_urgent(
    cmd: BookUrgent,
    uow: UnitOfWork,
    ties: Ties,
    parties: PartiesIndex,
    now: datetime,
    rooms: RoomRegistry,
) -> Saved:
    """At once, outside the schedule: the consultation occupies its time on the doctor's days
    (after any urgent one already there) and flags the bookings it overlaps. It is the
    organisation's that books it, where the doctor must practise."""
    organisation_id = _schedule(uow, cmd.doctor_id).urgent_organisation(cmd.organisation_id)
    window, days = urgent_window(uow, cmd.doctor_id, now, cmd.minutes, cmd.actor)
    consultation = Consultation.book_urgent(
        patient_id=cmd.patient_id,
        doctor_id=cmd.doctor_id,
        organisation_id=organisation_id,
        reason=cmd.reason,
        now=window.start,
        minutes=cmd.minutes,
        by=_for(cmd.actor, cmd.patient_id),
    )
    flagged = occupy_urgently(uow, days, consultation.id, window, cmd.actor)
    uow.ensure_subject(cmd.patient_id)
    if organisation_id is not None:
        uow.attach(ties.link(cmd.patient_id, organisation_id, Link.CARE))
    uow.attach(parties.record(consultation.id, cmd.patient_id, cmd.doctor_id, organisation_id))
    room = open_room(uow, rooms, consultation, now, cmd.actor)
    return uow.save(consultation, *days.values(), *flagged, *room)


def urgent_window(
    uow: UnitOfWork, doctor_id: UUID, now: datetime, minutes: int, actor: Actor
) -> tuple[Interval, dict[date, DoctorDay]]:
    """When an urgent consultation of ``minutes`` from ``now`` fits on the doctor's days (after
    any urgent one already there), and the days it touches."""
    length = timedelta(minutes=minutes)
    window = Interval(now, now + length)
    days = _days(uow, doctor_id, window, actor)
    while (after := _end_of_urgent(days, window)) is not None:
        window = Interval(after, after + length)
        days = _days(uow, doctor_id, window, actor, days)
    return window, {day: days[day] for day in DoctorDay.days_of(window)}


def occupy_urgently(
    uow: UnitOfWork,
    days: dict[date, DoctorDay],
    consultation_id: UUID,
    window: Interval,
    actor: Actor,
) -> list[Consultation]:
    """Hold an urgent consultation's time on the doctor's ``days``; answers the bookings it
    overlaps, flagged for rescheduling, for the caller to save."""
    overlapped = {
        held
        for day in days.values()
        for held in day.occupy_urgently(consultation_id, window, by=actor)
    }
    flagged = [uow.get(Consultation, held) for held in sorted(overlapped)]
    for other in flagged:
        other.flag("urgent-consultation", by=actor)
    return flagged


def doctor_days(
    uow: UnitOfWork, doctor_id: UUID, interval: Interval, actor: Actor
) -> dict[date, DoctorDay]:
    """The doctor's days that ``interval`` touches (opened where new)."""
    return _days(uow, doctor_id, interval, actor)


def release_days(
    uow: UnitOfWork, consultation: Consultation, actor: Actor
) -> dict[date, DoctorDay]:
    """Free the consultation's time on every day of its doctor that holds it."""
    return _release(uow, consultation, actor)


def confirm_consultation(cmd: ConfirmConsultation, uow: UnitOfWork) -> Saved:
    consultation = _consultation(uow, cmd.consultation_id)
    consultation.confirm(by=cmd.actor)
    return uow.save(consultation)


def cancel_consultation(cmd: CancelConsultation, uow: UnitOfWork) -> Saved:
    consultation = _consultation(uow, cmd.consultation_id)
    return uow.save(*cancel_and_release(uow, consultation, cmd.reason, cmd.actor))


def reschedule_consultation(cmd: RescheduleConsultation, uow: UnitOfWork, now: datetime) -> Saved:
    """Atomic: the old time is released and the new one taken in one transaction, or
    neither."""
    consultation = _consultation(uow, cmd.consultation_id)
    if consultation.practice_id is None:
        raise SlotNotOffered("urgent consultations are not rescheduled")
    schedule = _schedule(uow, consultation.doctor_id)
    slot = _bookable(
        uow,
        schedule,
        consultation.practice_id,
        consultation.type_code,
        cmd.start,
        consultation.kind,
        now,
    )
    days = _release(uow, consultation, cmd.actor)
    days = _days(uow, consultation.doctor_id, slot.interval, cmd.actor, days)
    for day in DoctorDay.days_of(slot.interval):
        days[day].book(consultation.id, slot.interval, by=cmd.actor)
    consultation.reschedule(slot.interval, by=cmd.actor)
    room = room_of(uow, consultation.id)
    if room is not None:  # the room's window follows the consultation
        room.move(slot.interval.start, slot.interval.end, by=cmd.actor)
    return uow.save(consultation, *days.values(), *([room] if room else []))


def record_no_show(cmd: RecordNoShow, uow: UnitOfWork, now: datetime) -> Saved:
    consultation = _consultation(uow, cmd.consultation_id)
    consultation.record_no_show(now, by=cmd.actor)
    return uow.save(consultation)


def cancel_and_release(
    uow: UnitOfWork, consultation: Consultation, reason: str, actor: Actor
) -> list[Aggregate]:
    """Cancel and free the time on the doctor's day, within another command (an erasure);
    answers the aggregates for that command to save. An asynchronous one is closed."""
    if consultation.asynchronous:
        consultation.close(datetime.now(UTC), by=actor)
        return [consultation]
    consultation.cancel(reason, by=actor)
    room = room_of(uow, consultation.id)
    if room is not None:  # a cancelled consultation's room closes with it
        room.close("cancelled", by=actor)
    return [consultation, *_release(uow, consultation, actor).values(), *([room] if room else [])]


def _bookable(
    uow: UnitOfWork,
    schedule: DoctorSchedule,
    practice_id: UUID,
    type_code: str,
    start: datetime,
    kind: Kind,
    now: datetime,
) -> Slot:
    if start.tzinfo is None:
        raise SlotNotOffered("the start time needs a UTC offset")
    slot = schedule.offers(practice_id, type_code, start)
    if slot is None:
        raise SlotNotOffered("the schedule does not offer that slot")
    kinds = schedule.types[(practice_id, type_code)].kinds
    if Kind(kind).value not in kinds:
        raise SlotNotOffered(f"{type_code} is offered as {', '.join(kinds)}")
    if slot.start <= now:
        raise SlotNotOffered("that slot has passed")
    if slot.start > now + timedelta(days=BOOKING_HORIZON_DAYS):
        raise SlotNotOffered(f"bookings open at most {BOOKING_HORIZON_DAYS} days ahead")
    calendars = uow.find(ExternalCalendars, ExternalCalendars.create_id(schedule.doctor_id))
    if calendars is not None and calendars.busy_between(slot.interval):
        raise SlotNotOffered("the doctor is busy then")
    return slot


def _days(
    uow: UnitOfWork,
    doctor_id: UUID,
    interval: Interval,
    actor: Actor,
    loaded: dict[date, DoctorDay] | None = None,
) -> dict[date, DoctorDay]:
    """The doctor's days that ``interval`` touches (opened where new), added to those already
    ``loaded`` by this command so that each day is one object."""
    days = dict(loaded or {})
    for day in DoctorDay.days_of(interval):
        if day not in days:
            existing = uow.find(DoctorDay, DoctorDay.create_id(doctor_id, day))
            days[day] = existing or DoctorDay(doctor_id=doctor_id, day=day, by=actor)
    return days


def _end_of_urgent(days: dict[date, DoctorDay], window: Interval) -> datetime | None:
    """When the urgent consultations that overlap ``window`` are over, if there are any."""
    ends = [end for day in days.values() if (end := day.urgent_until(window)) is not None]
    return max(ends, default=None)


def _release(uow: UnitOfWork, consultation: Consultation, actor: Actor) -> dict[date, DoctorDay]:
    """Free the consultation's time on every day that holds it."""
    days = {
        day: found
        for day in DoctorDay.days_of(consultation.slot)
        if (found := uow.find(DoctorDay, DoctorDay.create_id(consultation.doctor_id, day)))
    }
    for day in days.values():
        day.release(consultation.id, by=actor)
    return days


def _schedule(uow: UnitOfWork, doctor_id: UUID) -> DoctorSchedule:
    schedule = uow.find(DoctorSchedule, DoctorSchedule.create_id(doctor_id))
    if schedule is None:
        raise NotFound("Schedule", doctor_id)
    return schedule


def _consultation(uow: UnitOfWork, consultation_id: UUID) -> Consultation:
    return uow.get(Consultation, consultation_id)


def _for(actor: Actor, patient_id: UUID) -> Actor:
    own = actor.role is Role.PATIENT and record_of(actor.actor_id) == patient_id
    return actor if own else actor.acting_for(patient_id)
