"""The patient record: identity and contact details, consents, erasure. The ways it comes to
have an account of its own (a holder's beneficiary, invitations, transfer) are the invitation
flow of ``domain.record_invitation``, whose facts this aggregate records on its stream."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain import record_invitation as offer
from domain.actor import Actor
from domain.errors import ConsentNotGiven, InvalidValue, PatientErased
from domain.personal import ERASED, RecordedCreation, RecordedEvent, normalise_email
from domain.record_invitation import InvitationPurpose, OfferedRecord, PendingInvitation


class ConsentPurpose(StrEnum):
    TREATMENT = "treatment"
    DATA_SHARING = "data-sharing"
    RESEARCH = "research"
    RECORDING = "recording"


class Link(StrEnum):
    """How a party is tied to a patient record (kept apart from the events, for authorization)."""

    SELF = "self"  # the record's own account
    HOLDER = "holder"  # the patient account managing a beneficiary
    CARE = "care"  # an organisation that booked a consultation with the patient


class ErasureReason(StrEnum):
    SUBJECT_REQUEST = "subject-request"
    RETENTION_EXPIRED = "retention-expired"


CONTACT_FIELDS = ("email", "phone", "address")


def record_of(actor_id: UUID) -> UUID:
    """The id of the patient record of a patient's own account (apart from the account's id:
    they are two streams, and two data keys)."""
    return uuid5(NAMESPACE_URL, f"/patients/of-account/{actor_id}")


class Patient(OfferedRecord, Aggregate):
    """A data subject receiving care. Personal fields are encrypted with the patient's own key."""

    class Registered(RecordedCreation):
        personal_fields = (
            "given_name",
            "family_name",
            "birth_date",
            "email",
            "phone",
            "address",
            "notes",
        )
        given_name: str
        family_name: str
        birth_date: date | None
        email: str | None
        phone: str | None
        address: str | None
        notes: str | None
        organisation_id: UUID | None
        self_registered: bool

    class ContactDetailsChanged(RecordedEvent):
        personal_fields = CONTACT_FIELDS
        email: str | None
        phone: str | None
        address: str | None

    class ConsentRecorded(RecordedEvent):
        purpose: ConsentPurpose

    class ConsentWithdrawn(RecordedEvent):
        purpose: ConsentPurpose

    class ConsentSigned(RecordedEvent):
        """A version of an organisation's consent text signed (by the patient, or on their
        behalf: the actor says who), with the text's SHA-256."""

        organisation_id: UUID
        kind: str
        version: int
        sha256: str

    class SignedConsentWithdrawn(RecordedEvent):
        organisation_id: UUID
        kind: str

    class Erased(RecordedEvent):
        reason: ErasureReason

    # the facts of the invitation flow (declared there), recorded on this stream under the
    # topics they always had (domain.patient:Patient.InvitationIssued, ...)
    class BecameBeneficiary(offer.BecameBeneficiary):
        pass

    class InvitationIssued(offer.InvitationIssued):
        pass

    class InvitationDeclined(offer.InvitationDeclined):
        pass

    class InvitationWithdrawn(offer.InvitationWithdrawn):
        pass

    class AccountLinked(offer.AccountLinked):
        pass

    @event(Registered)
    def __init__(
        self,
        *,
        id: UUID,  # (the caller's: a self-registered patient's is derived from the account)
        given_name: str,
        family_name: str,
        birth_date: date | None,
        email: str | None,
        phone: str | None,
        address: str | None,
        notes: str | None,
        organisation_id: UUID | None,
        self_registered: bool,
        by: Actor,
    ) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.birth_date = birth_date
        self.email = email
        self.phone = phone
        self.address = address
        self.notes = notes
        self.organisation_id = organisation_id
        self.self_registered = self_registered
        self.consents: set[ConsentPurpose] = set()
        #: (organisation, consent kind) -> the version of the text signed and in force
        self.signed: dict[tuple[UUID, str], int] = {}
        self.erased = False
        self.holder_id: UUID | None = None
        #: the account whose record this is (a self-registered patient's from the start)
        self.account_id: UUID | None = by.actor_id if self_registered else None
        self.invitation: PendingInvitation | None = None

    @classmethod
    def register(cls, *, by: Actor, patient_id: UUID | None = None, **fields: Any) -> Patient:
        """A new record; a patient registering themself gets their own actor id as its id."""
        given, family = str(fields["given_name"]).strip(), str(fields["family_name"]).strip()
        if not given or not family:
            raise InvalidValue("given and family names are required")
        birth_date = fields.get("birth_date")
        if birth_date is not None and birth_date > date.today():
            raise InvalidValue("birth date lies in the future")
        email = fields.get("email")
        return cls(
            id=patient_id or uuid4(),
            given_name=given,
            family_name=family,
            birth_date=birth_date,
            email=normalise_email(email) if email else None,
            phone=fields.get("phone"),
            address=fields.get("address"),
            notes=fields.get("notes"),
            organisation_id=fields.get("organisation_id"),
            self_registered=bool(fields.get("self_registered", False)),
            by=by,
        )

    def change_contact_details(
        self, *, email: str | None, phone: str | None, address: str | None, by: Actor
    ) -> None:
        self._refuse_if_erased()
        self._contact_details_changed(
            email=normalise_email(email) if email else None, phone=phone, address=address, by=by
        )

    @event(ContactDetailsChanged)
    def _contact_details_changed(
        self, *, email: str | None, phone: str | None, address: str | None, by: Actor
    ) -> None:
        self.email, self.phone, self.address = email, phone, address

    def record_consent(self, purpose: ConsentPurpose, *, by: Actor) -> None:
        self._refuse_if_erased()
        if purpose not in self.consents:
            self._consent_recorded(purpose=purpose, by=by)

    @event(ConsentRecorded)
    def _consent_recorded(self, *, purpose: ConsentPurpose, by: Actor) -> None:
        self.consents.add(purpose)

    def withdraw_consent(self, purpose: ConsentPurpose, *, by: Actor) -> None:
        self._refuse_if_erased()
        if purpose not in self.consents:
            raise ConsentNotGiven(purpose.value)
        self._consent_withdrawn(purpose=purpose, by=by)

    @event(ConsentWithdrawn)
    def _consent_withdrawn(self, *, purpose: ConsentPurpose, by: Actor) -> None:
        self.consents.discard(purpose)

    def sign_consent(
        self, organisation_id: UUID, kind: str, version: int, sha256: str, *, by: Actor
    ) -> None:
        """Signing the same version again changes nothing."""
        self._refuse_if_erased()
        if self.signed.get((organisation_id, kind)) != version:
            self._consent_signed(
                organisation_id=organisation_id, kind=kind, version=version, sha256=sha256, by=by
            )

    @event(ConsentSigned)
    def _consent_signed(
        self, *, organisation_id: UUID, kind: str, version: int, sha256: str, by: Actor
    ) -> None:
        self.signed[(organisation_id, kind)] = version

    def withdraw_signed_consent(self, organisation_id: UUID, kind: str, *, by: Actor) -> None:
        self._refuse_if_erased()
        if (organisation_id, kind) not in self.signed:
            raise ConsentNotGiven(kind)
        self._signed_consent_withdrawn(organisation_id=organisation_id, kind=kind, by=by)

    @event(SignedConsentWithdrawn)
    def _signed_consent_withdrawn(self, *, organisation_id: UUID, kind: str, by: Actor) -> None:
        self.signed.pop((organisation_id, kind), None)

    def erase(self, reason: ErasureReason, *, by: Actor) -> None:
        self._refuse_if_erased()
        self._erased(reason=reason, by=by)

    @event(Erased)
    def _erased(self, *, reason: ErasureReason, by: Actor) -> None:
        self.erased = True
        self.consents.clear()
        self.signed.clear()
        self.invitation = None
        # a copy already in memory (a cache) forgets the personal data too
        for name in Patient.Registered.personal_fields:
            setattr(self, name, ERASED)

    # -- beneficiaries, invitations and transfer (A1, A3, A4): their steps are OfferedRecord's --

    @event(BecameBeneficiary)
    def become_beneficiary_of(self, *, holder_id: UUID, by: Actor) -> None:
        """Right after registration by the holder: the holder manages this record."""
        self.holder_id = holder_id

    @event(InvitationIssued)
    def _invitation_issued(
        self,
        *,
        purpose: InvitationPurpose,
        email: str,
        token_hash: str,
        expires_at: datetime,
        by: Actor,
    ) -> None:
        self.invitation = PendingInvitation(
            InvitationPurpose(purpose), email, token_hash, expires_at
        )

    @event(AccountLinked)
    def _account_linked(
        self, *, account_id: UUID, former_holder_id: UUID | None, by: Actor
    ) -> None:
        self.account_id, self.holder_id, self.invitation = account_id, None, None

    @event(InvitationDeclined)
    def _invitation_declined(self, *, by: Actor) -> None:
        self.invitation = None

    @event(InvitationWithdrawn)
    def _invitation_withdrawn(self, *, by: Actor) -> None:
        self.invitation = None

    def _refuse_if_erased(self) -> None:
        if self.erased:
            raise PatientErased(str(self.id))
