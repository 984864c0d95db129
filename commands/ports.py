"""What the command handlers need from the outside world, as protocols (adapters implement)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.results import Saved
from domain.actor import Role
from domain.delegation import Grant
from domain.patient import Link

A = TypeVar("A", bound=Aggregate)


class UnitOfWork(Protocol):
    """One command's view of the event store: load aggregates, then save them atomically."""

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        """Load the aggregate, or raise ``NotFound``."""
        ...

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Load the aggregate, or None when it does not exist yet."""
        ...

    def ensure_subject(self, subject_id: UUID) -> None:
        """Like ``add_subject``, unless the subject already has (or had) a key."""
        ...

    def find_existing(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> list[A]:
        """The aggregates among ``aggregate_ids`` that exist (absent ones cost little)."""
        ...

    def add_subject(self, subject_id: UUID) -> None:
        """A new data subject: create their data key in the same transaction as the save."""
        ...

    def erase_subject(self, subject_id: UUID) -> None:
        """Destroy the subject's data key in the same transaction as the save."""
        ...

    def attach(self, effect: object) -> None:
        """An adapter's write (an outgoing mail) that commits with the save, or not at all."""
        ...

    def save(self, *aggregates: Aggregate) -> Saved:
        """Record the pending events of all aggregates in one transaction; describe the first."""
        ...


class Ties(Protocol):
    """Who is tied to whom (adapters.relations): row writers attached to a unit of work, so a
    tie changes in the same transaction as the events, and the ties of one person."""

    def link(self, patient_id: UUID, party_id: UUID, relation: Link) -> object: ...
    def unlink(self, patient_id: UUID, party_id: UUID, relation: Link) -> object: ...
    def join(self, account_id: UUID, organisation_id: UUID) -> object: ...
    def leave(self, account_id: UUID, organisation_id: UUID) -> object: ...
    def assign(self, assistant_id: UUID, doctor_id: UUID, organisation_id: UUID) -> object: ...
    def unassign(self, assistant_id: UUID, doctor_id: UUID) -> object: ...
    def own_record(self, account_id: UUID) -> UUID | None: ...
    def held_by(self, holder_id: UUID) -> list[UUID]: ...
    def assistants_of(self, doctor_id: UUID) -> list[tuple[UUID, UUID]]: ...
    def memberships(self, account_id: UUID) -> list[UUID]: ...
    def end_all(self, party_ids: list[UUID]) -> object: ...


class Grants(Protocol):
    """The grants in force (adapters.grants): row writers that follow the Grant aggregates."""

    def record(self, grant: Grant) -> object: ...
    def revoke(self, grant_id: UUID) -> object: ...
    def in_force_for(self, party_ids: list[UUID]) -> list[UUID]: ...


class Credentials(Protocol):
    """Password hashing, TOTP and recovery codes (adapters.crypto.passwords)."""

    def hash_password(self, password: str) -> str: ...
    def verify_password(self, stored: str | None, password: str) -> bool: ...
    def totp_step(self, secret: str, code: str) -> int | None: ...
    def new_totp_secret(self) -> str: ...
    def new_recovery_codes(self) -> list[str]: ...
    def recovery_code_hash(self, code: str) -> str: ...


class EmailDirectory(Protocol):
    """Which account an address opens (adapters.account_emails), by the address's blind index."""

    def find(self, email_index: bytes) -> UUID | None: ...
    def claim(self, email_index: bytes, account_id: UUID) -> object: ...
    def release(self, account_id: UUID) -> object: ...


class Mail(Protocol):
    """The outbox (adapters.mail.outbox): a mail is queued in the same transaction as the save."""

    def enqueue(self, subject_id: UUID, key: str, to: str, subject: str, body: str) -> object: ...
    def discard_unsent(self, subject_id: UUID) -> object: ...


class Sessions(Protocol):
    """The sessions store (adapters.sessions): sessions open and end with a command's save."""

    def opener(
        self,
        account_id: UUID,
        role: Role,
        organisation_id: UUID | None,
        *,
        stepped_up: bool,
        enrolment_only: bool,
        lifetime: timedelta | None = None,
    ) -> tuple[str, object]:
        """A new session's token, and the row writer that opens it."""
        ...

    def end_all(self, account_id: UUID) -> object: ...


class Appointments(Protocol):
    """Which consultations a person is party to: a write-side index written with each booking
    (never a read model), so a command sees a booking made a moment before."""

    def consultations_of(self, patient_id: UUID) -> list[UUID]:
        """Every consultation booked for the patient."""
        ...

    def consultations_with(self, doctor_id: UUID) -> list[UUID]:
        """Every consultation booked with the doctor."""
        ...


class PartiesIndex(Protocol):
    """Row writer for whose consultation it is (adapters.consultation_parties), attached to the
    booking so the routes authorize later changes from it without loading the consultation."""

    def record(
        self,
        consultation_id: UUID,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
    ) -> object: ...

    def reassign(self, consultation_id: UUID, doctor_id: UUID) -> object:
        """The consultation's doctor changed (a doctor of the on-call pool took it)."""
        ...


class OrganisationParentsIndex(Protocol):
    """Row writer for which organisation sits above which (adapters.organisation_parents),
    attached to the founding so the routes walk up an organisation's parents without loading
    Organisation aggregates."""

    def record(self, organisation_id: UUID, parent_id: UUID | None) -> object: ...


class PatientRegistrationsIndex(Protocol):
    """Row writer for which records exist and their organisation
    (adapters.patient_registrations), attached to the registration so the routes authorize an
    action on a record without loading the Patient aggregate."""

    def record(self, patient_id: UUID, organisation_id: UUID | None) -> object: ...


@dataclass(frozen=True)
class NewSigningKey:
    """A key pair the signer made: its public half to publish, and the row writer that keeps
    the private half (wrapped) in the same transaction as the publication."""

    key_id: str
    algorithm: str
    public_key: str
    keep: object


class ProtocolSigner(Protocol):
    """Signs protocols for a practitioner (adapters.crypto.practitioner_signing: Ed25519 keys,
    the private key sealed by the practitioner's data key). A qualified e-signature provider
    (eIDAS QES, the RF's КЭП via a certified crypto provider) is another implementation: it
    would publish the certificate's key and sign remotely."""

    algorithm: str

    def new_key(self, practitioner_id: UUID) -> NewSigningKey: ...

    def sign(self, practitioner_id: UUID, key_id: str, document: bytes) -> str:
        """The signature (base64) over ``document`` with the practitioner's key ``key_id``."""
        ...

    def verify(self, public_key: str, document: bytes, signature: str) -> bool: ...

    def destroy(self, practitioner_id: UUID, key_id: str) -> object:
        """The row writer that destroys the private half of a retired key, in the same
        transaction as the retirement: nobody signs with it any more (its public half stays)."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything a handler may need besides its unit of work: one object, built once by the
    composition root (adapters.composition) and passed by the bus to every handler."""

    ties: Ties
    grants: Grants
    credentials: Credentials
    emails: EmailDirectory
    email_index: Callable[[str], bytes]
    mail: Mail
    sessions: Sessions
    appointments: Appointments
    parties: PartiesIndex
    organisation_parents: OrganisationParentsIndex
    patient_registrations: PatientRegistrationsIndex
    public_url: str
    signer: ProtocolSigner
    #: the time commands act at (the real clock; a simulated one in benchmarks)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
