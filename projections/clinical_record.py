"""The clinical part of the patient card (E3): per patient, its consultations, protocols (draft
or signed), the diagnoses of its signed protocols, prescriptions, lab orders with their results
and consents; and the index of every aggregate stream that belongs to the patient (a
teleconference may belong to several), which compliance replays as the patient's whole record.
Clinical values stay sealed with the patient's key in storage and are opened at query time;
ids, sections, states and times are in clear. Computed from events alone: each step is one
small change of the view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.clinical_protocol import ClinicalProtocol
from domain.consultation import Consultation
from domain.delegation import Grant
from domain.jurisdiction import RuleDecisions
from domain.lab_order import LabOrder
from domain.on_call import PoolRequest
from domain.patient import Patient
from domain.prescription import MEDICATION_FIELDS, Prescription
from domain.room import Room
from domain.teleconference import ParticipantKind, Teleconference
from projections.base import Projection


@dataclass(frozen=True)
class StreamRef:
    """An aggregate stream of the patient's record: its id and its type (``Consultation``)."""

    aggregate_id: UUID
    aggregate_type: str


@dataclass(frozen=True)
class Entry:
    """One item of a section. ``content`` is the clinical part (None once erased); ``parts``
    the item's further sealed values (a lab order's results by ``result.<n>``)."""

    entry_id: UUID
    patient_id: UUID
    section: str  # consultation | protocol | prescription | lab-order | consent | purpose
    status: str
    at: datetime
    updated_at: datetime
    position: int
    organisation_id: UUID | None = None
    consultation_id: UUID | None = None
    doctor_id: UUID | None = None
    ends_at: datetime | None = None
    signer_id: UUID | None = None
    signed_at: datetime | None = None
    tally: int = 0  # a protocol's addenda, a prescription's fills
    taken: bool = False  # a consultation a doctor has (for reopening)
    content: dict[str, Any] | None = None
    parts: dict[str, Any] = field(default_factory=dict)


