"""The patient directory: who is registered where, searchable by email and name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.patient import ConsentPurpose, Patient
from projections.base import Projection


@dataclass(frozen=True)
class DirectoryEntry:
    patient_id: UUID
    organisation_id: UUID | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    email: str | None
    phone: str | None
    consents: tuple[str, ...]
    erased: bool
    registered_at: datetime
    version: int


class PatientDirectory(Protocol):
    """What routers ask of the directory (search by blind index: exact email and/or name)."""

    def get(self, patient_id: UUID) -> DirectoryEntry | None: ...

    def search(
        self,
        *,
        organisation_id: UUID | None,
        email: str | None = None,
        name: str | None = None,
        after: tuple[datetime, UUID] | None = None,
        limit: int = 50,
    ) -> list[DirectoryEntry]: ...


class PatientDirectoryView(Protocol):
    def registered(
        self,
        patient_id: UUID,
        organisation_id: UUID | None,
        given_name: str,
        family_name: str,
        birth_date: date | None,
        email: str | None,
        phone: str | None,
        registered_at: datetime,
        version: int,
    ) -> None: ...

    def contact_changed(
        self, patient_id: UUID, email: str | None, phone: str | None, version: int
    ) -> None: ...

    def consent_changed(
        self, patient_id: UUID, purpose: ConsentPurpose, given: bool, version: int
    ) -> None: ...

    def erased(self, patient_id: UUID, version: int) -> None: ...


class PatientDirectoryProjection(Projection[PatientDirectoryView]):
    name = "patient_directory"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Patient.Registered,
            Patient.ContactDetailsChanged,
            Patient.ConsentRecorded,
            Patient.ConsentWithdrawn,
            Patient.Erased,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, event: Patient.Registered, tracking: Tracking) -> None:
        self.view.registered(
            event.originator_id,
            event.organisation_id,
            event.given_name,
            event.family_name,
            event.birth_date,
            event.email,
            event.phone,
            event.timestamp,
            event.originator_version,
        )

    @process_event.register
    def _(self, event: Patient.ContactDetailsChanged, tracking: Tracking) -> None:
        self.view.contact_changed(
            event.originator_id, event.email, event.phone, event.originator_version
        )

    @process_event.register
    def _(self, event: Patient.ConsentRecorded, tracking: Tracking) -> None:
        self.view.consent_changed(
            event.originator_id, event.purpose, True, event.originator_version
        )

    @process_event.register
    def _(self, event: Patient.ConsentWithdrawn, tracking: Tracking) -> None:
        self.view.consent_changed(
            event.originator_id, event.purpose, False, event.originator_version
        )

    @process_event.register
    def _(self, event: Patient.Erased, tracking: Tracking) -> None:
        self.view.erased(event.originator_id, event.originator_version)
