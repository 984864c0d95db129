"""Account commands: open, sign in (password, then second factor), step up, change password,
enrol and confirm TOTP. Failures and lockouts are recorded as events on the account."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

from commands.ports import Ties, UnitOfWork
from commands.results import ConcurrencyConflict
from domain.account import Account, Invitation, TotpNotEnrolled
from domain.actor import Actor, Role
from domain.admin_roster import AdminRoster
from domain.errors import DomainError, InvalidValue
from domain.patient import normalise_email


class Credentials(Protocol):
    def hash_password(self, password: str) -> str: ...
    def verify_password(self, stored: str | None, password: str) -> bool: ...
    def totp_step(self, secret: str, code: str) -> int | None: ...
    def new_totp_secret(self) -> str: ...
    def new_recovery_codes(self) -> list[str]: ...
    def recovery_code_hash(self, code: str) -> str: ...


class EmailDirectory(Protocol):
    """Which account an address opens (adapters.account_emails)."""

    def find(self, email_index: bytes) -> UUID | None: ...
    def claim(self, email_index: bytes, account_id: UUID) -> object: ...
    def release(self, account_id: UUID) -> object: ...


class Mailer(Protocol):
    def enqueue(self, subject_id: UUID, key: str, to: str, subject: str, body: str) -> object: ...


class InvalidCredentials(DomainError):
    """Unknown email, wrong password or wrong code (deliberately not told apart)."""


class SecondFactorRequired(DomainError):
    """The password was right; a TOTP or recovery code is needed too."""


class SecondFactorMandatory(DomainError):
    """Staff cannot turn two-factor authentication off."""


class EmailTaken(DomainError):
    """An account with that email address exists."""


@dataclass(frozen=True)
class SignedIn:
    account_id: UUID
    role: Role
    organisation_id: UUID | None
    stepped_up: bool
    enrolment_only: bool


def hash_token(token: str) -> str:
    """How single-use link tokens are kept: only their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def password_rules(password: str) -> None:
    if len(password) < 10 or len(password) > 200:
        raise InvalidValue("a password has 10 to 200 characters")


