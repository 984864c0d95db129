"""Protocols as the consultation's parties read them (``GET /v1/protocols/{id}``): the content,
whether and by whom it was signed, and its signed addenda; computed from the protocol's events.
The content and the addenda's text stay sealed with the patient's key in the storage (opened at
query time), so erasure reaches this view too. Routes authorize from it (whose protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.clinical_protocol import ClinicalProtocol
from projections.base import Projection


@dataclass(frozen=True)
class AddendumRow:
    addendum_id: UUID
    signer_id: UUID
    signed_at: datetime
    key_id: str
    text: str | None


@dataclass(frozen=True)
class ProtocolRow:
    """``content`` is None once the patient is erased."""

    protocol_id: UUID
    consultation_id: UUID
    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID | None
    version: int
    status: str
    content: dict[str, Any] | None
    signer_id: UUID | None = None
    signed_at: datetime | None = None
    key_id: str | None = None
    addenda: tuple[AddendumRow, ...] = field(default=())


class ProtocolViewWriter(Protocol):
    """The steps; personal values arrive as the events carry them (clear, or ``ERASED``)."""

    def drafted(self, row: ProtocolRow) -> None: ...

    def revised(
        self, protocol_id: UUID, patient_id: UUID, version: int, content: dict[str, Any]
    ) -> None: ...

    def signed(
        self, protocol_id: UUID, version: int, signer_id: UUID, signed_at: datetime, key_id: str
    ) -> None: ...

    def addendum(
        self, protocol_id: UUID, patient_id: UUID, version: int, row: AddendumRow
    ) -> None: ...


class Protocols(Protocol):
    """What routes ask of the view."""

    def get(self, protocol_id: UUID) -> ProtocolRow | None: ...


class ProtocolViewProjection(Projection[ProtocolViewWriter]):
    name = "protocol_view"
    topics = tuple(
        get_topic(cls)
        for cls in (
            ClinicalProtocol.Drafted,
            ClinicalProtocol.Revised,
            ClinicalProtocol.Signed,
            ClinicalProtocol.AddendumSigned,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change a protocol."""

    @process_event.register
    def _(self, event: ClinicalProtocol.Drafted, tracking: Tracking) -> None:
        self.view.drafted(
            ProtocolRow(
                protocol_id=event.originator_id,
                consultation_id=event.consultation_id,
                patient_id=event.patient_id,
                doctor_id=event.doctor_id,
                organisation_id=event.organisation_id,
                version=event.originator_version,
                status="draft",
                content=event.content,
            )
        )

    @process_event.register
    def _(self, event: ClinicalProtocol.Revised, tracking: Tracking) -> None:
        self.view.revised(
            event.originator_id, event.patient_id, event.originator_version, event.content
        )

    @process_event.register
    def _(self, event: ClinicalProtocol.Signed, tracking: Tracking) -> None:
        self.view.signed(
            event.originator_id,
            event.originator_version,
            event.signer_id,
            event.signed_at,
            event.key_id,
        )

    @process_event.register
    def _(self, event: ClinicalProtocol.AddendumSigned, tracking: Tracking) -> None:
        self.view.addendum(
            event.originator_id,
            event.patient_id,
            event.originator_version,
            AddendumRow(
                event.addendum_id, event.signer_id, event.signed_at, event.key_id, event.text
            ),
        )
