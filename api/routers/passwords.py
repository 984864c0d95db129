"""Passwords: change one, or reset a forgotten one by mailed link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from api.account_schemas import PasswordChange, ResetConfirm, ResetRequest
from api.auth import CurrentSession, acting_account, client_address, require_step_up, stepped_up_now
from api.problems import PROBLEM_RESPONSES, Problem
from api.state import services_of
from commands.accounts import InvalidCredentials, StepUpRequired
from commands.passwords import ChangePassword, RequestReset, ResetPassword

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.post("/accounts/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, request: Request, current: CurrentSession) -> Response:
    """Needs a recent step-up when two-factor is on; signs out every session."""
    session, _ = current
    services = services_of(request)
    change = ChangePassword(
        acting_account(session), body.current, body.new, stepped_up_now(session)
    )
    try:
        services.bus.handle(change)
    except StepUpRequired:
        require_step_up(session)
        raise
    except InvalidCredentials:
        raise Problem(401, "invalid-credentials", "The current password is wrong") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/accounts/password-reset", status_code=status.HTTP_202_ACCEPTED)
def request_password_reset(body: ResetRequest, request: Request) -> dict[str, Any]:
    """Mails a single-use link valid for an hour. The answer is the same whether or not the
    address has an account."""
    services = services_of(request)
    if services.throttle.locked_until(client_address(request)) is None:
        services.bus.handle(RequestReset(body.email))
    return {"status": "if that address has an account, a link is on its way"}


@router.post("/accounts/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
def confirm_password_reset(body: ResetConfirm, request: Request) -> Response:
    """Set a new password with the emailed token; every session is signed out."""
    services = services_of(request)
    try:
        services.bus.handle(ResetPassword(body.token, body.password))
    except InvalidCredentials:
        services.throttle.failed(client_address(request))
        raise Problem(
            400, "invalid-reset-link", "The link is not valid (used or expired)"
        ) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
