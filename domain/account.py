"""Accounts: who can sign in, with which role, and their second factor.

Secrets never sit in events in clear: the password hash, the TOTP secret and the hashes of the
recovery codes are personal fields (encrypted with the account holder's key, so an erasure
shreds them with the email).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor, Role
from domain.errors import DomainError
from domain.personal import ERASED, RecordedCreation, RecordedEvent

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
TOTP_STEP_SECONDS = 30


class AccountLocked(DomainError):
    """Too many failed attempts: the account is locked for a while."""


class AccountDeactivated(DomainError):
    """The account was deactivated."""


class TotpNotEnrolled(DomainError):
    """The account has no confirmed second factor."""


class NotAMember(DomainError):
    """The account does not work for that organisation."""


class RoleMismatch(DomainError):
    """An organisation invited the account in a role other than the account's."""


class HoldsBeneficiaries(DomainError):
    """The account holds beneficiaries: each is transferred or erased before the holder is."""

    def __init__(self, beneficiaries: list[UUID]) -> None:
        super().__init__(f"{len(beneficiaries)} beneficiaries depend on this account")
        self.beneficiaries = beneficiaries


class Account(Aggregate):
    """Accounts opened since migration 0010 have random ids (``account_emails`` maps an address
    to its account, and forgets it at erasure); older ones were derived from the address."""

    @staticmethod
    def create_id(email_index: bytes) -> UUID:
        """The id of an account opened before migration 0010: derived from the address."""
        return uuid5(NAMESPACE_URL, f"/accounts/{email_index.hex()}")

    class Opened(RecordedCreation):
        personal_fields = ("email", "password_hash")
        email: str
        password_hash: str
        role: Role
        organisation_id: UUID | None

    class PasswordChanged(RecordedEvent):
        personal_fields = ("password_hash",)
        password_hash: str

    class SignInFailed(RecordedEvent):
        factor: str
        failures: int

    class LockedOut(RecordedEvent):
        until: datetime

    class SignedIn(RecordedEvent):
        pass

    class ResetRequested(RecordedEvent):
        token_hash: str
        expires_at: datetime

    class TotpEnrolled(RecordedEvent):
        personal_fields = ("secret",)
        secret: str

    class TotpConfirmed(RecordedEvent):
        personal_fields = ("recovery_code_hashes",)  # sealed from now on; older ones in clear
        recovery_code_hashes: list[str]

    class TotpCodeUsed(RecordedEvent):
        step: int

    class RecoveryCodeUsed(RecordedEvent):
        personal_fields = ("code_hash",)
        code_hash: str

    class TotpDisabled(RecordedEvent):
        pass

    class Deactivated(RecordedEvent):
        pass

    class Erased(RecordedEvent):
        pass

    class JoinedOrganisation(RecordedEvent):
        organisation_id: UUID

    class LeftOrganisation(RecordedEvent):
        organisation_id: UUID

    class AssignedToDoctor(RecordedEvent):
        doctor_id: UUID
        organisation_id: UUID

    class UnassignedFromDoctor(RecordedEvent):
        doctor_id: UUID

    @event(Opened)
    def __init__(
        self,
        *,
        id: UUID,  # (chosen by the caller: random, see the class's docstring)
        email: str,
        password_hash: str,
        role: Role,
        organisation_id: UUID | None,
        by: Actor,
    ) -> None:
        self.email, self.password_hash = email, password_hash
        self.role, self.organisation_id = Role(role), organisation_id
        self.failures = 0
        self.locked_until: datetime | None = None
        self.totp_secret: str | None = None
        self.totp_confirmed = False
        self.recovery_code_hashes: set[str] = set()
        self.last_totp_step = 0
        self.active = True
        self.reset: tuple[str, datetime] | None = None
        self.organisations: list[UUID] = [organisation_id] if organisation_id else []
        self.assists: dict[UUID, UUID] = {}  # doctor -> organisation, for assistants
        self.erased = False

    @property
    def needs_second_factor(self) -> bool:
        """Mandatory for practitioners, admins and compliance officers; optional for patients."""
        return self.role is not Role.PATIENT or self.totp_confirmed

    def check_not_locked(self, now: datetime) -> None:
        if not self.active or self.erased:
            raise AccountDeactivated(str(self.id))
        if self.locked_until is not None and now < self.locked_until:
            raise AccountLocked(self.locked_until.isoformat())

    def record_failure(self, factor: str, now: datetime, *, by: Actor) -> None:
        failures = self.failures + 1
        self._failed(factor=factor, failures=failures, by=by)
        if failures >= MAX_FAILURES:
            self._locked(until=now + LOCKOUT, by=by)

    @event(SignInFailed)
    def _failed(self, *, factor: str, failures: int, by: Actor) -> None:
        self.failures = failures

    @event(LockedOut)
    def _locked(self, *, until: datetime, by: Actor) -> None:
        self.locked_until = until
        self.failures = 0

    @event(SignedIn)
    def signed_in(self, *, by: Actor) -> None:
        self.failures = 0

    @event(PasswordChanged)
    def change_password(self, *, password_hash: str, by: Actor) -> None:
        self.password_hash = password_hash
        self.reset = None

    @event(ResetRequested)
    def request_reset(self, *, token_hash: str, expires_at: datetime, by: Actor) -> None:
        self.reset = (token_hash, expires_at)

    def reset_password(
        self, token_hash: str, password_hash: str, now: datetime, *, by: Actor
    ) -> bool:
        """Single use and expiring: only the latest requested token, before it expires."""
        if self.reset is None or self.reset[0] != token_hash or now >= self.reset[1]:
            return False
        self.change_password(password_hash=password_hash, by=by)
        return True

    @event(TotpEnrolled)
    def enrol_totp(self, *, secret: str, by: Actor) -> None:
        self.totp_secret, self.totp_confirmed = secret, False

    def confirm_totp(self, recovery_code_hashes: list[str], *, by: Actor) -> None:
        if self.totp_secret is None:
            raise TotpNotEnrolled(str(self.id))
        self._totp_confirmed(recovery_code_hashes=recovery_code_hashes, by=by)

    @event(TotpConfirmed)
    def _totp_confirmed(self, *, recovery_code_hashes: list[str], by: Actor) -> None:
        self.totp_confirmed = True
        self.recovery_code_hashes = set(recovery_code_hashes)

    def use_totp_step(self, step: int, *, by: Actor) -> bool:
        """Accept a verified code's time step once: a code cannot be replayed in its window."""
        if step <= self.last_totp_step:
            return False
        self._code_used(step=step, by=by)
        return True

    @event(TotpCodeUsed)
    def _code_used(self, *, step: int, by: Actor) -> None:
        self.last_totp_step = step

    def use_recovery_code(self, code_hash: str, *, by: Actor) -> bool:
        if code_hash not in self.recovery_code_hashes:
            return False
        self._recovery_used(code_hash=code_hash, by=by)
        return True

    @event(RecoveryCodeUsed)
    def _recovery_used(self, *, code_hash: str, by: Actor) -> None:
        self.recovery_code_hashes.discard(code_hash)

    @event(TotpDisabled)
    def disable_totp(self, *, by: Actor) -> None:
        self.totp_secret, self.totp_confirmed = None, False
        self.recovery_code_hashes = set()

    # -- memberships (a practitioner works for several organisations) and assistants -----------

    def join(self, organisation_id: UUID, role: Role, *, by: Actor) -> bool:
        """Join another organisation in the account's own role; False if a member already."""
        if Role(role) is not self.role:
            raise RoleMismatch(f"the account is a {self.role.value}, not a {Role(role).value}")
        if organisation_id in self.organisations:
            return False
        self._joined(organisation_id=organisation_id, by=by)
        return True

    @event(JoinedOrganisation)
    def _joined(self, *, organisation_id: UUID, by: Actor) -> None:
        self.organisations.append(organisation_id)

    def leave(self, organisation_id: UUID, *, by: Actor) -> list[UUID]:
        """Leave an organisation, and stop assisting its doctors (answered)."""
        if organisation_id not in self.organisations:
            raise NotAMember(str(organisation_id))
        assisted = [d for d, org in self.assists.items() if org == organisation_id]
        for doctor_id in assisted:
            self._unassigned(doctor_id=doctor_id, by=by)
        self._left(organisation_id=organisation_id, by=by)
        return assisted

    @event(LeftOrganisation)
    def _left(self, *, organisation_id: UUID, by: Actor) -> None:
        self.organisations.remove(organisation_id)

    def assign_to(self, doctor_id: UUID, organisation_id: UUID, *, by: Actor) -> None:
        """An assistant acts for a named doctor, within one organisation they share."""
        if self.role is not Role.ASSISTANT:
            raise RoleMismatch("only assistants act for a doctor")
        if organisation_id not in self.organisations:
            raise NotAMember(str(organisation_id))
        if self.assists.get(doctor_id) != organisation_id:
            self._assigned(doctor_id=doctor_id, organisation_id=organisation_id, by=by)

    @event(AssignedToDoctor)
    def _assigned(self, *, doctor_id: UUID, organisation_id: UUID, by: Actor) -> None:
        self.assists[doctor_id] = organisation_id

    def unassign_from(self, doctor_id: UUID, *, by: Actor) -> bool:
        if doctor_id not in self.assists:
            return False
        self._unassigned(doctor_id=doctor_id, by=by)
        return True

    @event(UnassignedFromDoctor)
    def _unassigned(self, *, doctor_id: UUID, by: Actor) -> None:
        self.assists.pop(doctor_id, None)

    def deactivate(self, *, by: Actor) -> None:
        if self.active:
            self._deactivated(by=by)

    @event(Deactivated)
    def _deactivated(self, *, by: Actor) -> None:
        self.active = False

    def erase(self, beneficiaries_held: list[UUID], *, by: Actor) -> None:
        """The person is erased (their data key goes with this event); a holder only once no
        beneficiary depends on them, so that no record is left with nobody to reach it."""
        if beneficiaries_held:
            raise HoldsBeneficiaries(beneficiaries_held)
        if not self.erased:
            self._erased(by=by)

    @event(Erased)
    def _erased(self, *, by: Actor) -> None:
        self.erased, self.active = True, False
        # a copy already in memory (a cache) forgets the secrets too
        self.email, self.password_hash = ERASED, ERASED
        self.totp_secret, self.totp_confirmed = None, False
        self.recovery_code_hashes, self.reset = set(), None
        self.organisations, self.assists = [], {}
