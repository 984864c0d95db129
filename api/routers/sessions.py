"""Sessions: sign in (with a second factor), step up, sign out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from api.account_schemas import CodeBody, SessionOut, SignIn
from api.auth import CurrentSession, acting_account, client_address
from api.problems import PROBLEM_RESPONSES, Problem
from api.state import services_of
from commands.accounts import InvalidCredentials
from commands.sign_in import SecondFactorRequired, SignedIn, SteppedUp, StepUp
from commands.sign_in import SignIn as SignInCommand
from domain.account import AccountDeactivated, AccountLocked, TotpNotEnrolled

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
def sign_in(body: SignIn, request: Request) -> dict[str, Any]:
    services, client = services_of(request), client_address(request)
    until = services.throttle.locked_until(client)
    if until is not None:
        raise Problem(
            429,
            "too-many-attempts",
            "Too many failed sign-ins from here",
            retry_after=until.isoformat(),
        )
    try:
        signed = services.bus.answer(SignInCommand(body.email, body.password, body.code), SignedIn)
    except InvalidCredentials:
        services.throttle.failed(client)
        raise Problem(401, "invalid-credentials", "Wrong email, password or code") from None
    except SecondFactorRequired:
        raise Problem(
            401,
            "second-factor-required",
            "Add the code from your authenticator app (or a recovery code)",
        ) from None
    except AccountLocked as locked:
        raise Problem(
            429,
            "account-locked",
            "Too many failed attempts; try again later",
            locked_until=str(locked),
        ) from None
    except AccountDeactivated:
        raise Problem(403, "account-deactivated", "This account was deactivated") from None
    return {
        "token": signed.token,
        "account_id": signed.aggregate_id,
        "role": signed.role.value,
        "enrolment_only": signed.enrolment_only,
    }


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, current: CurrentSession) -> Response:
    services_of(request).sessions.revoke(current[1])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sessions/current/step-up", status_code=status.HTTP_204_NO_CONTENT)
def step_up(body: CodeBody, request: Request, current: CurrentSession) -> Response:
    """Verify a fresh code; sensitive actions are allowed for the next 5 minutes."""
    session, token = current
    services = services_of(request)
    try:
        ok = services.bus.answer(StepUp(acting_account(session), body.code), SteppedUp).ok
    except TotpNotEnrolled:
        raise Problem(409, "no-second-factor", "Set up two-factor authentication first") from None
    except AccountLocked:
        raise Problem(429, "account-locked", "Too many failed attempts; try again later") from None
    if not ok:
        raise Problem(401, "invalid-code", "That code is wrong or was already used")
    services.sessions.step_up(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
