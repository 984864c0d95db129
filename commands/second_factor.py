"""The second factor (TOTP): enrol a secret, confirm it with a first code (and get recovery
codes), turn it off (patients only: it is mandatory for staff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from commands.accounts import require_step_up
from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from domain.account import Account, TotpNotEnrolled
from domain.actor import Actor, Role
from domain.errors import DomainError


class SecondFactorMandatory(DomainError):
    """Staff cannot turn two-factor authentication off."""


@dataclass(frozen=True)
class EnrolTotp:
    """A new secret, not active until confirmed; replacing a confirmed one needs a step-up."""

    actor: Actor
    stepped_up: bool = False


@dataclass(frozen=True)
class TotpEnrolled(Saved):
    secret: str
    email: str


def enrol_totp(cmd: EnrolTotp, uow: UnitOfWork, ports: Ports) -> TotpEnrolled:
    account = uow.get(Account, cmd.actor.actor_id)
    require_step_up(account, cmd.stepped_up)
    secret = ports.credentials.new_totp_secret()
    account.enrol_totp(secret=secret, by=_self(account))
    saved = uow.save(account)
    return TotpEnrolled(saved.aggregate_id, saved.version, saved.position, secret, account.email)


@dataclass(frozen=True)
class ConfirmTotp:
    actor: Actor
    code: str


@dataclass(frozen=True)
class TotpConfirmed(Saved):
    """``recovery_codes``: 10 single-use codes, shown once; None when the code was wrong."""

    recovery_codes: tuple[str, ...] | None


def confirm_totp(cmd: ConfirmTotp, uow: UnitOfWork, ports: Ports) -> TotpConfirmed:
    account = uow.get(Account, cmd.actor.actor_id)
    if account.totp_secret is None:
        raise TotpNotEnrolled(str(account.id))
    step = ports.credentials.totp_step(account.totp_secret, cmd.code)
    codes: tuple[str, ...] | None = None
    if step is None or not account.use_totp_step(step, by=_self(account)):
        account.record_failure("otp", datetime.now(UTC), by=_self(account))
    else:
        codes = tuple(ports.credentials.new_recovery_codes())
        hashes = [ports.credentials.recovery_code_hash(c) for c in codes]
        account.confirm_totp(hashes, by=_self(account))
    saved = uow.save(account)
    return TotpConfirmed(saved.aggregate_id, saved.version, saved.position, codes)


@dataclass(frozen=True)
class DisableTotp:
    """Patients may turn the second factor off (with a recent step-up); staff may not."""

    actor: Actor
    stepped_up: bool = False


def disable_totp(cmd: DisableTotp, uow: UnitOfWork, ports: Ports) -> Saved:
    account = uow.get(Account, cmd.actor.actor_id)
    if not account.totp_confirmed:
        raise TotpNotEnrolled(str(account.id))
    require_step_up(account, cmd.stepped_up)
    if account.role is not Role.PATIENT:
        raise SecondFactorMandatory("two-factor authentication is mandatory for staff")
    account.disable_totp(by=_self(account))
    return uow.save(account)


def _self(account: Account) -> Actor:
    return Actor(account.id, account.role, account.organisation_id)
