"""The one authentication and authorization dependency every route goes through."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters import forwarded
from adapters.sessions import Session as Session  # (what routes annotate a session with)
from api.policy import (
    STAFF,
    Action,
    ConsultationScope,
    DoctorScope,
    OrganisationScope,
    Subject,
    TeleconferenceScope,
    Ties,
    decide,
    decide_for_consultation,
    decide_for_doctor,
    decide_for_organisation,
    decide_for_teleconference,
)
from api.problems import Problem
from api.reads import await_position
from api.state import services_of
from commands.results import NotFound
from domain.actor import Actor, Role
from domain.patient import record_of
from domain.teleconference import ParticipantKind

_bearer = HTTPBearer(
    auto_error=False,
    description="A person's session token from `POST /v1/sessions`, or a machine client's "
    "token from `POST /v1/oauth/token` (a system actor of its organisation)",
)


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    correlation_id: Annotated[str | None, Header(alias="X-Correlation-Id")] = None,
    organisation: Annotated[
        UUID | None,
        Header(
            alias="X-Organisation-Id",
            description="For staff of several organisations: the one to act for (default: "
            "the first they joined)",
        ),
    ] = None,
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "unauthenticated", "A bearer token is required")
    services = services_of(request)
    session = services.sessions.resolve(credentials.credentials)
    if session is None:
        raise Problem(401, "unauthenticated", "The bearer token is unknown, expired or revoked")
    if session.enrolment_only:
        raise Problem(
            401,
            "second-factor-enrolment-required",
            "Set up two-factor authentication first: POST /v1/accounts/me/totp",
        )
    request.state.session = session
    organisation_id = session.organisation_id
    if session.role in STAFF or session.role is Role.ANALYST:
        memberships = services.relations.memberships(session.account_id)
        if organisation is not None and organisation not in memberships:
            raise Problem(403, "not-a-member", "You do not work for that organisation")
        if organisation is not None:
            organisation_id = organisation
        elif organisation_id not in memberships:
            organisation_id = memberships[0] if memberships else None
    return Actor(
        session.account_id, session.role, organisation_id, None, _uuid_or_new(correlation_id)
    )


def current_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[Session, str]:
    """The signed-in session itself (also one that may only enrol its second factor)."""
    token = credentials.credentials if credentials else ""
    session = services_of(request).sessions.resolve(token)
    if session is None:
        raise Problem(401, "unauthenticated", "Sign in first (POST /v1/sessions)")
    if session.role is Role.SYSTEM:  # a machine client's token: it has no account
        raise Problem(403, "forbidden", "Only a person's session, not a machine client's")
    return session, token


def require_step_up(session: Session) -> None:
    """Sensitive actions need a code verified in the last 5 minutes."""
    if not session.stepped_up(datetime.now(UTC)):
        raise Problem(
            401,
            "step-up-required",
            "Confirm with a code from your authenticator app: POST /v1/sessions/current/step-up",
        )


def acting_account(session: Session) -> Actor:
    """The account acting on itself (a session that may only enrol its second factor, too)."""
    return Actor(session.account_id, session.role, session.organisation_id)


def stepped_up_now(session: Session) -> bool:
    return session.stepped_up(datetime.now(UTC))


def _refuse(action: Action, detail: str = "Your role does not allow this here") -> Problem:
    return Problem(403, "forbidden", detail, action=action.value)


def authorize(actor: Actor, action: Action) -> None:
    """Raise 403 unless the actor's role may take ``action`` at all (no record involved)."""
    if not decide(actor, action):
        raise _refuse(action)


def client_address(request: Request) -> str:
    """The client's address, for per-address throttling (``X-Forwarded-For`` counts only
    from ``TELEMED_TRUSTED_PROXIES``)."""
    peer = request.client.host if request.client else "unknown"
    proxies = services_of(request).settings.trusted_proxies
    return forwarded.client_address(peer, request.headers.getlist("x-forwarded-for"), proxies)


def patient_subject(request: Request, patient_id: UUID) -> Subject:
    """The record an action touches (404 if there is none), as the policy sees it: from the
    write-side registrations index (written with the record's first event), loading nothing."""
    found = services_of(request).patient_registrations.of(patient_id)
    if found is None:
        raise NotFound("Patient", patient_id)
    return Subject(found.patient_id, found.organisation_id)


def ties_to_patient(request: Request, actor: Actor, patient_id: UUID) -> Ties:
    """The actor's ties to a record: own, holder, care relationship, delegation scopes."""
    found = services_of(request).relations.ties(actor.actor_id, actor.organisation_id, patient_id)
    return Ties(
        own=found.own,
        holder=found.holder,
        care_organisations=found.care_organisations,
        grant_scopes=found.grant_scopes,
    )


def _assisted(request: Request, actor: Actor) -> frozenset[UUID]:
    if actor.role is not Role.ASSISTANT:
        return frozenset()
    return services_of(request).relations.assisted_doctors(actor.actor_id, actor.organisation_id)


