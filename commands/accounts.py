"""Accounts: the rules every account command shares (finding an account by its address,
opening one, the org admins' rosters), and opening an account (``OpenAccount``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from commands.ports import Ports, UnitOfWork
from commands.results import ConcurrencyConflict, Saved
from domain.account import Account
from domain.actor import Actor, Role
from domain.admin_roster import AdminRoster
from domain.errors import DomainError, InvalidValue
from domain.personal import normalise_email


class InvalidCredentials(DomainError):
    """Unknown email, wrong password or wrong code (deliberately not told apart)."""


class EmailTaken(DomainError):
    """An account with that email address exists."""


class StepUpRequired(DomainError):
    """The account has a second factor and the session did not confirm a code recently."""


@dataclass(frozen=True)
class OpenAccount:
    """Open an account; ``actor`` is who opens it (None: the person themselves)."""

    email: str
    password: str
    role: Role = Role.PATIENT
    organisation_id: UUID | None = None
    actor: Actor | None = None


def open_account(cmd: OpenAccount, uow: UnitOfWork, ports: Ports) -> Saved:
    account = new_account(
        uow, ports, cmd.email, cmd.password, cmd.role, cmd.organisation_id, cmd.actor
    )
    opener = cmd.actor or Actor(account.id, cmd.role, cmd.organisation_id)
    rosters = admit(uow, account, account.organisations, opener)
    try:
        return uow.save(account, *rosters)
    except ConcurrencyConflict:
        if uow.find(Account, account.id) is None:
            raise  # not the email: an admin roster changed at the same moment; retry
        raise EmailTaken("an account with that email exists") from None


def hash_token(token: str) -> str:
    """How single-use link tokens are kept: only their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def password_rules(password: str) -> None:
    if len(password) < 10 or len(password) > 200:
        raise InvalidValue("a password has 10 to 200 characters")


def require_step_up(account: Account, stepped_up: bool) -> None:
    """Sensitive changes to an account with a second factor need a code confirmed recently."""
    if account.totp_confirmed and not stepped_up:
        raise StepUpRequired(str(account.id))


def find_account(uow: UnitOfWork, ports: Ports, email: str) -> Account | None:
    """The live account the address opens, if any (raises ``InvalidValue`` for a malformed
    address). An erased person's address opens nothing."""
    index = ports.email_index(normalise_email(email))
    account_id = ports.emails.find(index)
    if account_id is not None:
        return uow.find(Account, account_id)
    legacy = uow.find(Account, Account.create_id(index))  # opened before migration 0010
    return legacy if legacy is not None and not legacy.erased else None


def new_account(
    uow: UnitOfWork,
    ports: Ports,
    email: str,
    password: str,
    role: Role,
    organisation_id: UUID | None,
    by: Actor | None = None,
) -> Account:
    """A new account in ``uow`` (its key, address and membership attached), for the caller
    to save with whatever else belongs in the same transaction."""
    password_rules(password)
    if find_account(uow, ports, email) is not None:
        raise EmailTaken("an account with that email exists")
    account_id = uuid4()  # random: nothing derived from the address outlives an erasure
    account = Account(
        id=account_id,
        email=normalise_email(email),
        password_hash=ports.credentials.hash_password(password),
        role=role,
        organisation_id=organisation_id,
        by=by or Actor(account_id, role, organisation_id),
    )
    uow.add_subject(account.id)
    uow.attach(ports.emails.claim(ports.email_index(account.email), account.id))
    if organisation_id is not None:
        uow.attach(ports.ties.join(account.id, organisation_id))
    return account


def admit(
    uow: UnitOfWork, account: Account, organisations: list[UUID], by: Actor
) -> list[AdminRoster]:
    """An org admin joins the admin roster of each organisation (saved with the account)."""
    if account.role is not Role.ORG_ADMIN:
        return []
    rosters = []
    for organisation_id in organisations:
        roster = uow.find(AdminRoster, AdminRoster.create_id(organisation_id))
        roster = roster or AdminRoster.open(organisation_id, by=by)
        roster.add(account.id, by=by)
        rosters.append(roster)
    return rosters


def release(
    uow: UnitOfWork, account: Account, organisations: list[UUID], by: Actor
) -> list[AdminRoster]:
    """An active org admin leaves the rosters; raises ``LastAdmin`` for the last one."""
    if account.role is not Role.ORG_ADMIN or not account.active:
        return []
    rosters = []
    for organisation_id in organisations:
        roster = uow.find(AdminRoster, AdminRoster.create_id(organisation_id))
        if roster is not None:
            roster.remove(account.id, by=by)
            rosters.append(roster)
    return rosters


class AccountLookup:
    """Reads of the write model that the HTTP edge and the tests need: which account an
    address opens, and whether it has a second factor. It writes nothing."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], ports: Ports) -> None:
        self._uow, self._ports = unit_of_work, ports

    def account_id(self, email: str) -> UUID | None:
        account = find_account(self._uow(), self._ports, email)
        return account.id if account is not None else None

    def has_second_factor(self, account_id: UUID) -> bool:
        account = self._uow().find(Account, account_id)
        return account is not None and account.totp_confirmed
