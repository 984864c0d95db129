"""Booking commands: book, urgent, confirm, cancel, reschedule, no-show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.ports import Ties, UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor, Role
from domain.booking import Consultation, DoctorDay, Kind, SlotNotOffered
from domain.calendar_links import ExternalCalendars
from domain.organisation import Organisation
from domain.patient import Link, record_of
from domain.schedule import DoctorSchedule, Slot


@dataclass(frozen=True)
class BookConsultation:
    actor: Actor
    patient_id: UUID
    doctor_id: UUID
    practice_id: UUID
    type_code: str
    start: datetime
    kind: Kind


@dataclass(frozen=True)
class BookUrgent:
    actor: Actor
    patient_id: UUID
    doctor_id: UUID
    reason: str
    minutes: int = 20


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


def book_consultation(cmd: BookConsultation, uow: UnitOfWork, ties: Ties) -> Saved:
    """Book a free slot; the practice's organisation gains a consultation relationship with
    the patient (its care team may then read the record)."""
    schedule = _schedule(uow, cmd.doctor_id)
    slot = _bookable(uow, schedule, cmd.practice_id, cmd.type_code, cmd.start, cmd.kind)
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
    day = _day(uow, schedule, slot, cmd.actor)
    day.book(consultation.id, slot.interval, by=cmd.actor)
    uow.ensure_subject(cmd.patient_id)
    uow.attach(ties.link(cmd.patient_id, organisation_id, Link.CARE))
    return uow.save(consultation, day)


def book_urgent(cmd: BookUrgent, uow: UnitOfWork, ties: Ties) -> Saved:
    schedule = _schedule(uow, cmd.doctor_id)
    organisation_id = (
        next(iter(schedule.practices.values())).organisation_id if schedule.practices else None
    )
    consultation = Consultation.book_urgent(
        patient_id=cmd.patient_id,
        doctor_id=cmd.doctor_id,
        organisation_id=organisation_id,
        reason=cmd.reason,
        now=datetime.now(UTC),
        minutes=cmd.minutes,
        by=_for(cmd.actor, cmd.patient_id),
    )
    uow.ensure_subject(cmd.patient_id)
    if organisation_id is not None:
        uow.attach(ties.link(cmd.patient_id, organisation_id, Link.CARE))
    return uow.save(consultation)


def confirm_consultation(cmd: ConfirmConsultation, uow: UnitOfWork) -> Saved:
    consultation = _consultation(uow, cmd.consultation_id)
    consultation.confirm(by=cmd.actor)
    return uow.save(consultation)


def cancel_consultation(cmd: CancelConsultation, uow: UnitOfWork) -> Saved:
    consultation = _consultation(uow, cmd.consultation_id)
    consultation.cancel(cmd.reason, by=cmd.actor)
    released = _release(uow, consultation, cmd.actor)
    return uow.save(consultation, *released)


def reschedule_consultation(cmd: RescheduleConsultation, uow: UnitOfWork) -> Saved:
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
    )
    old_days = _release(uow, consultation, cmd.actor)
    new_day = next(
        (
            d
            for d in old_days
            if d.id == DoctorDay.create_id(schedule.doctor_id, schedule.local_day(slot.start))
        ),
        None,
    )
    if new_day is None:
        new_day = _day(uow, schedule, slot, cmd.actor)
    new_day.book(consultation.id, slot.interval, by=cmd.actor)
    consultation.reschedule(slot.interval, by=cmd.actor)
    others = [d for d in old_days if d is not new_day]
    return uow.save(consultation, new_day, *others)


def record_no_show(cmd: RecordNoShow, uow: UnitOfWork) -> Saved:
    consultation = _consultation(uow, cmd.consultation_id)
    consultation.record_no_show(datetime.now(UTC), by=cmd.actor)
    return uow.save(consultation)


def cancel_and_release(
    uow: UnitOfWork, consultation: Consultation, reason: str, actor: Actor
) -> list[Aggregate]:
    """Cancel and free the time on the doctor's day, within another command (an erasure);
    answers the aggregates for that command to save."""
    consultation.cancel(reason, by=actor)
    return [consultation, *_release(uow, consultation, actor)]


def _bookable(
    uow: UnitOfWork,
    schedule: DoctorSchedule,
    practice_id: UUID,
    type_code: str,
    start: datetime,
    kind: Kind,
) -> Slot:
    if start.tzinfo is None:
        raise SlotNotOffered("the start time needs a UTC offset")
    slot = schedule.offers(practice_id, type_code, start)
    if slot is None:
        raise SlotNotOffered("the schedule does not offer that slot")
    kinds = schedule.types[(practice_id, type_code)].kinds
    if Kind(kind).value not in kinds:
        raise SlotNotOffered(f"{type_code} is offered as {', '.join(kinds)}")
    if slot.start <= datetime.now(UTC):
        raise SlotNotOffered("that slot has passed")
    calendars = uow.find(ExternalCalendars, ExternalCalendars.create_id(schedule.doctor_id))
    if calendars is not None and calendars.busy_between(slot.interval):
        raise SlotNotOffered("the doctor is busy then")
    return slot


def _day(uow: UnitOfWork, schedule: DoctorSchedule, slot: Slot, actor: Actor) -> DoctorDay:
    day = schedule.local_day(slot.start)
    existing = uow.find(DoctorDay, DoctorDay.create_id(schedule.doctor_id, day))
    return existing or DoctorDay(doctor_id=schedule.doctor_id, day=day, by=actor)


def _release(uow: UnitOfWork, consultation: Consultation, actor: Actor) -> list[DoctorDay]:
    if consultation.practice_id is None:
        return []
    schedule = _schedule(uow, consultation.doctor_id)
    day = uow.find(
        DoctorDay,
        DoctorDay.create_id(consultation.doctor_id, schedule.local_day(consultation.slot.start)),
    )
    if day is None:
        return []
    day.release(consultation.id, by=actor)
    return [day]


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