class AccountService:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        credentials: Credentials,
        email_index: Callable[[str], bytes],
        emails: EmailDirectory,
        ties: Ties,
        mailer: Mailer | None = None,
        public_url: str = "http://127.0.0.1:8000",
    ) -> None:
        self.uow, self.credentials, self.email_index = unit_of_work, credentials, email_index
        self.emails, self.ties = emails, ties
        self.mailer, self.public_url = mailer, public_url.rstrip("/")

    def find_account(self, uow: UnitOfWork, email: str) -> Account | None:
        """The live account the address opens, if any (raises ``InvalidValue`` for a malformed
        address). An erased person's address opens nothing."""
        index = self.email_index(normalise_email(email))
        account_id = self.emails.find(index)
        if account_id is not None:
            return uow.find(Account, account_id)
        legacy = uow.find(Account, Account.create_id(index))  # opened before migration 0010
        return legacy if legacy is not None and not legacy.erased else None

    def account_id(self, email: str) -> UUID | None:
        account = self.find_account(self.uow(), email)
        return account.id if account is not None else None

    def open(
        self,
        email: str,
        password: str,
        role: Role = Role.PATIENT,
        organisation_id: UUID | None = None,
        by: Actor | None = None,
    ) -> UUID:
        uow = self.uow()
        account = self.new_account(uow, email, password, role, organisation_id, by)
        opener = by or Actor(account.id, role, organisation_id)
        rosters = self._admit(uow, account, account.organisations, opener)
        try:
            uow.save(account, *rosters)
        except ConcurrencyConflict:
            if self.uow().find(Account, account.id) is None:
                raise  # not the email: an admin roster changed at the same moment; retry
            raise EmailTaken("an account with that email exists") from None
        return account.id

    def new_account(
        self,
        uow: UnitOfWork,
        email: str,
        password: str,
        role: Role,
        organisation_id: UUID | None,
        by: Actor | None = None,
    ) -> Account:
        """A new account in ``uow`` (its key and membership attached), for the caller to save
        with whatever else belongs in the same transaction."""
        password_rules(password)
        if self.find_account(uow, email) is not None:
            raise EmailTaken("an account with that email exists")
        account_id = uuid4()  # random: nothing derived from the address outlives an erasure
        account = Account._create(
            Account.Opened,
            id=account_id,
            email=normalise_email(email),
            password_hash=self.credentials.hash_password(password),
            role=role,
            organisation_id=organisation_id,
            by=by or Actor(account_id, role, organisation_id),
        )
        uow.add_subject(account_id)
        uow.attach(self.emails.claim(self.email_index(account.email), account_id))
        if organisation_id is not None:
            uow.attach(self.ties.join(account_id, organisation_id))
        return account

    def has_second_factor(self, account_id: UUID) -> bool:
        account = self.uow().find(Account, account_id)
        return account is not None and account.totp_confirmed

    def sign_in(self, email: str, password: str, code: str | None) -> SignedIn:
        now = datetime.now(UTC)
        uow = self.uow()
        try:
            account = self.find_account(uow, email)
        except InvalidValue:
            self.credentials.verify_password(None, password)
            raise InvalidCredentials("wrong email, password or code") from None
        if account is None:
            self.credentials.verify_password(None, password)  # same work as a real check
            raise InvalidCredentials("wrong email, password or code")
        actor = Actor(account.id, account.role, account.organisation_id)
        account.check_not_locked(now)
        if not self.credentials.verify_password(account.password_hash, password):
            account.record_failure("password", now, by=actor)
            uow.save(account)
            raise InvalidCredentials("wrong email, password or code")
        stepped_up = False
        if account.totp_confirmed:
            if not code:
                raise SecondFactorRequired("a code from the authenticator app is needed")
            if not self._second_factor(account, code, actor):
                account.record_failure("otp", now, by=actor)
                uow.save(account)
                raise InvalidCredentials("wrong email, password or code")
            stepped_up = True
        account.signed_in(by=actor)
        uow.save(account)
        return SignedIn(
            account.id,
            account.role,
            account.organisations[0] if account.organisations else None,
            stepped_up,
            enrolment_only=account.needs_second_factor and not account.totp_confirmed,
        )

    def step_up(self, account_id: UUID, code: str) -> bool:
        """Verify a fresh code for a sensitive action (within the next 5 minutes)."""
        now = datetime.now(UTC)
        uow = self.uow()
        account = uow.get(Account, account_id)
        actor = Actor(account.id, account.role, account.organisation_id)
        account.check_not_locked(now)
        if not account.totp_confirmed:
            raise TotpNotEnrolled(str(account_id))
        ok = self._second_factor(account, code, actor)
        if not ok:
            account.record_failure("otp", now, by=actor)
        uow.save(account)
        return ok

    def change_password(self, account_id: UUID, current: str, new: str) -> None:
        password_rules(new)
        uow = self.uow()
        account = uow.get(Account, account_id)
        actor = Actor(account.id, account.role, account.organisation_id)
        if not self.credentials.verify_password(account.password_hash, current):
            account.record_failure("password", datetime.now(UTC), by=actor)
            uow.save(account)
            raise InvalidCredentials("the current password is wrong")
        account.change_password(password_hash=self.credentials.hash_password(new), by=actor)
        uow.save(account)

    def enrol_totp(self, account_id: UUID) -> tuple[str, str]:
        """A new secret (not active until confirmed); returns (secret, account email)."""
        uow = self.uow()
        account = uow.get(Account, account_id)
        secret = self.credentials.new_totp_secret()
        account.enrol_totp(
            secret=secret, by=Actor(account.id, account.role, account.organisation_id)
        )
        uow.save(account)
        return secret, account.email

    def confirm_totp(self, account_id: UUID, code: str) -> list[str] | None:
        """Confirm with a first code; returns 10 single-use recovery codes (shown once)."""
        uow = self.uow()
        account = uow.get(Account, account_id)
        actor = Actor(account.id, account.role, account.organisation_id)
        if account.totp_secret is None:
            raise TotpNotEnrolled(str(account_id))
        step = self.credentials.totp_step(account.totp_secret, code)
        if step is None or not account.use_totp_step(step, by=actor):
            account.record_failure("otp", datetime.now(UTC), by=actor)
            uow.save(account)
            return None
        codes = self.credentials.new_recovery_codes()
        account.confirm_totp([self.credentials.recovery_code_hash(c) for c in codes], by=actor)
        uow.save(account)
        return codes

    def request_reset(self, email: str) -> bool:
        """Mail a single-use link valid for an hour; False (silently) for an unknown email."""
        uow = self.uow()
        try:
            account = self.find_account(uow, email)
        except InvalidValue:
            return False
        if account is None or self.mailer is None:
            return False
        actor = Actor(account.id, account.role, account.organisation_id)
        token = f"{account.id.hex}.{secrets.token_urlsafe(24)}"
        token_hash = hash_token(token)
        account.request_reset(
            token_hash=token_hash, expires_at=datetime.now(UTC) + timedelta(hours=1), by=actor
        )
        link = f"{self.public_url}/reset-password#token={token}"
        uow.attach(
            self.mailer.enqueue(
                account.id,
                f"reset-{token_hash[:32]}",
                account.email,
                "Reset your Telemed password",
                "Someone asked to reset the password of your Telemed account.\n\n"
                f"To choose a new password, open this link within an hour:\n{link}\n\n"
                "If it was not you, ignore this message; your password stays as it is.\n",
            )
        )
        uow.save(account)
        return True

    def reset_password(self, token: str, password: str) -> UUID:
        """Set a new password with the emailed token (once, within the hour)."""
        password_rules(password)
        try:
            account_id = UUID(hex=token.split(".", 1)[0])
        except ValueError:
            raise InvalidCredentials("the link is not valid") from None
        uow = self.uow()
        account = uow.find(Account, account_id)
        token_hash = hash_token(token)
        if account is None:
            raise InvalidCredentials("the link is not valid")
        actor = Actor(account.id, account.role, account.organisation_id)
        if not account.reset_password(
            token_hash, self.credentials.hash_password(password), datetime.now(UTC), by=actor
        ):
            raise InvalidCredentials("the link is not valid any more")
        uow.save(account)
        return account.id

    def disable_totp(self, account_id: UUID) -> None:
        """Patients may turn the second factor off; staff may not (it is mandatory)."""
        uow = self.uow()
        account = uow.get(Account, account_id)
        if account.role is not Role.PATIENT:
            raise SecondFactorMandatory("two-factor authentication is mandatory for staff")
        account.disable_totp(by=Actor(account.id, account.role, account.organisation_id))
        uow.save(account)

    def invite(self, email: str, role: Role, organisation_id: UUID, by: Actor) -> UUID:
        """Mail a single-use invitation link (valid a week) to join the organisation, as staff
        or as an analyst of its figures."""
        address = normalise_email(email)
        if role is Role.COMPLIANCE_OFFICER:
            raise InvalidValue(
                "compliance officers belong to no organisation: the operator creates them with "
                "`telemed account create --role compliance-officer`"
            )
        if role in (Role.PATIENT, Role.SYSTEM):
            raise InvalidValue(
                "organisations invite staff (doctors, assistants, nurses, nurse managers, "
                "admins) and analysts; patients register or are invited to their record"
            )
        if self.mailer is None:
            raise InvalidValue("no mail is configured")
        invitation_id = uuid4()
        token = f"{invitation_id.hex}.{secrets.token_urlsafe(24)}"
        uow = self.uow()
        uow.ensure_subject(invitation_id)
        invitation = Invitation._create(
            Invitation.Issued,
            id=invitation_id,
            email=address,
            role=role,
            organisation_id=organisation_id,
            token_hash=hash_token(token),
            expires_at=datetime.now(UTC) + timedelta(days=7),
            by=by,
        )
        uow.attach(
            self.mailer.enqueue(
                invitation_id,
                f"invite-{invitation_id.hex}",
                address,
                "You are invited to Telemed",
                "Your organisation invites you to Telemed.\n\n"
                f"To create your account, open this link within a week:\n"
                f"{self.public_url}/accept-invitation#token={token}\n",
            )
        )
        uow.save(invitation)
        return invitation_id

    def accept_invitation(self, token: str, password: str, code: str | None = None) -> UUID:
        """Open the invited account (role and organisation from the invitation); an existing
        account of that address (signing in with its password, and code) joins the
        organisation instead: one practitioner, several organisations."""
        password_rules(password)
        try:
            invitation_id = UUID(hex=token.split(".", 1)[0])
        except ValueError:
            raise InvalidCredentials("the invitation is not valid") from None
        invitation = self.uow().find(Invitation, invitation_id)
        if invitation is None or not invitation.usable(hash_token(token), datetime.now(UTC)):
            raise InvalidCredentials("the invitation is not valid (used or expired)")
        if self.find_account(self.uow(), invitation.email) is None:
            account_id = self.open(
                invitation.email, password, invitation.role, invitation.organisation_id
            )
            joined = None
        else:
            account_id = self.sign_in(invitation.email, password, code).account_id
            joined = invitation.organisation_id
        uow = self.uow()
        invitation = uow.get(Invitation, invitation_id)
        actor = Actor(account_id, invitation.role, invitation.organisation_id)
        invitation.accept(account_id=account_id, by=actor)
        uow.erase_subject(invitation.id)  # the address lives on in the account, not here
        if joined is None:
            uow.save(invitation)
            return account_id
        account = uow.get(Account, account_id)
        rosters: list[AdminRoster] = []
        if account.join(joined, invitation.role, by=actor):
            uow.attach(self.ties.join(account_id, joined))
            rosters = self._admit(uow, account, [joined], actor)
        uow.save(invitation, account, *rosters)
        return account_id

    def leave(self, account_id: UUID, organisation_id: UUID, by: Actor) -> Account:
        """End a membership; an account that works nowhere any more is deactivated."""
        uow = self.uow()
        account = uow.get(Account, account_id)
        rosters = self._release(uow, account, [organisation_id], by)
        unassigned = account.leave(organisation_id, by=by)
        uow.attach(self.ties.leave(account_id, organisation_id))
        for doctor_id in unassigned:
            uow.attach(self.ties.unassign(account_id, doctor_id))
        if not account.organisations:
            account.deactivate(by=by)
        uow.save(account, *rosters)
        return account

    def assign_assistant(
        self, assistant_id: UUID, doctor_id: UUID, organisation_id: UUID, by: Actor
    ) -> None:
        uow = self.uow()
        account = uow.get(Account, assistant_id)
        account.assign_to(doctor_id, organisation_id, by=by)
        uow.attach(self.ties.assign(assistant_id, doctor_id, organisation_id))
        uow.save(account)

    def unassign_assistant(self, assistant_id: UUID, doctor_id: UUID, by: Actor) -> bool:
        uow = self.uow()
        account = uow.get(Account, assistant_id)
        if not account.unassign_from(doctor_id, by=by):
            return False
        uow.attach(self.ties.unassign(assistant_id, doctor_id))
        uow.save(account)
        return True

    def deactivate(self, account_id: UUID, by: Actor) -> Account:
        uow = self.uow()
        account = uow.get(Account, account_id)
        rosters = self._release(uow, account, account.organisations, by)
        account.deactivate(by=by)
        uow.save(account, *rosters)
        return account

    def _admit(
        self, uow: UnitOfWork, account: Account, organisations: list[UUID], by: Actor
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

    def _release(
        self, uow: UnitOfWork, account: Account, organisations: list[UUID], by: Actor
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

    def _second_factor(self, account: Account, code: str, actor: Actor) -> bool:
        assert account.totp_secret is not None
        step = self.credentials.totp_step(account.totp_secret, code)
        if step is not None:
            return account.use_totp_step(step, by=actor)
        return account.use_recovery_code(self.credentials.recovery_code_hash(code), by=actor)
