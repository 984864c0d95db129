"""A lab order: the consultation's doctor orders tests (LOINC codes) from a partner lab; the lab's
machine client reports results, per test an Observation-like value; the order is resulted once
every test has one, or cancelled (with a reason). Tests, note, results and the reason are
clinical: encrypted with the patient's key. Shapes map onto FHIR R4 ServiceRequest (the order),
Observation (a result) and DiagnosticReport (the order's results together): see the README."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.consultation import Consultation, NotNow, Status
from domain.errors import DomainError, InvalidValue, PatientErased
from domain.personal import Erased, RecordedCreation, RecordedEvent

_LOINC = re.compile(r"^\d{1,5}-\d$")
TEXT_LIMIT = 2000
MOST_TESTS = 50


class NotYourOrder(DomainError):
    """A lab (machine client) reporting on an order sent to another lab or organisation."""


class OrderStatus(StrEnum):
    ORDERED = "ordered"
    PARTIAL = "partial"
    RESULTED = "resulted"
    CANCELLED = "cancelled"


class Flag(StrEnum):
    """FHIR v3 ObservationInterpretation: high, low, abnormal, normal."""

    HIGH = "H"
    LOW = "L"
    ABNORMAL = "A"
    NORMAL = "N"


ABNORMAL = frozenset({Flag.HIGH, Flag.LOW, Flag.ABNORMAL})


def loinc_code(code: str) -> str:
    """A LOINC code: 1-5 digits, a dash and its mod-10 check digit (``2345-7``)."""
    if not _LOINC.match(code):
        raise InvalidValue(f"code: {code[:20]!r} is not a LOINC code (NNNNN-N)")
    digits, check = code.split("-")
    total = 0
    for i, ch in enumerate(reversed(digits)):  # Luhn, as LOINC's check digit is computed
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    if (10 - total % 10) % 10 != int(check):
        raise InvalidValue(f"code: {code} has a wrong check digit")
    return code


def _text(name: str, value: str | None, limit: int = TEXT_LIMIT) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidValue(f"{name}: at most {limit} characters")
    return value or None


def _decimal(name: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidValue(f"{name}: not a number") from None
    if not number.is_finite():
        raise InvalidValue(f"{name}: not a finite number")
    return number


def ordered_test(code: str, display: str) -> dict[str, str]:
    """One ordered test (FHIR ServiceRequest.code: system LOINC, code, display)."""
    shown = _text("display", display, 200)
    if not shown:
        raise InvalidValue("display: the test's name is needed")
    return {"code": loinc_code(code), "display": shown}


def observation(
    *,
    code: str,
    kind: str,
    value: str,
    unit: str | None = None,
    low: str | None = None,
    high: str | None = None,
    system: str | None = None,
    display: str | None = None,
    flag: str | None = None,
    comment: str | None = None,
    effective_at: datetime | None = None,
) -> dict[str, Any]:
    """One result (an Observation): a quantity (decimal kept as text, with unit and reference
    range), a coded value or text. The abnormal flag is the lab's (H/L/A/N) when given, else
    computed from the reference range for quantities."""
    loinc_code(code)
    given = Flag(flag) if flag else None
    computed: Flag | None = None
    if kind == "quantity":
        number = _decimal("value", value)
        lower, upper = _decimal("low", low), _decimal("high", high)
        if lower is not None and upper is not None and lower > upper:
            raise InvalidValue("low: above high")
        if number is not None and (lower is not None or upper is not None):
            computed = (
                Flag.LOW
                if lower is not None and number < lower
                else Flag.HIGH
                if upper is not None and number > upper
                else Flag.NORMAL
            )
        value = str(number)
    elif kind in ("coded", "text"):
        if not _text("value", value):
            raise InvalidValue("value: empty")
        if unit or low or high:
            raise InvalidValue("unit: only a quantity has a unit and a reference range")
    else:
        raise InvalidValue("kind: quantity, coded or text")
    flagged = given or computed
    return {
        "code": code,
        "kind": kind,
        "value": _text("value", value),
        "unit": _text("unit", unit, 40),
        "low": low,
        "high": high,
        "system": _text("system", system, 200),
        "display": _text("display", display, 200),
        "flag": flagged.value if flagged else None,
        "flag_by": "lab" if given else "range" if computed else None,
        "comment": _text("comment", comment),
        "effective_at": effective_at.isoformat() if effective_at else None,
    }


def is_abnormal(result: dict[str, Any]) -> bool:
    return result.get("flag") in {f.value for f in ABNORMAL}


#: a consultation the doctor has treated (or is treating): tests may be ordered for it
TREATED = frozenset(
    {Status.IN_PROGRESS, Status.COMPLETED, Status.TAKEN, Status.ANSWERED, Status.CLOSED}
)


class LabOrder(Aggregate):
    """Tests ordered for a patient in a consultation, and what the lab reported."""

    class Ordered(RecordedCreation):
        personal_fields = ("tests", "note")
        subject_field = "patient_id"
        patient_id: UUID
        consultation_id: UUID
        doctor_id: UUID
        organisation_id: UUID
        lab_id: UUID
        lab_client_id: UUID
        tests: list[dict[str, str]]
        note: str | None
        at: datetime

    class ResultsReported(RecordedEvent):
        personal_fields = ("results",)
        subject_field = "patient_id"
        patient_id: UUID
        results: list[dict[str, Any]]
        status: OrderStatus
        at: datetime

    class Cancelled(RecordedEvent):
        personal_fields = ("reason",)
        subject_field = "patient_id"
        patient_id: UUID
        reason: str
        at: datetime

    @classmethod
    def order(
        cls,
        consultation: Consultation,
        *,
        lab_id: UUID,
        lab_client_id: UUID,
        tests: list[dict[str, str]],
        note: str | None,
        at: datetime,
        by: Actor,
    ) -> LabOrder:
        """The consultation's doctor (its author), once they have treated the patient."""
        if by.actor_id != consultation.doctor_id:
            raise NotYourOrder("only the consultation's doctor orders tests for it")
        if consultation.status not in TREATED or consultation.organisation_id is None:
            raise NotNow(consultation.status.value, "tests are ordered once the doctor treats")
        if not tests or len(tests) > MOST_TESTS:
            raise InvalidValue(f"tests: 1 to {MOST_TESTS}")
        if len({t["code"] for t in tests}) != len(tests):
            raise InvalidValue("tests: a code is ordered twice")
        return cls(
            patient_id=consultation.patient_id,
            consultation_id=consultation.id,
            doctor_id=consultation.doctor_id,
            organisation_id=consultation.organisation_id,
            lab_id=lab_id,
            lab_client_id=lab_client_id,
            tests=tests,
            note=_text("note", note),
            at=at,
            by=by,
        )

    @event(Ordered)
    def __init__(
        self,
        *,
        patient_id: UUID,
        consultation_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID,
        lab_id: UUID,
        lab_client_id: UUID,
        tests: list[dict[str, str]],
        note: str | None,
        at: datetime,
        by: Actor,
    ) -> None:
        self.patient_id, self.consultation_id = patient_id, consultation_id
        self.doctor_id, self.organisation_id = doctor_id, organisation_id
        self.lab_id, self.lab_client_id = lab_id, lab_client_id
        self.tests, self.note = tests, note
        self.status = OrderStatus.ORDERED
        self.resulted_codes: set[str] = set()

    def _codes(self) -> list[str]:
        if isinstance(self.tests, Erased):
            raise PatientErased(str(self.patient_id))
        return [t["code"] for t in self.tests]

    def report(self, results: list[dict[str, Any]], *, at: datetime, by: Actor) -> None:
        """The lab that was sent the order reports results (a code again: a correction)."""
        if by.organisation_id != self.organisation_id or by.actor_id != self.lab_client_id:
            raise NotYourOrder("the order was sent to another lab")
        if self.status is OrderStatus.CANCELLED:
            raise NotNow(self.status.value, "the order was cancelled")
        ordered = self._codes()
        codes = [r["code"] for r in results]
        if not results or len(set(codes)) != len(codes):
            raise InvalidValue("results: one per test code, at least one")
        unknown = [c for c in codes if c not in ordered]
        if unknown:
            raise InvalidValue(f"results: {unknown[0]} was not ordered")
        done = self.resulted_codes | set(codes)
        status = OrderStatus.RESULTED if done >= set(ordered) else OrderStatus.PARTIAL
        placed = [dict(r, position=ordered.index(r["code"])) for r in results]
        self._reported(patient_id=self.patient_id, results=placed, status=status, at=at, by=by)

    @event(ResultsReported)
    def _reported(
        self,
        *,
        patient_id: UUID,
        results: list[dict[str, Any]],
        status: OrderStatus,
        at: datetime,
        by: Actor,
    ) -> None:
        if not isinstance(results, Erased):
            self.resulted_codes |= {r["code"] for r in results}
        self.status = status

    def cancel(self, reason: str, *, at: datetime, by: Actor) -> None:
        if self.status is not OrderStatus.ORDERED:
            raise NotNow(self.status.value, "only an order without results is cancelled")
        text = _text("reason", reason, 500)
        if not text:
            raise InvalidValue("reason: say why the order is cancelled")
        self._cancelled(patient_id=self.patient_id, reason=text, at=at, by=by)

    @event(Cancelled)
    def _cancelled(self, *, patient_id: UUID, reason: str, at: datetime, by: Actor) -> None:
        self.status = OrderStatus.CANCELLED