def authorize_patient(request: Request, actor: Actor, action: Action, subject: Subject) -> Actor:
    """Raise 403 unless the policy allows ``action`` on the record; answers the actor to record
    in the events (acting on the patient's behalf for a holder or a grantee)."""
    verdict = decide(actor, action, subject, ties_to_patient(request, actor, subject.subject_id))
    if not verdict:
        raise _refuse(action)
    return actor.acting_for(subject.subject_id) if verdict.on_behalf else actor


def authorize_doctor(request: Request, actor: Actor, action: Action, scope: DoctorScope) -> None:
    ties = Ties(assisted_doctors=_assisted(request, actor))
    if not decide_for_doctor(actor, action, scope, ties):
        raise _refuse(action, "Your role does not allow this for that doctor")


def doctor_scope(request: Request, doctor_id: UUID) -> DoctorScope:
    """The doctor, and the organisations the doctor works for now."""
    return DoctorScope(doctor_id, frozenset(services_of(request).relations.memberships(doctor_id)))


def consultation_ties(request: Request, actor: Actor, scope: ConsultationScope) -> Ties:
    return replace(
        ties_to_patient(request, actor, scope.patient_id),
        assisted_doctors=_assisted(request, actor),
    )


def consultation_scope(request: Request, consultation_id: UUID) -> ConsultationScope:
    """Whose consultation it is, from the index the booking wrote (404 if there is none)."""
    parties = services_of(request).parties.of(consultation_id)
    if parties is None:
        raise NotFound("Consultation", consultation_id)
    return ConsultationScope(parties.patient_id, parties.doctor_id, parties.organisation_id)


def authorize_consultation(
    request: Request, actor: Actor, action: Action, scope: ConsultationScope
) -> Actor:
    verdict = decide_for_consultation(
        actor, action, scope, consultation_ties(request, actor, scope)
    )
    if not verdict:
        raise _refuse(action, "Your role does not allow this for that consultation")
    return actor.acting_for(scope.patient_id) if verdict.on_behalf else actor


def organisation_chain(request: Request, organisation_id: UUID | None) -> OrganisationScope:
    """The organisation and those above it, nearest first (at most 20 levels)."""
    return OrganisationScope(services_of(request).organisation_parents.chain(organisation_id))


def authorize_organisation(
    request: Request, actor: Actor, action: Action, organisation_id: UUID | None
) -> None:
    if not decide_for_organisation(actor, action, organisation_chain(request, organisation_id)):
        raise _refuse(action, "Only the organisation's own people (or those above it)")


def teleconference_scope(request: Request, teleconference_id: UUID) -> TeleconferenceScope:
    """Who organises the teleconference and who is invited (not removed), from its view awaited
    up to the log's head (404 if there is none)."""
    services = services_of(request)
    await_position(services, "teleconference_view", services.recorder.max_notification_id())
    row = services.teleconferences.get(teleconference_id)
    if row is None:
        raise NotFound("Teleconference", teleconference_id)
    invited = [p for p in row.participants if p.invitation != "removed"]
    return TeleconferenceScope(
        row.organiser_id,
        frozenset(p.participant_id for p in invited if p.kind == ParticipantKind.STAFF),
        frozenset(p.participant_id for p in invited if p.kind == ParticipantKind.PATIENT),
    )


def authorize_teleconference(
    request: Request,
    actor: Actor,
    action: Action,
    scope: TeleconferenceScope,
    participant_id: UUID | None = None,
) -> tuple[Actor, UUID]:
    """Raise 403 unless the policy allows it; answers the actor to record (on a patient's
    behalf for a holder or a caregiver) and the participant they act as (``participant_id``
    if given; else themself, or for the patient side the first participant they act for)."""
    if actor.role is not Role.PATIENT:
        if participant_id in (None, actor.actor_id) and decide_for_teleconference(
            actor, action, scope
        ):
            return actor, actor.actor_id
        raise _refuse(action, "Only the teleconference's organiser and participants")
    own = record_of(actor.actor_id)
    candidates = [participant_id] if participant_id else [own, *sorted(scope.patients - {own})]
    for patient_id in candidates:
        if patient_id not in scope.patients:
            continue
        ties = NO_TIES_OWN if patient_id == own else ties_to_patient(request, actor, patient_id)
        verdict = decide_for_teleconference(actor, action, scope, patient_id, ties)
        if verdict:
            acting = actor.acting_for(patient_id) if verdict.on_behalf else actor
            return acting, patient_id
    raise _refuse(action, "Only the teleconference's organiser and participants")


NO_TIES_OWN = Ties(own=True)


def _uuid_or_new(value: str | None) -> UUID:
    try:
        return UUID(value) if value else uuid4()
    except ValueError:
        return uuid4()


CurrentActor = Annotated[Actor, Depends(current_actor)]
CurrentSession = Annotated[tuple[Session, str], Depends(current_session)]
