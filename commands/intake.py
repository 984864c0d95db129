"""Intake (C4): the complaint form of a consultation, the answers to an organisation's intake
forms, and the forms themselves (published by org admins, one new version at a time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from commands.ports import Ports, UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor
from domain.consultation import Consultation
from domain.intake import IntakeForm, complaint


@dataclass(frozen=True)
class SubmitComplaint:
    """The patient's complaint before the consultation; a second one replaces the first."""

    actor: Actor
    consultation_id: UUID
    locations: tuple[str, ...]
    severity: int
    onset: datetime
    duration_minutes: int | None
    symptoms: tuple[str, ...]
    text: str | None


@dataclass(frozen=True)
class AnswerIntakeForm:
    """Answers to one version of an organisation's intake form, for a consultation with it."""

    actor: Actor
    consultation_id: UUID
    form_code: str
    version: int
    answers: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class PublishIntakeForm:
    actor: Actor
    organisation_id: UUID
    code: str
    title: str
    questions: tuple[dict[str, Any], ...]


def submit_complaint(cmd: SubmitComplaint, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    now = ports.clock()
    form = complaint(
        locations=list(cmd.locations),
        severity=cmd.severity,
        onset=cmd.onset,
        duration_minutes=cmd.duration_minutes,
        symptoms=list(cmd.symptoms),
        text=cmd.text,
        now=now,
    )
    consultation.submit_intake(form, now, by=cmd.actor)
    return uow.save(consultation)


def answer_intake_form(cmd: AnswerIntakeForm, uow: UnitOfWork, ports: Ports) -> Saved:
    """Only forms of the consultation's own organisation; checked against the version given."""
    consultation = uow.get(Consultation, cmd.consultation_id)
    organisation = consultation.organisation_id or consultation.id  # none: no form is found
    form_id = IntakeForm.create_id(organisation, cmd.form_code)
    form = uow.find(IntakeForm, form_id)
    if form is None:
        raise NotFound("Intake form", form_id)
    answers = form.answers_for(cmd.version, dict(cmd.answers))
    consultation.answer_form(form.code, cmd.version, answers, ports.clock(), by=cmd.actor)
    return uow.save(consultation)


def publish_intake_form(cmd: PublishIntakeForm, uow: UnitOfWork) -> Saved:
    form_id = IntakeForm.create_id(cmd.organisation_id, cmd.code)
    form = uow.find(IntakeForm, form_id) or IntakeForm.start(
        cmd.organisation_id, cmd.code, by=cmd.actor
    )
    form.publish(cmd.title, [dict(q) for q in cmd.questions], by=cmd.actor)
    return uow.save(form)
