"""Two-factor authentication: set up TOTP, confirm it (recovery codes), turn it off."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from adapters.crypto.passwords import provisioning_uri
from api.account_schemas import CodeBody
from api.auth import CurrentSession, acting_account, require_step_up, stepped_up_now
from api.problems import PROBLEM_RESPONSES, Problem
from api.state import services_of
from commands.accounts import StepUpRequired
from commands.second_factor import (
    ConfirmTotp,
    DisableTotp,
    EnrolTotp,
    SecondFactorMandatory,
    TotpConfirmed,
    TotpEnrolled,
)
from domain.account import TotpNotEnrolled

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.post("/accounts/me/totp")
def enrol_totp(request: Request, current: CurrentSession) -> dict[str, Any]:
    """A new TOTP secret and its otpauth:// URI (for a QR code); active once confirmed.
    Replacing a confirmed second factor needs a recent step-up."""
    session, _ = current
    enrol = EnrolTotp(acting_account(session), stepped_up_now(session))
    try:
        enrolled = services_of(request).bus.answer(enrol, TotpEnrolled)
    except StepUpRequired:
        require_step_up(session)
        raise
    return {
        "secret": enrolled.secret,
        "provisioning_uri": provisioning_uri(enrolled.secret, enrolled.email),
    }


@router.post("/accounts/me/totp/confirm")
def confirm_totp(body: CodeBody, request: Request, current: CurrentSession) -> dict[str, Any]:
    """Confirm with a first code; answers 10 single-use recovery codes, shown only now."""
    session, token = current
    services = services_of(request)
    try:
        codes = services.bus.answer(
            ConfirmTotp(acting_account(session), body.code), TotpConfirmed
        ).recovery_codes
    except TotpNotEnrolled:
        raise Problem(409, "no-second-factor", "Start with POST /v1/accounts/me/totp") from None
    if codes is None:
        raise Problem(401, "invalid-code", "That code is wrong or was already used")
    services.sessions.step_up(token, complete_enrolment=True)
    return {"recovery_codes": list(codes)}


@router.delete("/accounts/me/totp", status_code=status.HTTP_204_NO_CONTENT)
def disable_totp(request: Request, current: CurrentSession) -> Response:
    """Turn two-factor off (patients only; needs a recent step-up)."""
    session, _ = current
    try:
        services_of(request).bus.handle(
            DisableTotp(acting_account(session), stepped_up_now(session))
        )
    except TotpNotEnrolled:
        raise Problem(409, "no-second-factor", "Two-factor authentication is not on") from None
    except StepUpRequired:
        require_step_up(session)
        raise
    except SecondFactorMandatory:
        raise Problem(
            409, "second-factor-mandatory", "Two-factor authentication is mandatory for staff"
        ) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
