"""Passwords: change one (knowing the current one), or reset it by a mailed single-use link."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from commands.accounts import (
    InvalidCredentials,
    find_account,
    hash_token,
    password_rules,
    require_step_up,
)
from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from domain.account import Account
from domain.actor import Actor
from domain.errors import InvalidValue

#: what a command that changed nothing answers (an unknown address is not told apart)
NOTHING = Saved(UUID(int=0), 0, None)


@dataclass(frozen=True)
class ChangePassword:
    """Needs the current password, and a recent step-up when two-factor is on; every session
    of the account ends with the change."""

    actor: Actor
    current: str
    new: str
    stepped_up: bool = False


def change_password(cmd: ChangePassword, uow: UnitOfWork, ports: Ports) -> Saved:
    account = uow.get(Account, cmd.actor.actor_id)
    require_step_up(account, cmd.stepped_up)
    password_rules(cmd.new)
    by = Actor(account.id, account.role, account.organisation_id)
    if not ports.credentials.verify_password(account.password_hash, cmd.current):
        account.record_failure("password", datetime.now(UTC), by=by)
        uow.save(account)
        raise InvalidCredentials("the current password is wrong")
    account.change_password(password_hash=ports.credentials.hash_password(cmd.new), by=by)
    uow.attach(ports.sessions.end_all(account.id))
    return uow.save(account)


@dataclass(frozen=True)
class RequestReset:
    """Mail a single-use link valid for an hour; nothing (silently) for an unknown address."""

    email: str


def request_reset(cmd: RequestReset, uow: UnitOfWork, ports: Ports) -> Saved:
    try:
        account = find_account(uow, ports, cmd.email)
    except InvalidValue:
        return NOTHING
    if account is None:
        return NOTHING
    token = f"{account.id.hex}.{secrets.token_urlsafe(24)}"
    token_hash = hash_token(token)
    account.request_reset(
        token_hash=token_hash,
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        by=Actor(account.id, account.role, account.organisation_id),
    )
    link = f"{ports.public_url.rstrip('/')}/reset-password#token={token}"
    uow.attach(
        ports.mail.enqueue(
            account.id,
            f"reset-{token_hash[:32]}",
            account.email,
            "Reset your Telemed password",
            "Someone asked to reset the password of your Telemed account.\n\n"
            f"To choose a new password, open this link within an hour:\n{link}\n\n"
            "If it was not you, ignore this message; your password stays as it is.\n",
        )
    )
    return uow.save(account)


@dataclass(frozen=True)
class ResetPassword:
    """Set a new password with the mailed token (once, within the hour); every session of the
    account ends with it."""

    token: str
    password: str


def reset_password(cmd: ResetPassword, uow: UnitOfWork, ports: Ports) -> Saved:
    password_rules(cmd.password)
    try:
        account_id = UUID(hex=cmd.token.split(".", 1)[0])
    except ValueError:
        raise InvalidCredentials("the link is not valid") from None
    account = uow.find(Account, account_id)
    if account is None:
        raise InvalidCredentials("the link is not valid")
    if not account.reset_password(
        hash_token(cmd.token),
        ports.credentials.hash_password(cmd.password),
        datetime.now(UTC),
        by=Actor(account.id, account.role, account.organisation_id),
    ):
        raise InvalidCredentials("the link is not valid any more")
    uow.attach(ports.sessions.end_all(account.id))
    return uow.save(account)
