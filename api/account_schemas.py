"""Bodies of the account, session, password and two-factor routes."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Body, Email

#: a password as it is checked at sign-in: whatever was set (the rules may have changed)
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]
#: a password being set: the rules of ``commands.accounts.password_rules``
NewPassword = Annotated[str, StringConstraints(min_length=10, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=20)]


class Registration(Body):
    email: Email
    password: NewPassword


class SignIn(Body):
    email: Annotated[str, StringConstraints(max_length=320)]
    password: Password
    code: Code | None = None


class CodeBody(Body):
    code: Code


class PasswordChange(Body):
    current: Password
    new: NewPassword


class ResetRequest(Body):
    email: Annotated[str, StringConstraints(max_length=320)]


class ResetConfirm(Body):
    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    password: NewPassword


class InvitationAcceptance(Body):
    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    password: NewPassword = Field(
        description="a new password; or, if the address has an account, that account's"
    )
    code: Code | None = Field(
        default=None, description="for an existing account with two-factor: a current code"
    )


class SessionOut(BaseModel):
    token: str
    account_id: UUID
    role: str
    enrolment_only: bool = Field(description="sign-in needs a second factor set up first")
