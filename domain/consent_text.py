"""Digital consents (C4): an organisation publishes versioned consent texts of a few kinds; a
patient signs one version of one text (the patient record records it: see ``domain.patient``).

A text is an organisation's document, not personal data. Its SHA-256 is over the UTF-8 bytes
of the text exactly as published, so a signature names the very words the patient saw.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError
from domain.intake import InvalidField
from domain.personal import RecordedCreation, RecordedEvent

TEXT_LIMIT = 50_000


class ConsentKind(StrEnum):
    TREATMENT = "treatment"
    TELEMEDICINE = "telemedicine"
    RECORDING = "recording"
    DATA_SHARING = "data-sharing"


class NotTheCurrentVersion(DomainError):
    """A signature for a version that is not (or no longer) the text's latest."""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class ConsentText(Aggregate):
    """One kind of consent text of one organisation: its versions, each never changed."""

    class Created(RecordedCreation):
        organisation_id: UUID
        kind: ConsentKind

    class Published(RecordedEvent):
        version: int
        text: str
        sha256: str

    @staticmethod
    def create_id(organisation_id: UUID, kind: ConsentKind) -> UUID:
        return uuid5(NAMESPACE_URL, f"/organisations/{organisation_id}/consent-texts/{kind}")

    @event(Created)
    def __init__(self, *, organisation_id: UUID, kind: ConsentKind, by: Actor) -> None:
        self.organisation_id, self.kind = organisation_id, ConsentKind(kind)
        self.hashes: list[str] = []

    def publish(self, text: str, *, by: Actor) -> int:
        if not text.strip() or len(text) > TEXT_LIMIT:
            raise InvalidField("text", f"a consent text has 1 to {TEXT_LIMIT} characters")
        version = len(self.hashes) + 1
        self._published(version=version, text=text, sha256=text_hash(text), by=by)
        return version

    @event(Published)
    def _published(self, *, version: int, text: str, sha256: str, by: Actor) -> None:
        self.hashes.append(sha256)

    def current(self, version: int) -> str:
        """The hash of ``version`` if it is the latest (a patient signs only the current text)."""
        latest = len(self.hashes)
        if latest == 0 or version != latest:
            raise NotTheCurrentVersion(f"the current version of the text is {latest}")
        return self.hashes[-1]
