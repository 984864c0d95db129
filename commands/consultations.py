"""A consultation's life after booking: the waiting room, the call, asynchronous questions and
their answers, and the rating afterwards. Each command loads the consultation, lets it decide,
and saves what changed; times come from the ports' clock."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from commands.rooms import room_of
from domain.actor import Actor, Role
from domain.consultation import Consultation
from domain.doctor_desk import DoctorDesk
from domain.errors import InvalidValue
from domain.organisation import Organisation
from domain.patient import Link, record_of


@dataclass(frozen=True)
class CheckIn:
    """The patient (their holder, or a caregiver with the attend scope) enters the waiting
    room."""

    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class TakeConsultation:
    """The doctor accepts an urgent offer or an asynchronous question made to them."""

    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class AdmitPatient:
    """The doctor lets the waiting patient in: the call starts."""

    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class CompleteConsultation:
    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class AskQuestion:
    """An asynchronous consultation: a question to a doctor of an organisation."""

    actor: Actor
    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID
    type_code: str
    question: str


@dataclass(frozen=True)
class AnswerQuestion:
    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class CloseConsultation:
    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class ReopenConsultation:
    actor: Actor
    consultation_id: UUID


@dataclass(frozen=True)
class RateConsultation:
    actor: Actor
    consultation_id: UUID
    score: int
    comment: str | None = None


def check_in(cmd: CheckIn, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    consultation.check_in(ports.clock(), by=cmd.actor)
    return uow.save(consultation)


def take_consultation(cmd: TakeConsultation, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    consultation.take(cmd.actor.actor_id, ports.clock(), by=cmd.actor)
    return uow.save(consultation)


def admit_patient(cmd: AdmitPatient, uow: UnitOfWork, ports: Ports) -> Saved:
    """One patient at a time: the doctor's desk and the consultation change together, so two
    racing admissions of one doctor let exactly one through."""
    consultation = uow.get(Consultation, cmd.consultation_id)
    desk = _desk(uow, consultation.doctor_id, cmd.actor)
    consultation.admit(ports.clock(), by=cmd.actor)
    desk.occupy(consultation.id, by=cmd.actor)
    return uow.save(consultation, desk)


def complete_consultation(cmd: CompleteConsultation, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    desk = _desk(uow, consultation.doctor_id, cmd.actor)
    consultation.complete(ports.clock(), by=cmd.actor)
    desk.free(consultation.id, by=cmd.actor)
    room = room_of(uow, consultation.id)
    if room is not None:  # the call is over: its room ends with it
        room.end(ports.clock(), by=cmd.actor)
    return uow.save(consultation, desk, *([room] if room else []))


def ask_question(cmd: AskQuestion, uow: UnitOfWork, ports: Ports) -> Saved:
    """The doctor must work for the organisation; its booking template for the type presets
    the answer deadline and the reopening window."""
    if cmd.organisation_id not in ports.ties.memberships(cmd.doctor_id):
        raise InvalidValue("the doctor does not work for that organisation")
    organisation = uow.find(Organisation, cmd.organisation_id)
    options = organisation.templates.get(cmd.type_code, {}) if organisation else {}
    consultation = Consultation.ask(
        patient_id=cmd.patient_id,
        doctor_id=cmd.doctor_id,
        organisation_id=cmd.organisation_id,
        type_code=cmd.type_code,
        question=cmd.question,
        now=ports.clock(),
        options=options,
        by=acting_for_patient(cmd.actor, cmd.patient_id),
    )
    uow.ensure_subject(cmd.patient_id)
    uow.attach(ports.ties.link(cmd.patient_id, cmd.organisation_id, Link.CARE))
    uow.attach(
        ports.parties.record(consultation.id, cmd.patient_id, cmd.doctor_id, cmd.organisation_id)
    )
    return uow.save(consultation)


def answer_question(cmd: AnswerQuestion, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    consultation.answer(cmd.actor.actor_id, ports.clock(), by=cmd.actor)
    return uow.save(consultation)


def close_consultation(cmd: CloseConsultation, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    consultation.close(ports.clock(), by=cmd.actor)
    return uow.save(consultation)


def reopen_consultation(cmd: ReopenConsultation, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    consultation.reopen(ports.clock(), by=cmd.actor)
    return uow.save(consultation)


def rate_consultation(cmd: RateConsultation, uow: UnitOfWork) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    consultation.rate(cmd.score, cmd.comment, by=cmd.actor)
    return uow.save(consultation)


def _desk(uow: UnitOfWork, doctor_id: UUID, actor: Actor) -> DoctorDesk:
    found = uow.find(DoctorDesk, DoctorDesk.create_id(doctor_id))
    return found or DoctorDesk(doctor_id=doctor_id, by=actor)


def acting_for_patient(actor: Actor, patient_id: UUID) -> Actor:
    """The actor as recorded: on the patient's behalf unless it is the patient themself."""
    own = actor.role is Role.PATIENT and record_of(actor.actor_id) == patient_id
    return actor if own or actor.on_behalf_of == patient_id else actor.acting_for(patient_id)
