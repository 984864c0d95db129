"""The one authentication and authorization dependency every route goes through."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.sessions import Session
from api.policy import (
    Action,
    ConsultationScope,
    DoctorScope,
    Subject,
    decide,
    decide_for_consultation,
    decide_for_doctor,
)
from api.problems import Problem
from api.state import services_of
from domain.actor import Actor
from domain.delegation import Scope

_bearer = HTTPBearer(auto_error=False, description="Bearer token issued by `telemed token`")


def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    correlation_id: Annotated[str | None, Header(alias="X-Correlation-Id")] = None,
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "unauthenticated", "A bearer token is required")
    services = services_of(request)
    session = services.sessions.resolve(credentials.credentials)
    if session is not None:
        if session.enrolment_only:
            raise Problem(
                401,
                "second-factor-enrolment-required",
                "Set up two-factor authentication first: POST /v1/accounts/me/totp",
            )
        request.state.session = session
        return Actor(
            session.account_id,
            session.role,
            session.organisation_id,
            None,
            _uuid_or_new(correlation_id),
        )
    actor = services.tokens.resolve(credentials.credentials)
    if actor is None:
        raise Problem(401, "unauthenticated", "The bearer token is unknown, expired or revoked")
    correlation = _uuid_or_new(correlation_id)
    return Actor(actor.actor_id, actor.role, actor.organisation_id, None, correlation)


def current_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[Session, str]:
    """The signed-in session itself (also one that may only enrol its second factor)."""
    token = credentials.credentials if credentials else ""
    session = services_of(request).sessions.resolve(token)
    if session is None:
        raise Problem(401, "unauthenticated", "Sign in first (POST /v1/sessions)")
    return session, token


def require_step_up(session: Session) -> None:
    """Sensitive actions need a code verified in the last 5 minutes."""
    if not session.stepped_up(datetime.now(UTC)):
        raise Problem(
            401,
            "step-up-required",
            "Confirm with a code from your authenticator app: POST /v1/sessions/current/step-up",
        )


def authorize(actor: Actor, action: Action, subject: Subject | None = None) -> None:
    """Raise 403 unless the policy allows ``actor`` to take ``action`` on ``subject``."""
    if not decide(actor, action, subject):
        raise Problem(403, "forbidden", "Your role does not allow this here", action=action.value)


def authorize_for_patient(
    request: Request, actor: Actor, action: Action, subject: Subject, scope: Scope
) -> Actor:
    """As ``authorize``, or by a delegation grant in force for that scope; answers the actor as
    acting on the patient's behalf when a grant was needed."""
    if decide(actor, action, subject):
        return actor
    if services_of(request).grants.allows(actor.actor_id, subject.subject_id, scope):
        return actor.acting_for(subject.subject_id)
    raise Problem(403, "forbidden", "Your role does not allow this here", action=action.value)


def authorize_doctor(actor: Actor, action: Action, scope: DoctorScope) -> None:
    if not decide_for_doctor(actor, action, scope):
        raise Problem(
            403, "forbidden", "Your role does not allow this for that doctor", action=action.value
        )


def authorize_consultation(actor: Actor, action: Action, scope: ConsultationScope) -> None:
    if not decide_for_consultation(actor, action, scope):
        raise Problem(
            403,
            "forbidden",
            "Your role does not allow this for that consultation",
            action=action.value,
        )


def _uuid_or_new(value: str | None) -> UUID:
    try:
        return UUID(value) if value else uuid4()
    except ValueError:
        return uuid4()


CurrentActor = Annotated[Actor, Depends(current_actor)]
CurrentSession = Annotated[tuple[Session, str], Depends(current_session)]
