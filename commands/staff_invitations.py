"""An organisation invites staff (or analysts of its figures) by a mailed single-use link,
valid a week. Accepting opens the invited account; someone who has an account already (and
signs in with it) joins the organisation with it: one practitioner, several organisations."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from commands.accounts import (
    InvalidCredentials,
    admit,
    find_account,
    hash_token,
    new_account,
    password_rules,
)
from commands.ports import Ports, UnitOfWork
from commands.results import Saved
from commands.sign_in import authenticate
from domain.account import Account
from domain.actor import Actor, Role
from domain.admin_roster import AdminRoster
from domain.errors import InvalidValue
from domain.personal import normalise_email
from domain.staff_invitation import Invitation

INVITATION_VALID = timedelta(days=7)


@dataclass(frozen=True)
class InviteStaff:
    actor: Actor
    organisation_id: UUID
    email: str
    role: Role


def invite_staff(cmd: InviteStaff, uow: UnitOfWork, ports: Ports) -> Saved:
    address = normalise_email(cmd.email)
    if cmd.role is Role.COMPLIANCE_OFFICER:
        raise InvalidValue(
            "compliance officers belong to no organisation: the operator creates them with "
            "`telemed account create --role compliance-officer`"
        )
    if cmd.role in (Role.PATIENT, Role.SYSTEM):
        raise InvalidValue(
            "organisations invite staff (doctors, assistants, nurses, nurse managers, "
            "admins) and analysts; patients register or are invited to their record"
        )
    invitation_id = uuid4()
    token = f"{invitation_id.hex}.{secrets.token_urlsafe(24)}"
    uow.ensure_subject(invitation_id)
    invitation = Invitation(
        id=invitation_id,
        email=address,
        role=cmd.role,
        organisation_id=cmd.organisation_id,
        token_hash=hash_token(token),
        expires_at=datetime.now(UTC) + INVITATION_VALID,
        by=cmd.actor,
    )
    uow.attach(
        ports.mail.enqueue(
            invitation_id,
            f"invite-{invitation_id.hex}",
            address,
            "You are invited to Telemed",
            "Your organisation invites you to Telemed.\n\n"
            f"To create your account, open this link within a week:\n"
            f"{ports.public_url.rstrip('/')}/accept-invitation#token={token}\n",
        )
    )
    return uow.save(invitation)


@dataclass(frozen=True)
class AcceptStaffInvitation:
    """``password``: a new one; or, when the address has an account, that account's (with a
    ``code`` when it has a second factor)."""

    token: str
    password: str
    code: str | None = None


@dataclass(frozen=True)
class StaffInvitationAccepted(Saved):
    account_id: UUID


def accept_staff_invitation(
    cmd: AcceptStaffInvitation, uow: UnitOfWork, ports: Ports
) -> StaffInvitationAccepted:
    """The invitation's acceptance and the account's opening (or joining) in one save."""
    password_rules(cmd.password)
    try:
        invitation_id = UUID(hex=cmd.token.split(".", 1)[0])
    except ValueError:
        raise InvalidCredentials("the invitation is not valid") from None
    invitation = uow.find(Invitation, invitation_id)
    if invitation is None or not invitation.usable(hash_token(cmd.token), datetime.now(UTC)):
        raise InvalidCredentials("the invitation is not valid (used or expired)")
    rosters: list[AdminRoster]
    if find_account(uow, ports, invitation.email) is None:
        account = new_account(
            uow, ports, invitation.email, cmd.password, invitation.role, invitation.organisation_id
        )
        actor = Actor(account.id, invitation.role, invitation.organisation_id)
        rosters = admit(uow, account, account.organisations, actor)
    else:
        account = authenticate(uow, ports, invitation.email, cmd.password, cmd.code)
        account.signed_in(by=Actor(account.id, account.role, account.organisation_id))
        actor = Actor(account.id, invitation.role, invitation.organisation_id)
        rosters = _join(uow, ports, account, invitation, actor)
    invitation.accept(account_id=account.id, by=actor)
    uow.erase_subject(invitation.id)  # the address lives on in the account, not here
    saved = uow.save(invitation, account, *rosters)  # a racing twin: the bus retries
    return StaffInvitationAccepted(saved.aggregate_id, saved.version, saved.position, account.id)


def _join(
    uow: UnitOfWork, ports: Ports, account: Account, invitation: Invitation, actor: Actor
) -> list[AdminRoster]:
    if not account.join(invitation.organisation_id, invitation.role, by=actor):
        return []
    uow.attach(ports.ties.join(account.id, invitation.organisation_id))
    return admit(uow, account, [invitation.organisation_id], actor)
