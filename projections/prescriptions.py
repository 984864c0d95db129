"""Prescriptions as their readers see them: each patient's (for the patient's side and the care
team), and one found by its code for a pharmacy (through a blind index of the code, never the
code itself). The medication line, the code and a cancellation reason stay sealed with the
patient's key and are opened at query time (None once erased); in clear only ids, states,
counts and times. The pharmacies (machine clients with that purpose, not revoked) are kept too,
so the verification route knows one without loading an aggregate. Computed from events alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.machine_client import ClientPurpose, MachineClient
from domain.patient import Patient
from domain.prescription import Prescription
from projections.base import Projection


@dataclass(frozen=True)
class PrescriptionRow:
    """One prescription; ``medication``, ``code`` and ``cancel_reason`` are None once the
    patient is erased (or, for the reason, when it was not cancelled)."""

    prescription_id: UUID
    version: int
    patient_id: UUID
    consultation_id: UUID
    protocol_id: UUID
    line: int
    doctor_id: UUID
    organisation_id: UUID | None
    status: str
    fills: int
    fills_allowed: int
    issued_at: datetime
    valid_until: datetime
    updated_at: datetime
    medication: dict[str, Any] | None
    code: str | None
    cancel_reason: str | None = None

    @property
    def fills_left(self) -> int:
        """Fills a pharmacy may still dispense (none once it is no longer active)."""
        return self.fills_allowed - self.fills if self.status == "active" else 0


class PrescriptionsWriter(Protocol):
    """The steps; clinical values arrive as the events carry them (clear, or ``ERASED``)."""

    def issued(self, row: PrescriptionRow) -> None: ...
    def dispensed(
        self, prescription_id: UUID, version: int, fills: int, status: str, at: datetime
    ) -> None: ...
    def cancelled(
        self, prescription_id: UUID, patient_id: UUID, version: int, at: datetime, reason: Any
    ) -> None: ...
    def completed(self, prescription_id: UUID, version: int, at: datetime) -> None: ...
    def patient_erased(self, patient_id: UUID) -> None:
        """Nothing of the patient's prescriptions stays findable or readable."""
        ...

    def pharmacy_added(self, client_id: UUID, organisation_id: UUID) -> None: ...
    def client_revoked(self, client_id: UUID) -> None: ...


class Prescriptions(Protocol):
    """What routes ask of the view."""

    def of_patient(self, patient_id: UUID) -> list[PrescriptionRow]: ...
    def get(self, prescription_id: UUID) -> PrescriptionRow | None: ...
    def by_code(self, code: str) -> PrescriptionRow | None:
        """The prescription the code opens (any spelling of it), or None."""
        ...

    def is_pharmacy(self, client_id: UUID) -> bool: ...


class PrescriptionsProjection(Projection[PrescriptionsWriter]):
    name = "prescriptions"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Prescription.Issued,
            Prescription.Dispensed,
            Prescription.Cancelled,
            Prescription.Completed,
            Patient.Erased,
            MachineClient.Created,
            MachineClient.Revoked,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change the prescriptions' view."""

    @process_event.register
    def _(self, event: Prescription.Issued, tracking: Tracking) -> None:
        self.view.issued(
            PrescriptionRow(
                prescription_id=event.originator_id,
                version=event.originator_version,
                patient_id=event.patient_id,
                consultation_id=event.consultation_id,
                protocol_id=event.protocol_id,
                line=event.line,
                doctor_id=event.doctor_id,
                organisation_id=event.organisation_id,
                status="active",
                fills=0,
                fills_allowed=event.fills_allowed,
                issued_at=event.issued_at,
                valid_until=event.valid_until,
                updated_at=event.issued_at,
                medication=event.medication,
                code=event.code,
            )
        )

    @process_event.register
    def _(self, event: Prescription.Dispensed, tracking: Tracking) -> None:
        self.view.dispensed(
            event.originator_id, event.originator_version, event.fill, str(event.status), event.at
        )

    @process_event.register
    def _(self, event: Prescription.Cancelled, tracking: Tracking) -> None:
        self.view.cancelled(
            event.originator_id, event.patient_id, event.originator_version, event.at, event.reason
        )

    @process_event.register
    def _(self, event: Prescription.Completed, tracking: Tracking) -> None:
        self.view.completed(event.originator_id, event.originator_version, event.at)

    @process_event.register
    def _(self, event: Patient.Erased, tracking: Tracking) -> None:
        self.view.patient_erased(event.originator_id)

    @process_event.register
    def _(self, event: MachineClient.Created, tracking: Tracking) -> None:
        if str(event.purpose) == ClientPurpose.PHARMACY.value:
            self.view.pharmacy_added(event.originator_id, event.organisation_id)

    @process_event.register
    def _(self, event: MachineClient.Revoked, tracking: Tracking) -> None:
        self.view.client_revoked(event.originator_id)
