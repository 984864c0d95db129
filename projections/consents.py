"""Consents as the recording rule reads them (C4, C8): each organisation's consent texts (their
versions and hashes) and each patient's signatures in force, computed from the events alone.
The history of signatures and withdrawals stays on the patient's record (the compliance
timeline); this view keeps what is in force now.

The recording rule is a pure function of this view and the consultation view
(``recording_permission``): routers answer it without loading an aggregate; the room issue
enforces it for the media.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.consent_text import ConsentKind, ConsentText
from domain.patient import Patient
from projections.base import Projection


@dataclass(frozen=True)
class TextVersion:
    text_id: UUID
    version: int
    sha256: str
    text: str
    published_at: datetime


@dataclass(frozen=True)
class Signature:
    patient_id: UUID
    organisation_id: UUID
    kind: str
    version: int
    sha256: str
    signed_at: datetime
    signed_by_role: str
    on_behalf: bool  # a holder or a caregiver signed for the patient


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reasons: list[str]
    lacking_consent: list[UUID]


class ConsentsWriter(Protocol):
    def text_published(self, text: TextVersion) -> None: ...

    def signed(self, signature: Signature) -> None: ...

    def withdrawn(self, patient_id: UUID, organisation_id: UUID, kind: str) -> None: ...

    def erased(self, patient_id: UUID) -> None: ...


class Consents(Protocol):
    """What routes ask of the view."""

    def text(self, organisation_id: UUID, kind: ConsentKind) -> TextVersion | None:
        """The latest version of a text (None: never published)."""
        ...

    def in_force(self, patient_id: UUID) -> list[Signature]: ...

    def signature(
        self, patient_id: UUID, organisation_id: UUID, kind: ConsentKind
    ) -> Signature | None: ...


def recording_permission(
    options: dict[str, Any],
    organisation_id: UUID | None,
    patients: list[UUID],
    consents: Consents,
) -> Permission:
    """Off by default: only where the booking template allows recording (``recording:
    with-consent``) and every patient participant has signed the organisation's current
    recording text and not withdrawn it."""
    reasons: list[str] = []
    lacking: list[UUID] = []
    if options.get("recording") != "with-consent":
        reasons.append("the booking template does not allow recording")
    text = consents.text(organisation_id, ConsentKind.RECORDING) if organisation_id else None
    if text is None:
        reasons.append("the organisation has no recording consent text")
    for patient_id in patients:
        signed = (
            consents.signature(patient_id, organisation_id, ConsentKind.RECORDING)
            if organisation_id
            else None
        )
        if signed is None:
            reasons.append(f"patient {patient_id} has no recording consent in force")
            lacking.append(patient_id)
        elif text is not None and signed.version != text.version:
            reasons.append(
                f"patient {patient_id} signed version {signed.version}, not the current "
                f"{text.version}"
            )
            lacking.append(patient_id)
    return Permission(not reasons, reasons, lacking)


class ConsentsProjection(Projection[ConsentsWriter]):
    name = "consents"
    topics = tuple(
        get_topic(cls)
        for cls in (
            ConsentText.Published,
            Patient.ConsentSigned,
            Patient.SignedConsentWithdrawn,
            Patient.Erased,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change consents."""

    @process_event.register
    def _(self, event: ConsentText.Published, tracking: Tracking) -> None:
        self.view.text_published(
            TextVersion(
                event.originator_id, event.version, event.sha256, event.text, event.timestamp
            )
        )

    @process_event.register
    def _(self, event: Patient.ConsentSigned, tracking: Tracking) -> None:
        self.view.signed(
            Signature(
                patient_id=event.originator_id,
                organisation_id=event.organisation_id,
                kind=event.kind,
                version=event.version,
                sha256=event.sha256,
                signed_at=event.timestamp,
                signed_by_role=event.by.role.value,
                on_behalf=event.by.on_behalf_of is not None,
            )
        )

    @process_event.register
    def _(self, event: Patient.SignedConsentWithdrawn, tracking: Tracking) -> None:
        self.view.withdrawn(event.originator_id, event.organisation_id, event.kind)

    @process_event.register
    def _(self, event: Patient.Erased, tracking: Tracking) -> None:
        self.view.erased(event.originator_id)
