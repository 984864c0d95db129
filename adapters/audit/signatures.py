"""Verification of signed protocols: from the stored events, never from a cache or a read model.

The protocol and the signer's published keys are folded again from the rows of
``stored_events`` (the application's aggregate cache is bypassed: it would answer what was
written, not what is stored now). The canonical document is re-derived from the content those
rows hold and checked against the stored signature with the public key the signer published.
Whatever an attacker changes in those rows (a byte of the sealed content or signature, the
signer, the time, the key id, the published key) makes the answer ``valid: false``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters.eventstore.application import EventStoreApplication
from adapters.eventstore.recorder import EventRecorder
from commands.ports import ProtocolSigner
from domain.clinical_protocol import ClinicalProtocol, Signature, addendum_document
from domain.personal import Erased
from domain.signing_keys import PractitionerKeys, PublicKey


@dataclass(frozen=True)
class SignatureCheck:
    signer_id: UUID
    signed_at: datetime
    key_id: str
    algorithm: str
    public_key: str | None
    key_valid_then: bool
    signature_matches: bool
    #: the published key's validity (its end once the key was replaced or retired)
    key_valid_from: datetime | None = None
    key_valid_until: datetime | None = None

    @property
    def valid(self) -> bool:
        return self.key_valid_then and self.signature_matches


@dataclass(frozen=True)
class Verification:
    protocol_id: UUID
    signed: bool
    valid: bool
    problem: str | None
    consultation_id: UUID | None = None
    patient_id: UUID | None = None
    signature: SignatureCheck | None = None
    addenda: list[tuple[UUID, SignatureCheck]] = field(default_factory=list)


class ProtocolVerifier:
    def __init__(
        self, app: EventStoreApplication, recorder: EventRecorder, signer: ProtocolSigner
    ) -> None:
        self.app, self.recorder, self.signer = app, recorder, signer

    def public_keys(self, practitioner_id: UUID) -> list[PublicKey]:
        """The practitioner's published keys, oldest first (kept after erasure)."""
        keys = self._fold(PractitionerKeys.create_id(practitioner_id))
        return list(keys.keys) if isinstance(keys, PractitionerKeys) else []

    def verify(self, protocol_id: UUID) -> Verification:
        try:
            protocol = self._fold(protocol_id)
        except Exception:  # a stored row that no longer decodes, decrypts or replays
            return Verification(protocol_id, True, False, "stored-events-unreadable")
        if not isinstance(protocol, ClinicalProtocol):
            raise LookupError(protocol_id)
        base: dict[str, Any] = {
            "consultation_id": protocol.consultation_id,
            "patient_id": protocol.patient_id,
        }
        if protocol.signature is None:
            return Verification(protocol_id, False, False, "not-signed", **base)
        if _erased(protocol.content) or isinstance(protocol.signature.value, Erased):
            return Verification(protocol_id, True, False, "content-erased", **base)
        sig = protocol.signature
        check = self._check(sig, protocol.document(sig.signer_id, sig.signed_at, sig.key_id))
        addenda = []
        for addendum in protocol.addenda:
            document = addendum_document(
                protocol_signature=sig.value,
                addendum_id=addendum.addendum_id,
                text=addendum.text,
                consultation_id=protocol.consultation_id,
                patient_id=protocol.patient_id,
                signer_id=addendum.signature.signer_id,
                signed_at=addendum.signature.signed_at,
                key_id=addendum.signature.key_id,
            )
            addenda.append((addendum.addendum_id, self._check(addendum.signature, document)))
        valid = check.valid and all(a.valid for _, a in addenda)
        problem = None if valid else "signature-mismatch"
        return Verification(
            protocol_id, True, valid, problem, **base, signature=check, addenda=addenda
        )

    def _check(self, sig: Signature, document: bytes) -> SignatureCheck:
        try:
            key = next((k for k in self.public_keys(sig.signer_id) if k.key_id == sig.key_id), None)
        except Exception:
            key = None
        matches = (
            key is not None
            and key.algorithm == sig.algorithm
            and self.signer.verify(key.public_key, document, sig.value)
        )
        return SignatureCheck(
            signer_id=sig.signer_id,
            signed_at=sig.signed_at,
            key_id=sig.key_id,
            algorithm=sig.algorithm,
            public_key=key.public_key if key else None,
            key_valid_then=key is not None and key.valid_at(sig.signed_at),
            signature_matches=matches,
            key_valid_from=key.valid_from if key else None,
            key_valid_until=key.valid_until if key else None,
        )

    def _fold(self, aggregate_id: UUID) -> Any:
        """The aggregate from its stored rows alone."""
        aggregate: Any = None
        for stored in self.recorder.select_events(aggregate_id):
            event: Any = self.app.mapper.to_domain_event(stored)
            aggregate = event.mutate(aggregate)
        return aggregate


def _erased(value: Any) -> bool:
    if isinstance(value, Erased):
        return True
    if isinstance(value, dict):
        return any(_erased(v) for v in value.values())
    return False
