"""The consultation's protocol (BRIEF C5): a structured clinical note, drafted by the doctor (an
assistant may prepare it), signed once by the doctor, never changed afterwards; corrections are
signed addenda. Every clinical value is a personal field of the patient (encrypted with their key).

The content is a plain JSON-shaped dict so that it signs canonically (RFC 8785) and replays
byte-identical; ``validated`` builds it from what a client sent and checks the codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import rfc8785
from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

#: ICD-10 (WHO): letter (not U), two digits (or A/B in the third place), optional subdivision
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,39}$")
_ROUTE = re.compile(r"^[a-z][a-z-]{0,39}$")
MEDICATION_SYSTEMS = ("atc", "rxnorm", "local")
PERIOD_UNITS = ("h", "d", "wk", "mo")
TEXT_LIMIT = 8000
SECTIONS = (
    "complaints",
    "objective_findings",
    "diagnoses",
    "recommendations",
    "referrals",
    "prescriptions",
)
#: what the signature's document says it is (bump when the shape of the document changes)
DOCUMENT_TYPE = "telemed-protocol/v1"
ADDENDUM_TYPE = "telemed-protocol-addendum/v1"


class ProtocolSigned(DomainError):
    """A signed protocol never changes: corrections are signed addenda."""


class ProtocolNotSigned(DomainError):
    """An addendum corrects a signed protocol; a draft is simply edited."""


class MissingSections(DomainError):
    """Signing refused: required sections are empty (answered 409 naming them)."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("required sections are missing: " + ", ".join(missing))
        self.missing = missing


class NotTheDoctor(DomainError):
    """Only the consultation's doctor signs its protocol (an assistant prepares it)."""


def protocol_id_of(consultation_id: UUID) -> UUID:
    """One protocol per consultation."""
    return uuid5(NAMESPACE_URL, f"/protocols/{consultation_id}")


def _text(value: Any, name: str, *, limit: int = TEXT_LIMIT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f"{name} is text")
    text = value.strip()
    if len(text) > limit:
        raise InvalidValue(f"{name} has at most {limit} characters")
    return text


