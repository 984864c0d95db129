"""One patient record as ``GET /v1/patients/{id}`` shows it: identity, contact details and
notes (kept sealed with the patient's own key, so erasure reaches this read model too),
consents, holder, whether the record has an account of its own and whether an invitation to
one is pending; computed from the record's events alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.patient import ConsentPurpose, Patient
from projections.base import Projection


@dataclass(frozen=True)
class PatientCard:
    """Personal fields are None once the patient is erased (their key destroyed)."""

    patient_id: UUID
    version: int
    organisation_id: UUID | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    email: str | None
    phone: str | None
    address: str | None
    notes: str | None
    consents: tuple[str, ...] = ()
    erased: bool = False
    holder_id: UUID | None = None
    has_account: bool = False
    invitation_pending: bool = False


class PatientCardWriter(Protocol):
    """The steps; personal values arrive as the events carry them (clear, or ``ERASED``)."""

    def registered(self, card: PatientCard) -> None: ...

    def contact_changed(
        self,
        patient_id: UUID,
        version: int,
        email: str | None,
        phone: str | None,
        address: str | None,
    ) -> None: ...

    def consent_changed(
        self, patient_id: UUID, version: int, purpose: ConsentPurpose, given: bool
    ) -> None: ...

    def held_by(self, patient_id: UUID, version: int, holder_id: UUID | None) -> None: ...

    def invitation(self, patient_id: UUID, version: int, pending: bool) -> None: ...

    def account_linked(self, patient_id: UUID, version: int) -> None: ...

    def erased(self, patient_id: UUID, version: int) -> None: ...


class PatientCards(Protocol):
    """What routes ask of the view."""

    def get(self, patient_id: UUID) -> PatientCard | None: ...


class PatientCardProjection(Projection[PatientCardWriter]):
    name = "patient_card"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Patient.Registered,
            Patient.ContactDetailsChanged,
            Patient.ConsentRecorded,
            Patient.ConsentWithdrawn,
            Patient.Erased,
            Patient.BecameBeneficiary,
            Patient.InvitationIssued,
            Patient.InvitationDeclined,
            Patient.InvitationWithdrawn,
            Patient.AccountLinked,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change a patient's card."""

    @process_event.register
    def _(self, event: Patient.Registered, tracking: Tracking) -> None:
        self.view.registered(
            PatientCard(
                patient_id=event.originator_id,
                version=event.originator_version,
                organisation_id=event.organisation_id,
                given_name=event.given_name,
                family_name=event.family_name,
                birth_date=event.birth_date,
                email=event.email,
                phone=event.phone,
                address=event.address,
                notes=event.notes,
                # a patient registering themself does so from their own account
                has_account=event.self_registered,
            )
        )

    @process_event.register
    def _(self, event: Patient.ContactDetailsChanged, tracking: Tracking) -> None:
        self.view.contact_changed(
            event.originator_id, event.originator_version, event.email, event.phone, event.address
        )

    @process_event.register
    def _(self, event: Patient.ConsentRecorded, tracking: Tracking) -> None:
        self.view.consent_changed(
            event.originator_id, event.originator_version, event.purpose, True
        )

    @process_event.register
    def _(self, event: Patient.ConsentWithdrawn, tracking: Tracking) -> None:
        self.view.consent_changed(
            event.originator_id, event.originator_version, event.purpose, False
        )

    @process_event.register
    def _(self, event: Patient.Erased, tracking: Tracking) -> None:
        # consents and a pending invitation end with the record; holder and account stay
        self.view.erased(event.originator_id, event.originator_version)

    @process_event.register
    def _(self, event: Patient.BecameBeneficiary, tracking: Tracking) -> None:
        self.view.held_by(event.originator_id, event.originator_version, event.holder_id)

    @process_event.register
    def _(self, event: Patient.InvitationIssued, tracking: Tracking) -> None:
        self.view.invitation(event.originator_id, event.originator_version, True)

    @process_event.register
    def _(self, event: Patient.InvitationDeclined, tracking: Tracking) -> None:
        self.view.invitation(event.originator_id, event.originator_version, False)

    @process_event.register
    def _(self, event: Patient.InvitationWithdrawn, tracking: Tracking) -> None:
        self.view.invitation(event.originator_id, event.originator_version, False)

    @process_event.register
    def _(self, event: Patient.AccountLinked, tracking: Tracking) -> None:
        # the record becomes the account's own: the holder's hold and the invitation end
        self.view.account_linked(event.originator_id, event.originator_version)
