"""One account as its owner reads it (``GET /v1/accounts/me``): its role, whether a second
factor is confirmed, and the doctors an assistant acts for (in the order they were assigned),
computed from the account's events. Nothing personal (no email, no secret) is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.account import Account
from domain.actor import Role
from projections.base import Projection


@dataclass(frozen=True)
class AccountRow:
    account_id: UUID
    version: int
    role: Role
    second_factor: bool = False
    #: doctor -> organisation, for assistants
    assists: dict[UUID, UUID] = field(default_factory=dict)


class AccountViewWriter(Protocol):
    def opened(self, row: AccountRow) -> None: ...

    def second_factor(self, account_id: UUID, version: int, confirmed: bool) -> None: ...

    def assigned(
        self, account_id: UUID, version: int, doctor_id: UUID, organisation_id: UUID
    ) -> None: ...

    def unassigned(self, account_id: UUID, version: int, doctor_id: UUID) -> None: ...

    def erased(self, account_id: UUID, version: int) -> None: ...


class Accounts(Protocol):
    """What routes ask of the view."""

    def get(self, account_id: UUID) -> AccountRow | None: ...


class AccountViewProjection(Projection[AccountViewWriter]):
    name = "account_view"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Account.Opened,
            Account.TotpEnrolled,
            Account.TotpConfirmed,
            Account.TotpDisabled,
            Account.AssignedToDoctor,
            Account.UnassignedFromDoctor,
            Account.Erased,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change what the view keeps."""

    @process_event.register
    def _(self, event: Account.Opened, tracking: Tracking) -> None:
        self.view.opened(
            AccountRow(
                account_id=event.originator_id,
                version=event.originator_version,
                role=Role(event.role),
            )
        )

    @process_event.register
    def _(self, event: Account.TotpEnrolled, tracking: Tracking) -> None:
        # (re-)enrolling starts unconfirmed, as on the aggregate
        self.view.second_factor(event.originator_id, event.originator_version, False)

    @process_event.register
    def _(self, event: Account.TotpConfirmed, tracking: Tracking) -> None:
        self.view.second_factor(event.originator_id, event.originator_version, True)

    @process_event.register
    def _(self, event: Account.TotpDisabled, tracking: Tracking) -> None:
        self.view.second_factor(event.originator_id, event.originator_version, False)

    @process_event.register
    def _(self, event: Account.AssignedToDoctor, tracking: Tracking) -> None:
        self.view.assigned(
            event.originator_id, event.originator_version, event.doctor_id, event.organisation_id
        )

    @process_event.register
    def _(self, event: Account.UnassignedFromDoctor, tracking: Tracking) -> None:
        self.view.unassigned(event.originator_id, event.originator_version, event.doctor_id)

    @process_event.register
    def _(self, event: Account.Erased, tracking: Tracking) -> None:
        self.view.erased(event.originator_id, event.originator_version)
