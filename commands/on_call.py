"""The on-call pool: duty, requests, the one accept that wins, withdrawal, expiry, and the
escalation of consultations nobody took (or answered) in time. Times come from the ports'
clock; the deadline worker dispatches expiries and escalations as the system actor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands import booking
from commands.consultations import acting_for_patient
from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from commands.rooms import open_room
from domain.actor import Actor
from domain.consultation import Consultation
from domain.errors import InvalidValue
from domain.on_call import OnCallPool, PoolRequest, specialty_code
from domain.organisation import Organisation
from domain.patient import Link
from domain.schedule import DoctorSchedule

#: the booking template of an organisation that presets its on-call consultations (and
#: ``expire_minutes``: how long a request waits for an accept)
ON_CALL_TYPE = "on-call"
#: how long the urgent consultation a pool's doctor accepts occupies their day
URGENT_MINUTES = 20


@dataclass(frozen=True)
class GoOnDuty:
    """The signed-in doctor joins the pool of an organisation they work for."""

    actor: Actor
    organisation_id: UUID
    specialty: str


@dataclass(frozen=True)
class GoOffDuty:
    actor: Actor
    organisation_id: UUID
    specialty: str


@dataclass(frozen=True)
class RequestOnCall:
    """The patient's side: urgent (a reason) or an asynchronous question, to a pool."""

    actor: Actor
    patient_id: UUID
    organisation_id: UUID
    specialty: str
    reason: str | None = None
    question: str | None = None


@dataclass(frozen=True)
class AcceptRequest:
    """A doctor on duty takes the request: the first accept wins."""

    actor: Actor
    request_id: UUID


@dataclass(frozen=True)
class WithdrawRequest:
    actor: Actor
    request_id: UUID


@dataclass(frozen=True)
class ExpireRequest:
    actor: Actor
    request_id: UUID


@dataclass(frozen=True)
class EscalateConsultation:
    """An urgent offer the named doctor did not take, or a question not answered, in time."""

    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class RequestAccepted(Saved):
    """The request (id, version, position) and the consultation the doctor now has."""

    consultation_id: UUID


def go_on_duty(cmd: GoOnDuty, uow: UnitOfWork, ports: Ports) -> Saved:
    if cmd.organisation_id not in ports.ties.memberships(cmd.actor.actor_id):
        raise InvalidValue("the doctor does not work for that organisation")
    pool = _pool(uow, cmd.organisation_id, specialty_code(cmd.specialty), cmd.actor)
    pool.go_on_duty(cmd.actor.actor_id, by=cmd.actor)
    return uow.save(pool)


def go_off_duty(cmd: GoOffDuty, uow: UnitOfWork) -> Saved:
    code = specialty_code(cmd.specialty)
    pool = _pool(uow, cmd.organisation_id, code, cmd.actor)
    pool.go_off_duty(cmd.actor.actor_id, by=cmd.actor)
    return uow.save(pool)


def request_on_call(cmd: RequestOnCall, uow: UnitOfWork, ports: Ports) -> Saved:
    """Offered to the doctors on duty now (the event lists them); a pool nobody joined yet is
    opened, and its requests wait for a doctor or their expiry."""
    pool = _pool(uow, cmd.organisation_id, specialty_code(cmd.specialty), cmd.actor)
    request = PoolRequest.make(
        pool,
        patient_id=cmd.patient_id,
        reason=cmd.reason,
        question=cmd.question,
        now=ports.clock(),
        expire_minutes=_expire_minutes(_options(uow, cmd.organisation_id)),
        by=acting_for_patient(cmd.actor, cmd.patient_id),
    )
    uow.ensure_subject(cmd.patient_id)
    return uow.save(request, pool)


def accept_request(cmd: AcceptRequest, uow: UnitOfWork, ports: Ports) -> Saved:
    """One transaction: the request is accepted and the doctor has the consultation (a new one
    for a patient's request, the escalated one otherwise). Two accepts write the request's
    stream at the same version: one commits; the bus retries the other, which then finds it
    accepted (``AlreadyTaken``)."""
    request = uow.get(PoolRequest, cmd.request_id)
    pool = uow.get(OnCallPool, request.pool_id)
    doctor_id, now = cmd.actor.actor_id, ports.clock()
    if not request.check_acceptable(doctor_id, pool):  # this doctor's retry: answer the same
        assert request.consultation_id is not None
        saved = uow.save(request)
        return RequestAccepted(saved.aggregate_id, saved.version, None, request.consultation_id)
    if request.consultation_id is None:
        consultation, changed = _new_consultation(request, doctor_id, now, uow, ports, cmd.actor)
    else:
        consultation, changed = _take_escalated(request, doctor_id, now, uow, ports, cmd.actor)
    request.accept(doctor_id, consultation.id, now, by=cmd.actor)
    saved = uow.save(request, consultation, *changed)
    return RequestAccepted(saved.aggregate_id, saved.version, saved.position, consultation.id)


def withdraw_request(cmd: WithdrawRequest, uow: UnitOfWork, ports: Ports) -> Saved:
    request = uow.get(PoolRequest, cmd.request_id)
    request.withdraw(ports.clock(), by=cmd.actor)
    return uow.save(request)