def _count(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidValue(f"{name} is a whole number from {low} to {high}")
    return value


def _diagnosis(raw: dict[str, Any], index: int) -> dict[str, Any]:
    code = str(raw.get("code", "")).strip().upper()
    if not ICD10.match(code):
        raise InvalidValue(f"diagnoses[{index}].code is not an ICD-10 code (like J06.9)")
    text = _text(raw.get("text"), f"diagnoses[{index}].text", limit=500)
    if not text:
        raise InvalidValue(f"diagnoses[{index}].text is required")
    return {"code": code, "text": text, "primary": bool(raw.get("primary", False))}


def _referral(raw: dict[str, Any], index: int) -> dict[str, Any]:
    code = str(raw.get("service_code", "")).strip()
    if not _CODE.match(code):
        raise InvalidValue(f"referrals[{index}].service_code is a code like 'cardiology'")
    text = _text(raw.get("service_text"), f"referrals[{index}].service_text", limit=500)
    reason = _text(raw.get("reason"), f"referrals[{index}].reason", limit=2000)
    if not text:
        raise InvalidValue(f"referrals[{index}].service_text is required")
    return {"service_code": code, "service_text": text, "reason": reason}


def _prescription(raw: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"prescriptions[{index}]"
    system = str(raw.get("medication_system", "atc"))
    if system not in MEDICATION_SYSTEMS:
        raise InvalidValue(f"{where}.medication_system is one of {', '.join(MEDICATION_SYSTEMS)}")
    code = str(raw.get("medication_code", "")).strip()
    if not _CODE.match(code):
        raise InvalidValue(f"{where}.medication_code is a code like N02BE01")
    text = _text(raw.get("medication_text"), f"{where}.medication_text", limit=500)
    if not text:
        raise InvalidValue(f"{where}.medication_text is required")
    dose = raw.get("dose_value")
    if not isinstance(dose, int | float) or isinstance(dose, bool) or not 0 < dose <= 100000:
        raise InvalidValue(f"{where}.dose_value is a positive number")
    unit = str(raw.get("dose_unit", "")).strip()
    if not _CODE.match(unit):
        raise InvalidValue(f"{where}.dose_unit is a unit like mg (UCUM)")
    route = str(raw.get("route", "")).strip()
    if not _ROUTE.match(route):
        raise InvalidValue(f"{where}.route is a code like 'oral'")
    unit_of_period = str(raw.get("period_unit", "d"))
    if unit_of_period not in PERIOD_UNITS:
        raise InvalidValue(f"{where}.period_unit is one of {', '.join(PERIOD_UNITS)}")
    return {
        "medication_system": system,
        "medication_code": code,
        "medication_text": text,
        "dose_value": dose,
        "dose_unit": unit,
        "route": route,
        "frequency": _count(raw.get("frequency"), f"{where}.frequency", 1, 48),
        "period": _count(raw.get("period", 1), f"{where}.period", 1, 365),
        "period_unit": unit_of_period,
        "duration_days": _count(raw.get("duration_days"), f"{where}.duration_days", 1, 365),
        "quantity": _count(raw.get("quantity"), f"{where}.quantity", 1, 10000),
        "refills": _count(raw.get("refills", 0), f"{where}.refills", 0, 12),
        "instructions": _text(raw.get("instructions"), f"{where}.instructions", limit=1000),
    }


def _items(raw: Any, name: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise InvalidValue(f"{name} is a list of objects")
    if len(raw) > 50:
        raise InvalidValue(f"{name} has at most 50 entries")
    return raw


def validated(raw: dict[str, Any]) -> dict[str, Any]:
    """The protocol's content from a client's sections: codes checked, text trimmed, at most
    one primary diagnosis (exactly one once there are diagnoses)."""
    diagnoses = [_diagnosis(d, i) for i, d in enumerate(_items(raw.get("diagnoses"), "diagnoses"))]
    primaries = sum(1 for d in diagnoses if d["primary"])
    if diagnoses and primaries != 1:
        raise InvalidValue("diagnoses: exactly one is primary")
    return {
        "complaints": _text(raw.get("complaints"), "complaints"),
        "objective_findings": _text(raw.get("objective_findings"), "objective_findings"),
        "diagnoses": diagnoses,
        "recommendations": _text(raw.get("recommendations"), "recommendations"),
        "referrals": [
            _referral(r, i) for i, r in enumerate(_items(raw.get("referrals"), "referrals"))
        ],
        "prescriptions": [
            _prescription(p, i)
            for i, p in enumerate(_items(raw.get("prescriptions"), "prescriptions"))
        ],
    }


def has_primary_diagnosis(content: dict[str, Any]) -> bool:
    return any(d.get("primary") for d in content.get("diagnoses") or [])


def missing_sections(content: dict[str, Any], *, diagnosis_allowed: bool) -> list[str]:
    """What signing requires: complaints, and a primary diagnosis; where a jurisdiction rule
    forbids a diagnosis (a remote first contact), recommendations take its place."""
    missing = [] if content.get("complaints") else ["complaints"]
    if diagnosis_allowed and not has_primary_diagnosis(content):
        missing.append("diagnoses.primary")
    if not diagnosis_allowed and not content.get("recommendations"):
        missing.append("recommendations")
    return missing


def utc_text(moment: datetime) -> str:
    """A time as the signed documents write it: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signed_document(
    *,
    content: dict[str, Any],
    consultation_id: UUID,
    patient_id: UUID,
    signer_id: UUID,
    signed_at: datetime,
    key_id: str,
) -> bytes:
    """Exactly the bytes a protocol's signature covers: RFC 8785 canonical JSON."""
    return rfc8785.dumps(
        {
            "type": DOCUMENT_TYPE,
            "consultation_id": str(consultation_id),
            "patient_id": str(patient_id),
            "signer_id": str(signer_id),
            "signed_at": utc_text(signed_at),
            "key_id": key_id,
            "content": content,
        }
    )


def addendum_document(
    *,
    protocol_signature: str,
    addendum_id: UUID,
    text: str,
    consultation_id: UUID,
    patient_id: UUID,
    signer_id: UUID,
    signed_at: datetime,
    key_id: str,
) -> bytes:
    """An addendum's signed bytes: it names the protocol's signature it corrects."""
    return rfc8785.dumps(
        {
            "type": ADDENDUM_TYPE,
            "addendum_id": str(addendum_id),
            "corrects_signature": protocol_signature,
            "consultation_id": str(consultation_id),
            "patient_id": str(patient_id),
            "signer_id": str(signer_id),
            "signed_at": utc_text(signed_at),
            "key_id": key_id,
            "text": text,
        }
    )


@dataclass(frozen=True)
class Signature:
    """Who signed, when, with which key, and the signature (base64) over the document."""

    signer_id: UUID
    signed_at: datetime
    key_id: str
    algorithm: str
    value: str


@dataclass(frozen=True)
class Addendum:
    addendum_id: UUID
    text: str
    signature: Signature


class ClinicalProtocol(Aggregate):
    """The protocol of one consultation: a draft until its doctor signs it."""

    class Drafted(RecordedCreation):
        personal_fields = ("content",)
        subject_field = "patient_id"
        consultation_id: UUID
        patient_id: UUID
        doctor_id: UUID
        organisation_id: UUID | None
        content: dict[str, Any]

    class Revised(RecordedEvent):
        personal_fields = ("content",)
        subject_field = "patient_id"
        patient_id: UUID
        content: dict[str, Any]

    class Signed(RecordedEvent):
        """The signature (base64) is sealed with the patient's key like the content it covers."""

        personal_fields = ("signature",)
        subject_field = "patient_id"
        patient_id: UUID
        signer_id: UUID
        signed_at: datetime
        key_id: str
        algorithm: str
        signature: str

    class AddendumSigned(RecordedEvent):
        personal_fields = ("text", "signature")
        subject_field = "patient_id"
        patient_id: UUID
        addendum_id: UUID
        text: str
        signer_id: UUID
        signed_at: datetime
        key_id: str
        algorithm: str
        signature: str

    @staticmethod
    def create_id(consultation_id: UUID) -> UUID:
        return protocol_id_of(consultation_id)

    @event(Drafted)
    def __init__(
        self,
        *,
        consultation_id: UUID,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
        content: dict[str, Any],
        by: Actor,
    ) -> None:
        self.consultation_id, self.patient_id = consultation_id, patient_id
        self.doctor_id, self.organisation_id = doctor_id, organisation_id
        self.content = content
        self.signature: Signature | None = None
        self.addenda: list[Addendum] = []

    @classmethod
    def draft(
        cls,
        *,
        consultation_id: UUID,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
        content: dict[str, Any],
        by: Actor,
    ) -> ClinicalProtocol:
        return cls(
            consultation_id=consultation_id,
            patient_id=patient_id,
            doctor_id=doctor_id,
            organisation_id=organisation_id,
            content=validated(content),
            by=by,
        )

    @property
    def signed(self) -> bool:
        return self.signature is not None

    def revise(self, content: dict[str, Any], *, by: Actor) -> None:
        if self.signed:
            raise ProtocolSigned("the protocol is signed: add a signed addendum instead")
        checked = validated(content)
        if checked != self.content:
            self._revised(patient_id=self.patient_id, content=checked, by=by)

    @event(Revised)
    def _revised(self, *, patient_id: UUID, content: dict[str, Any], by: Actor) -> None:
        self.content = content

    def document(self, signer_id: UUID, signed_at: datetime, key_id: str) -> bytes:
        return signed_document(
            content=self.content,
            consultation_id=self.consultation_id,
            patient_id=self.patient_id,
            signer_id=signer_id,
            signed_at=signed_at,
            key_id=key_id,
        )

    def check_signable(self, signer_id: UUID, *, diagnosis_allowed: bool) -> None:
        if self.signed:
            raise ProtocolSigned("the protocol is signed already")
        if signer_id != self.doctor_id:
            raise NotTheDoctor("only the consultation's doctor signs its protocol")
        missing = missing_sections(self.content, diagnosis_allowed=diagnosis_allowed)
        if missing:
            raise MissingSections(missing)

    def sign(
        self,
        *,
        signer_id: UUID,
        signed_at: datetime,
        key_id: str,
        algorithm: str,
        signature: str,
        diagnosis_allowed: bool,
        by: Actor,
    ) -> None:
        """Record the signature the signer made over ``document(...)`` (checked first)."""
        self.check_signable(signer_id, diagnosis_allowed=diagnosis_allowed)
        self._signed(
            patient_id=self.patient_id,
            signer_id=signer_id,
            signed_at=signed_at,
            key_id=key_id,
            algorithm=algorithm,
            signature=signature,
            by=by,
        )

    @event(Signed)
    def _signed(
        self,
        *,
        patient_id: UUID,
        signer_id: UUID,
        signed_at: datetime,
        key_id: str,
        algorithm: str,
        signature: str,
        by: Actor,
    ) -> None:
        self.signature = Signature(signer_id, signed_at, key_id, algorithm, signature)

    def addendum_text(self, signer_id: UUID, text: str) -> str:
        """Checks an addendum may be added; answers its text as it will be signed."""
        if self.signature is None:
            raise ProtocolNotSigned("the protocol is a draft: edit it instead")
        if signer_id != self.doctor_id:
            raise NotTheDoctor("only the consultation's doctor adds addenda")
        clean = _text(text, "text", limit=TEXT_LIMIT)
        if not clean:
            raise InvalidValue("an addendum has text")
        return clean

    def add_addendum(
        self,
        *,
        addendum_id: UUID,
        text: str,
        signer_id: UUID,
        signed_at: datetime,
        key_id: str,
        algorithm: str,
        signature: str,
        by: Actor,
    ) -> None:
        clean = self.addendum_text(signer_id, text)
        self._addendum(
            patient_id=self.patient_id,
            addendum_id=addendum_id,
            text=clean,
            signer_id=signer_id,
            signed_at=signed_at,
            key_id=key_id,
            algorithm=algorithm,
            signature=signature,
            by=by,
        )

    @event(AddendumSigned)
    def _addendum(
        self,
        *,
        patient_id: UUID,
        addendum_id: UUID,
        text: str,
        signer_id: UUID,
        signed_at: datetime,
        key_id: str,
        algorithm: str,
        signature: str,
        by: Actor,
    ) -> None:
        self.addenda.append(
            Addendum(
                addendum_id, text, Signature(signer_id, signed_at, key_id, algorithm, signature)
            )
        )
