"""Intake (C4): the patient's side gives the complaint and answers the organisation's forms
before the consultation (replaced until the doctor admits: then 409); the consultation's doctor
and the organisation's care team read it (an attributed read). Org admins publish intake forms,
one immutable version at a time."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field, StringConstraints

from api.auth import (
    CurrentActor,
    authorize,
    authorize_consultation,
    authorize_organisation,
    consultation_scope,
)
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import PurposeHeader, accepted, await_position, record_access
from api.schemas import Accepted, Body, Timestamp
from api.state import services_of
from commands import intake as cmd
from commands.results import NotFound
from domain.intake import IntakeForm

router = APIRouter(tags=["intake"], responses=PROBLEM_RESPONSES)

Code = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class ComplaintBody(Body):
    """Codes: ``domain.intake.BODY_SITES`` and ``SYMPTOMS`` (README, "Intake")."""

    locations: list[Code] = Field(min_length=1, max_length=16)
    severity: int = Field(ge=1, le=10)
    onset: Timestamp
    duration_minutes: int | None = Field(default=None, ge=1, le=52_560_000)
    symptoms: list[Code] = Field(default_factory=list, max_length=14)
    text: Annotated[str, StringConstraints(max_length=4000)] | None = None


class AnswersBody(Body):
    version: int = Field(ge=1, le=100_000)
    answers: dict[Code, Any] = Field(max_length=100)


class QuestionBody(Body):
    code: Code
    type: Annotated[
        str,
        StringConstraints(pattern="^(text|number|single-choice|multiple-choice|boolean|date)$"),
    ]
    label: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    options: list[Code] = Field(default_factory=list, max_length=50)


class FormBody(Body):
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    questions: list[QuestionBody] = Field(min_length=1, max_length=100)


@router.post("/v1/consultations/{consultation_id}/intake", response_model=Accepted)
def submit_complaint(
    consultation_id: UUID,
    body: ComplaintBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The complaint form: the patient, their holder or a caregiver with the ``attend`` scope
    (recorded on the patient's behalf). Encrypted with the patient's key; a new one replaces
    it until the doctor admits the patient (409 after). Unknown codes: 422 naming the field."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, Action.FILL_INTAKE, scope)
    saved = services_of(request).bus.handle(
        cmd.SubmitComplaint(
            acting,
            consultation_id,
            tuple(body.locations),
            body.severity,
            body.onset,
            body.duration_minutes,
            tuple(body.symptoms),
            body.text,
        )
    )
    return accepted(response, saved)


@router.post(
    "/v1/consultations/{consultation_id}/intake/forms/{form_code}", response_model=Accepted
)
def answer_form(
    consultation_id: UUID,
    form_code: Code,
    body: AnswersBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Answers to ``version`` of an intake form of the consultation's organisation, checked
    against exactly that version (422 naming the question); they replace earlier answers to
    the form until the doctor admits the patient."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, Action.FILL_INTAKE, scope)
    saved = services_of(request).bus.handle(
        cmd.AnswerIntakeForm(
            acting, consultation_id, form_code, body.version, tuple(sorted(body.answers.items()))
        )
    )
    return accepted(response, saved)


@router.get("/v1/consultations/{consultation_id}/intake")
def read_intake(
    consultation_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """The intake as given: for the consultation's doctor, the organisation's care team (an
    assistant: of the doctors they assist) and the patient's side. Every read is on the
    patient's access log. ``requested_forms``: the forms the booking template asks for."""
    services = services_of(request)
    scope = consultation_scope(request, consultation_id)
    actor = authorize_consultation(request, actor, Action.READ_INTAKE, scope)
    head = services.recorder.max_notification_id()
    await_position(services, "intake", head)
    await_position(services, "consultation_view", head)
    found = services.intake.of_consultation(consultation_id)
    consultation = services.consultations.get(consultation_id)
    record_access(services, actor, [scope.patient_id], "consultation.intake", purpose)
    return {
        "consultation_id": consultation_id,
        "patient_id": scope.patient_id,
        "requested_forms": list(consultation.options.get("intake_forms", []))
        if consultation
        else [],
        "submitted_at": found.submitted_at if found else None,
        "complaint": found.complaint if found else None,
        "forms": [
            {
                "form_code": f.form_code,
                "form_version": f.form_version,
                "answered_at": f.answered_at,
                "answers": f.answers,
            }
            for f in (found.forms if found else [])
        ],
    }


@router.post(
    "/v1/organisations/{organisation_id}/intake-forms/{form_code}", response_model=Accepted
)
def publish_form(
    organisation_id: UUID,
    form_code: Code,
    body: FormBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """A new version of the form (the first is 1); published versions never change."""
    authorize_organisation(request, actor, Action.MANAGE_ORGANISATION, organisation_id)
    saved = services_of(request).bus.handle(
        cmd.PublishIntakeForm(
            actor,
            organisation_id,
            form_code,
            body.title,
            tuple(q.model_dump() for q in body.questions),
        )
    )
    return accepted(response, saved)


@router.get("/v1/organisations/{organisation_id}/intake-forms/{form_code}")
def read_form(
    organisation_id: UUID,
    form_code: Code,
    request: Request,
    actor: CurrentActor,
    version: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> dict[str, Any]:
    """A version of the form (the latest unless ``version``): not personal, for anyone
    signed in as staff or patient."""
    authorize(actor, Action.READ_INTAKE_FORM)
    services = services_of(request)
    await_position(services, "intake", services.recorder.max_notification_id())
    form_id = IntakeForm.create_id(organisation_id, form_code)
    form = services.intake.form(form_id, version)
    if form is None:
        raise NotFound("Intake form", form_id)
    return {
        "organisation_id": organisation_id,
        "code": form_code,
        "version": form.version,
        "title": form.title,
        "questions": form.questions,
        "published_at": form.published_at,
    }