def expire_request(cmd: ExpireRequest, uow: UnitOfWork, ports: Ports) -> Saved:
    """Nothing changes before the request's expiry, nor once it is over."""
    request = uow.get(PoolRequest, cmd.request_id)
    request.expire(ports.clock(), by=cmd.actor)
    return uow.save(request)


def escalate_consultation(cmd: EscalateConsultation, uow: UnitOfWork, ports: Ports) -> Saved:
    """The consultation is escalated and its organisation's pool (of the named doctor's
    specialty) asked, in one transaction; nothing changes when nothing is due."""
    consultation = uow.get(Consultation, cmd.consultation_id)
    if consultation.organisation_id is None:
        raise InvalidValue("a consultation of no organisation has no on-call pool")
    version, now = consultation.version, ports.clock()
    why = "urgent-offer-lapsed" if consultation.offer_lapses() is not None else "answer-overdue"
    if not consultation.escalate(why, now, by=cmd.actor):
        return uow.save(consultation)
    pool = _pool(uow, consultation.organisation_id, _specialty_of(uow, consultation), cmd.actor)
    request = PoolRequest.for_escalation(
        pool,
        consultation_id=consultation.id,
        consultation_version=version,
        patient_id=consultation.patient_id,
        urgent=not consultation.asynchronous,
        now=now,
        expire_minutes=_expire_minutes(_options(uow, consultation.organisation_id)),
        by=cmd.actor,
    )
    uow.ensure_subject(consultation.patient_id)
    return uow.save(request, consultation, pool)


def _new_consultation(
    request: PoolRequest,
    doctor_id: UUID,
    now: datetime,
    uow: UnitOfWork,
    ports: Ports,
    actor: Actor,
) -> tuple[Consultation, list[Aggregate]]:
    """The patient's request becomes the accepting doctor's consultation, taken at once:
    urgent (occupying the doctor's days like any urgent booking) or a question."""
    changed: list[Aggregate] = []
    by = acting_for_patient(actor, request.patient_id)
    if request.urgent:
        window, days = booking.urgent_window(uow, doctor_id, now, URGENT_MINUTES, actor)
        consultation = Consultation.book_urgent(
            patient_id=request.patient_id,
            doctor_id=doctor_id,
            organisation_id=request.organisation_id,
            reason=request.reason or "",
            now=window.start,
            minutes=URGENT_MINUTES,
            by=by,
        )
        flagged = booking.occupy_urgently(uow, days, consultation.id, window, actor)
        room = open_room(uow, ports.rooms, consultation, now, actor)
        changed = [*days.values(), *flagged, *room]
    else:
        consultation = Consultation.ask(
            patient_id=request.patient_id,
            doctor_id=doctor_id,
            organisation_id=request.organisation_id,
            type_code=ON_CALL_TYPE,
            question=request.question or "",
            now=now,
            options=_options(uow, request.organisation_id),
            by=by,
        )
    consultation.take(doctor_id, now, by=actor)
    uow.ensure_subject(request.patient_id)
    uow.attach(ports.ties.link(request.patient_id, request.organisation_id, Link.CARE))
    uow.attach(
        ports.parties.record(
            consultation.id, request.patient_id, doctor_id, request.organisation_id
        )
    )
    return consultation, changed


def _take_escalated(
    request: PoolRequest,
    doctor_id: UUID,
    now: datetime,
    uow: UnitOfWork,
    ports: Ports,
    actor: Actor,
) -> tuple[Consultation, list[Aggregate]]:
    """The escalated consultation is the accepting doctor's now: an urgent one's time moves
    from the named doctor's days to theirs; the parties index names them."""
    assert request.consultation_id is not None
    consultation = uow.get(Consultation, request.consultation_id)
    changed: list[Aggregate] = []
    if not consultation.asynchronous:
        released = booking.release_days(uow, consultation, actor)
        days = booking.doctor_days(uow, doctor_id, consultation.slot, actor)
        flagged = booking.occupy_urgently(uow, days, consultation.id, consultation.slot, actor)
        changed = [*released.values(), *days.values(), *flagged]
    consultation.take(doctor_id, now, by=actor)
    uow.attach(ports.parties.reassign(consultation.id, doctor_id))
    return consultation, changed


def _pool(uow: UnitOfWork, organisation_id: UUID, specialty: str, actor: Actor) -> OnCallPool:
    found = uow.find(OnCallPool, OnCallPool.create_id(organisation_id, specialty))
    return found or OnCallPool.open(organisation_id, specialty, by=actor)


def _options(uow: UnitOfWork, organisation_id: UUID) -> dict[str, Any]:
    organisation = uow.find(Organisation, organisation_id)
    return dict(organisation.templates.get(ON_CALL_TYPE, {})) if organisation else {}


def _expire_minutes(options: dict[str, Any]) -> int | None:
    value = options.get("expire_minutes")
    valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if valid else None


def _specialty_of(uow: UnitOfWork, consultation: Consultation) -> str:
    """The pool of the named doctor's specialty (``general`` when it is not a code)."""
    schedule = uow.find(DoctorSchedule, DoctorSchedule.create_id(consultation.doctor_id))
    try:
        return specialty_code(schedule.specialty if schedule else "general")
    except InvalidValue:
        return "general"