def consent_entry_id(patient_id: UUID, organisation_id: UUID, kind: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/clinical-record/{patient_id}/consents/{organisation_id}/{kind}")


def purpose_entry_id(patient_id: UUID, purpose: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/clinical-record/{patient_id}/purposes/{purpose}")


class ClinicalRecordWriter(Protocol):
    """The steps; clinical values arrive as the events carry them (clear, or ``ERASED``)."""

    def stream(self, patient_id: UUID, ref: StreamRef, position: int) -> None: ...
    def stream_of_consultation(self, consultation_id: UUID, ref: StreamRef, pos: int) -> None:
        """A stream that names only the consultation: the consultation's patient's."""
        ...

    def entry(self, entry: Entry) -> None:
        """Insert the item, or replace its state and content (a consent signed again)."""
        ...

    def status(self, entry_id: UUID, status: str, at: datetime, position: int) -> None: ...
    def rescheduled(self, entry_id: UUID, start: datetime, end: datetime, pos: int) -> None: ...
    def taken(self, entry_id: UUID, doctor_id: UUID, at: datetime, position: int) -> None: ...
    def escalated(self, entry_id: UUID, at: datetime, position: int) -> None: ...
    def reopened(self, entry_id: UUID, at: datetime, position: int) -> None: ...
    def content(self, entry_id: UUID, patient_id: UUID, content: Any, position: int) -> None: ...
    def signed(self, entry_id: UUID, signer_id: UUID, at: datetime, position: int) -> None: ...
    def counted(self, entry_id: UUID, at: datetime, position: int) -> None:
        """One more (an addendum)."""
        ...

    def dispensed(
        self, entry_id: UUID, fill: int, status: str, at: datetime, position: int
    ) -> None: ...
    def part(self, entry_id: UUID, patient_id: UUID, part: str, value: Any) -> None: ...


class ClinicalRecord(Protocol):
    """What routes and compliance ask of the view."""

    def of_patient(self, patient_id: UUID) -> list[Entry]: ...
    def streams_of(self, patient_id: UUID) -> list[StreamRef]: ...
    def owners_of(self, aggregate_id: UUID) -> list[UUID]:
        """The patients whose records the stream belongs to (none: nobody's)."""
        ...


def diagnoses(entries: list[Entry]) -> list[dict[str, Any]]:
    """The diagnoses of the signed protocols (a draft's are not the record's), newest first."""
    found = []
    for protocol in entries:
        if protocol.section != "protocol" or protocol.status != "signed":
            continue
        for item in (protocol.content or {}).get("diagnoses") or []:
            if isinstance(item, dict):
                found.append(
                    {
                        "code": item.get("code"),
                        "text": item.get("text"),
                        "primary": bool(item.get("primary")),
                        "protocol_id": protocol.entry_id,
                        "consultation_id": protocol.consultation_id,
                        "date": protocol.signed_at,
                    }
                )
    return found


def _stream(event: Any, tracking: Tracking) -> tuple[UUID, StreamRef, int]:
    owner = type(event).__qualname__.split(".")[0]
    return event.patient_id, StreamRef(event.originator_id, owner), tracking.notification_id


def _medication(line: Any) -> Any:
    return {k: line.get(k) for k in MEDICATION_FIELDS} if isinstance(line, dict) else line


class ClinicalRecordProjection(Projection[ClinicalRecordWriter]):
    name = "clinical_record"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Patient.Registered,
            Patient.ConsentRecorded,
            Patient.ConsentWithdrawn,
            Patient.ConsentSigned,
            Patient.SignedConsentWithdrawn,
            Consultation.Booked,
            Consultation.Confirmed,
            Consultation.Cancelled,
            Consultation.Rescheduled,
            Consultation.NoShowRecorded,
            Consultation.CheckedIn,
            Consultation.Taken,
            Consultation.Escalated,
            Consultation.Admitted,
            Consultation.Completed,
            Consultation.Answered,
            Consultation.Closed,
            Consultation.Reopened,
            ClinicalProtocol.Drafted,
            ClinicalProtocol.Revised,
            ClinicalProtocol.Signed,
            ClinicalProtocol.AddendumSigned,
            Prescription.Issued,
            Prescription.Dispensed,
            Prescription.Cancelled,
            Prescription.Completed,
            LabOrder.Ordered,
            LabOrder.ResultsReported,
            LabOrder.Cancelled,
            PoolRequest.Made,
            Grant.Given,
            RuleDecisions.Opened,
            Teleconference.Invited,
            Room.Opened,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change the clinical record."""

    # -- the streams of the record -------------------------------------------------------------
    @process_event.register
    def _(self, event: Patient.Registered, tracking: Tracking) -> None:
        ref = StreamRef(event.originator_id, "Patient")
        self.view.stream(event.originator_id, ref, tracking.notification_id)

    @process_event.register
    def _(self, event: PoolRequest.Made, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))

    @process_event.register
    def _(self, event: Grant.Given, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))

    @process_event.register
    def _(self, event: RuleDecisions.Opened, tracking: Tracking) -> None:
        ref = StreamRef(event.originator_id, "RuleDecisions")
        self.view.stream_of_consultation(event.consultation_id, ref, tracking.notification_id)

    @process_event.register
    def _(self, event: Room.Opened, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))

    @process_event.register
    def _(self, event: Teleconference.Invited, tracking: Tracking) -> None:
        if event.kind == ParticipantKind.PATIENT:
            ref = StreamRef(event.originator_id, "Teleconference")
            self.view.stream(event.participant_id, ref, tracking.notification_id)

    # -- consents ------------------------------------------------------------------------------
    @process_event.register
    def _(self, event: Patient.ConsentSigned, tracking: Tracking) -> None:
        patient_id = event.originator_id
        self.view.entry(
            Entry(
                entry_id=consent_entry_id(patient_id, event.organisation_id, event.kind),
                patient_id=patient_id,
                section="consent",
                status="signed",
                at=event.timestamp,
                updated_at=event.timestamp,
                position=tracking.notification_id,
                organisation_id=event.organisation_id,
                content={"kind": event.kind, "version": event.version, "sha256": event.sha256},
            )
        )

    @process_event.register
    def _(self, event: Patient.SignedConsentWithdrawn, tracking: Tracking) -> None:
        ident = consent_entry_id(event.originator_id, event.organisation_id, event.kind)
        self.view.status(ident, "withdrawn", event.timestamp, tracking.notification_id)

    @process_event.register
    def _(self, event: Patient.ConsentRecorded, tracking: Tracking) -> None:
        patient_id = event.originator_id
        self.view.entry(
            Entry(
                entry_id=purpose_entry_id(patient_id, event.purpose),
                patient_id=patient_id,
                section="purpose",
                status="given",
                at=event.timestamp,
                updated_at=event.timestamp,
                position=tracking.notification_id,
                content={"purpose": str(event.purpose)},
            )
        )

    @process_event.register
    def _(self, event: Patient.ConsentWithdrawn, tracking: Tracking) -> None:
        ident = purpose_entry_id(event.originator_id, event.purpose)
        self.view.status(ident, "withdrawn", event.timestamp, tracking.notification_id)

    # -- consultations -------------------------------------------------------------------------
    @process_event.register
    def _(self, event: Consultation.Booked, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))
        self.view.entry(
            Entry(
                entry_id=event.originator_id,
                patient_id=event.patient_id,
                section="consultation",
                status="asked" if event.asynchronous else "booked",
                at=event.start,
                ends_at=event.end,
                updated_at=event.timestamp,
                position=tracking.notification_id,
                organisation_id=event.organisation_id,
                doctor_id=event.doctor_id,
                taken=not (event.urgent or event.asynchronous),
                content={
                    "kind": str(event.kind),
                    "type_code": event.type_code,
                    "asynchronous": event.asynchronous,
                    "urgent": event.urgent,
                },
            )
        )

    def _status(self, event: Any, status: str, tracking: Tracking) -> None:
        at = getattr(event, "at", None) or event.timestamp
        self.view.status(event.originator_id, status, at, tracking.notification_id)

    @process_event.register
    def _(self, event: Consultation.Confirmed, tracking: Tracking) -> None:
        self._status(event, "confirmed", tracking)

    @process_event.register
    def _(self, event: Consultation.Cancelled, tracking: Tracking) -> None:
        self._status(event, "cancelled", tracking)

    @process_event.register
    def _(self, event: Consultation.NoShowRecorded, tracking: Tracking) -> None:
        self._status(event, "no-show", tracking)

    @process_event.register
    def _(self, event: Consultation.CheckedIn, tracking: Tracking) -> None:
        self._status(event, "checked-in", tracking)

    @process_event.register
    def _(self, event: Consultation.Admitted, tracking: Tracking) -> None:
        self._status(event, "in-progress", tracking)

    @process_event.register
    def _(self, event: Consultation.Completed, tracking: Tracking) -> None:
        self._status(event, "completed", tracking)

    @process_event.register
    def _(self, event: Consultation.Answered, tracking: Tracking) -> None:
        self._status(event, "answered", tracking)

    @process_event.register
    def _(self, event: Consultation.Closed, tracking: Tracking) -> None:
        self._status(event, "closed", tracking)

    @process_event.register
    def _(self, event: Consultation.Rescheduled, tracking: Tracking) -> None:
        self.view.rescheduled(event.originator_id, event.start, event.end, tracking.notification_id)

    @process_event.register
    def _(self, event: Consultation.Taken, tracking: Tracking) -> None:
        self.view.taken(event.originator_id, event.doctor_id, event.at, tracking.notification_id)

    @process_event.register
    def _(self, event: Consultation.Escalated, tracking: Tracking) -> None:
        self.view.escalated(event.originator_id, event.at, tracking.notification_id)

    @process_event.register
    def _(self, event: Consultation.Reopened, tracking: Tracking) -> None:
        self.view.reopened(event.originator_id, event.at, tracking.notification_id)

    # -- protocols -----------------------------------------------------------------------------
    @process_event.register
    def _(self, event: ClinicalProtocol.Drafted, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))
        self.view.entry(
            Entry(
                entry_id=event.originator_id,
                patient_id=event.patient_id,
                section="protocol",
                status="draft",
                at=event.timestamp,
                updated_at=event.timestamp,
                position=tracking.notification_id,
                organisation_id=event.organisation_id,
                consultation_id=event.consultation_id,
                doctor_id=event.doctor_id,
                content=_diagnoses(event.content),
            )
        )

    @process_event.register
    def _(self, event: ClinicalProtocol.Revised, tracking: Tracking) -> None:
        content = _diagnoses(event.content)
        self.view.content(event.originator_id, event.patient_id, content, tracking.notification_id)

    @process_event.register
    def _(self, event: ClinicalProtocol.Signed, tracking: Tracking) -> None:
        self.view.signed(
            event.originator_id, event.signer_id, event.signed_at, tracking.notification_id
        )

    @process_event.register
    def _(self, event: ClinicalProtocol.AddendumSigned, tracking: Tracking) -> None:
        self.view.counted(event.originator_id, event.signed_at, tracking.notification_id)

    # -- prescriptions -------------------------------------------------------------------------
    @process_event.register
    def _(self, event: Prescription.Issued, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))
        self.view.entry(
            Entry(
                entry_id=event.originator_id,
                patient_id=event.patient_id,
                section="prescription",
                status="active",
                at=event.issued_at,
                ends_at=event.valid_until,
                updated_at=event.issued_at,
                position=tracking.notification_id,
                organisation_id=event.organisation_id,
                consultation_id=event.consultation_id,
                doctor_id=event.doctor_id,
                content={
                    "medication": _medication(event.medication),
                    "fills_allowed": event.fills_allowed,
                    "protocol_id": str(event.protocol_id),
                    "line": event.line,
                },
            )
        )

    @process_event.register
    def _(self, event: Prescription.Dispensed, tracking: Tracking) -> None:
        self.view.dispensed(
            event.originator_id, event.fill, str(event.status), event.at, tracking.notification_id
        )

    @process_event.register
    def _(self, event: Prescription.Cancelled, tracking: Tracking) -> None:
        self._status(event, "cancelled", tracking)

    @process_event.register
    def _(self, event: Prescription.Completed, tracking: Tracking) -> None:
        self._status(event, "completed", tracking)

    # -- lab orders ----------------------------------------------------------------------------
    @process_event.register
    def _(self, event: LabOrder.Ordered, tracking: Tracking) -> None:
        self.view.stream(*_stream(event, tracking))
        self.view.entry(
            Entry(
                entry_id=event.originator_id,
                patient_id=event.patient_id,
                section="lab-order",
                status="ordered",
                at=event.at,
                updated_at=event.at,
                position=tracking.notification_id,
                organisation_id=event.organisation_id,
                consultation_id=event.consultation_id,
                doctor_id=event.doctor_id,
                content={"tests": event.tests, "note": event.note, "lab_id": str(event.lab_id)},
            )
        )

    @process_event.register
    def _(self, event: LabOrder.ResultsReported, tracking: Tracking) -> None:
        for result in event.results if isinstance(event.results, list) else []:
            part = f"result.{int(result['position'])}"
            self.view.part(event.originator_id, event.patient_id, part, result)
        self._status(event, str(event.status), tracking)

    @process_event.register
    def _(self, event: LabOrder.Cancelled, tracking: Tracking) -> None:
        self._status(event, "cancelled", tracking)


def _diagnoses(content: Any) -> Any:
    """What the card keeps of a protocol's content: its diagnoses (shown once signed)."""
    return {"diagnoses": content.get("diagnoses") or []} if isinstance(content, dict) else content
