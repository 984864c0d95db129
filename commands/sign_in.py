"""Signing in (password, then a second factor when one is set up) and stepping up (a fresh
code for a sensitive action). Failures and lockouts are recorded as events on the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from commands.accounts import InvalidCredentials, find_account
from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from domain.account import Account, TotpNotEnrolled
from domain.actor import Actor, Role
from domain.errors import DomainError, InvalidValue


class SecondFactorRequired(DomainError):
    """The password was right; a TOTP or recovery code is needed too."""


@dataclass(frozen=True)
class SignIn:
    email: str
    password: str
    code: str | None = None


@dataclass(frozen=True)
class SignedIn(Saved):
    """The account signed in, and the session opened with the save (``token``)."""

    role: Role
    organisation_id: UUID | None
    stepped_up: bool
    enrolment_only: bool
    token: str

    @property
    def account_id(self) -> UUID:
        return self.aggregate_id


def sign_in(cmd: SignIn, uow: UnitOfWork, ports: Ports) -> SignedIn:
    account = authenticate(uow, ports, cmd.email, cmd.password, cmd.code)
    account.signed_in(by=_self(account))
    organisation_id = account.organisations[0] if account.organisations else None
    stepped_up = account.totp_confirmed
    enrolment_only = account.needs_second_factor and not account.totp_confirmed
    token, opens = ports.sessions.opener(
        account.id,
        account.role,
        organisation_id,
        stepped_up=stepped_up,
        enrolment_only=enrolment_only,
    )
    uow.attach(opens)
    saved = uow.save(account)
    return SignedIn(
        saved.aggregate_id,
        saved.version,
        saved.position,
        account.role,
        organisation_id,
        stepped_up,
        enrolment_only,
        token,
    )


def authenticate(
    uow: UnitOfWork, ports: Ports, email: str, password: str, code: str | None
) -> Account:
    """The account the password (and code, when it has a second factor) opens; a failure is
    saved on the account, then raised as ``InvalidCredentials``."""
    now = datetime.now(UTC)
    try:
        account = find_account(uow, ports, email)
    except InvalidValue:
        account = None
    if account is None:
        ports.credentials.verify_password(None, password)  # same work as a real check
        raise InvalidCredentials("wrong email, password or code")
    account.check_not_locked(now)
    if not ports.credentials.verify_password(account.password_hash, password):
        account.record_failure("password", now, by=_self(account))
        uow.save(account)
        raise InvalidCredentials("wrong email, password or code")
    if account.totp_confirmed:
        if not code:
            raise SecondFactorRequired("a code from the authenticator app is needed")
        if not second_factor(ports, account, code):
            account.record_failure("otp", now, by=_self(account))
            uow.save(account)
            raise InvalidCredentials("wrong email, password or code")
    return account


@dataclass(frozen=True)
class StepUp:
    """Verify a fresh code for a sensitive action (within the next 5 minutes)."""

    actor: Actor
    code: str


@dataclass(frozen=True)
class SteppedUp(Saved):
    ok: bool


def step_up(cmd: StepUp, uow: UnitOfWork, ports: Ports) -> SteppedUp:
    now = datetime.now(UTC)
    account = uow.get(Account, cmd.actor.actor_id)
    account.check_not_locked(now)
    if not account.totp_confirmed:
        raise TotpNotEnrolled(str(account.id))
    ok = second_factor(ports, account, cmd.code)
    if not ok:
        account.record_failure("otp", now, by=_self(account))
    saved = uow.save(account)
    return SteppedUp(saved.aggregate_id, saved.version, saved.position, ok)


def second_factor(ports: Ports, account: Account, code: str) -> bool:
    """Use a TOTP code (each time step once) or a recovery code (each once)."""
    assert account.totp_secret is not None
    by = _self(account)
    step = ports.credentials.totp_step(account.totp_secret, code)
    if step is not None:
        return account.use_totp_step(step, by=by)
    return account.use_recovery_code(ports.credentials.recovery_code_hash(code), by=by)


def _self(account: Account) -> Actor:
    return Actor(account.id, account.role, account.organisation_id)
