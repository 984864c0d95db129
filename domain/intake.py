"""Pre-consultation intake (C4): the complaint form every consultation has, and the intake forms
an organisation defines (versioned; a published version never changes).

The complaint's codes are this product's own stable codes (lower-case, hyphenated), each with
the SNOMED CT concept it maps to, so a FHIR ``QuestionnaireResponse``/``Condition`` view can
carry both. A code is never renamed or reused; new ones are appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

#: body locations: code -> SNOMED CT body structure
BODY_SITES: dict[str, str] = {
    "head": "69536005",
    "face": "89545001",
    "eye": "81745001",
    "ear": "117590005",
    "throat": "49928004",
    "neck": "45048000",
    "chest": "51185008",
    "back": "77568009",
    "abdomen": "113345001",
    "pelvis": "12921003",
    "arm": "53120007",
    "hand": "85562004",
    "leg": "61685007",
    "foot": "56459004",
    "skin": "39937001",
    "whole-body": "38266002",
}

#: associated symptoms: code -> SNOMED CT clinical finding
SYMPTOMS: dict[str, str] = {
    "fever": "386661006",
    "cough": "49727002",
    "shortness-of-breath": "267036007",
    "nausea": "422587007",
    "vomiting": "422400008",
    "diarrhoea": "62315008",
    "dizziness": "404640003",
    "fatigue": "84229001",
    "rash": "271807003",
    "swelling": "442672001",
    "headache": "25064002",
    "palpitations": "80313002",
    "sore-throat": "162397003",
    "loss-of-appetite": "79890006",
}

TEXT_LIMIT = 4000
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
MAX_QUESTIONS = 100


class InvalidField(InvalidValue):
    """Bad input for one named field (answered 422 naming it)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


def complaint(
    *,
    locations: list[str],
    severity: int,
    onset: datetime,
    duration_minutes: int | None,
    symptoms: list[str],
    text: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The complaint as recorded (JSON values only: it is sealed with the patient's key)."""
    if not locations or len(locations) > len(BODY_SITES):
        raise InvalidField("locations", "name one to all of the body locations")
    for code in locations:
        if code not in BODY_SITES:
            raise InvalidField("locations", f"unknown body location {code[:60]!r}")
    if isinstance(severity, bool) or not 1 <= severity <= 10:
        raise InvalidField("severity", "severity is 1 to 10")
    if onset.tzinfo is None:
        raise InvalidField("onset", "the onset needs a UTC offset")
    if onset > now:
        raise InvalidField("onset", "the onset lies in the future")
    if duration_minutes is not None and not 0 < duration_minutes <= 60 * 24 * 365 * 100:
        raise InvalidField("duration_minutes", "a duration is a positive number of minutes")
    for code in symptoms:
        if code not in SYMPTOMS:
            raise InvalidField("symptoms", f"unknown symptom {code[:60]!r}")
    clean = (text or "").strip() or None
    if clean is not None and len(clean) > TEXT_LIMIT:
        raise InvalidField("text", f"the text has at most {TEXT_LIMIT} characters")
    return {
        "locations": sorted(set(locations)),
        "severity": severity,
        "onset": onset.isoformat(),
        "duration_minutes": duration_minutes,
        "symptoms": sorted(set(symptoms)),
        "text": clean,
    }


class QuestionType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    SINGLE = "single-choice"
    MULTIPLE = "multiple-choice"
    BOOLEAN = "boolean"
    DATE = "date"


@dataclass(frozen=True)
class Question:
    code: str
    type: QuestionType
    label: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    options: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "type": self.type.value,
            "label": self.label,
            "required": self.required,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "options": list(self.options),
        }


def question(data: dict[str, Any]) -> Question:
    """A question as an org admin defines it (422 naming the question when it cannot exist)."""
    code = str(data.get("code", ""))
    where = f"questions.{code[:60]}"
    if not _CODE.match(code):
        raise InvalidField("questions", "a question's code is like 'allergies'")
    try:
        kind = QuestionType(str(data.get("type")))
    except ValueError:
        types = [t.value for t in QuestionType]
        raise InvalidField(where, f"a question's type is one of {types}") from None
    label = str(data.get("label") or "").strip()
    if not label or len(label) > 500:
        raise InvalidField(where, "a question has a label of 1 to 500 characters")
    low, high = data.get("minimum"), data.get("maximum")
    options = tuple(str(o) for o in data.get("options") or ())
    if kind is QuestionType.NUMBER:
        if low is not None and high is not None and low > high:
            raise InvalidField(where, "the minimum is above the maximum")
    elif low is not None or high is not None:
        raise InvalidField(where, "only a number has a range")
    if kind in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        if not options or len(set(options)) != len(options) or not all(map(_CODE.match, options)):
            raise InvalidField(where, "a choice has distinct option codes like 'yes'")
    elif options:
        raise InvalidField(where, "only a choice has options")
    return Question(code, kind, label, bool(data.get("required")), low, high, options)


def check_answer(q: Question, value: Any) -> Any:
    """The answer as recorded, or 422 naming the question."""
    where = f"answers.{q.code}"
    ok: bool
    if q.type is QuestionType.TEXT:
        ok = isinstance(value, str) and 0 < len(value.strip()) <= TEXT_LIMIT
        value = value.strip() if ok else value
    elif q.type is QuestionType.NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (q.minimum is None or value >= q.minimum)
        ok = ok and (q.maximum is None or value <= q.maximum)
    elif q.type is QuestionType.BOOLEAN:
        ok = isinstance(value, bool)
    elif q.type is QuestionType.DATE:
        try:
            ok = isinstance(value, str) and date.fromisoformat(value).isoformat() == value
        except ValueError:
            ok = False
    elif q.type is QuestionType.SINGLE:
        ok = isinstance(value, str) and value in q.options
    else:
        ok = (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(v, str) and v in q.options for v in value)
        )
        value = sorted(set(value)) if ok else value
    if not ok:
        raise InvalidField(where, f"not a valid answer for a {q.type.value} question")
    return value


class IntakeForm(Aggregate):
    """One intake form of an organisation, by code: its published versions, never changed."""

    class Created(RecordedCreation):
        organisation_id: UUID
        code: str

    class Published(RecordedEvent):
        version: int
        title: str
        questions: list[dict[str, Any]]

    @staticmethod
    def create_id(organisation_id: UUID, code: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/organisations/{organisation_id}/intake-forms/{code}")

    @event(Created)
    def __init__(self, *, organisation_id: UUID, code: str, by: Actor) -> None:
        self.organisation_id, self.code = organisation_id, code
        self.versions: list[tuple[str, tuple[Question, ...]]] = []

    @classmethod
    def start(cls, organisation_id: UUID, code: str, *, by: Actor) -> IntakeForm:
        if not _CODE.match(code):
            raise InvalidField("code", "a form's code is like 'allergies'")
        return cls(organisation_id=organisation_id, code=code, by=by)

    def publish(self, title: str, questions: list[dict[str, Any]], *, by: Actor) -> int:
        """A new version (the next number); answers the version published."""
        clean = title.strip()
        if not clean or len(clean) > 200:
            raise InvalidField("title", "a form has a title of 1 to 200 characters")
        if not questions or len(questions) > MAX_QUESTIONS:
            raise InvalidField("questions", f"a form has 1 to {MAX_QUESTIONS} questions")
        checked = [question(q) for q in questions]
        if len({q.code for q in checked}) != len(checked):
            raise InvalidField("questions", "two questions have the same code")
        version = len(self.versions) + 1
        self._published(
            version=version, title=clean, questions=[q.as_dict() for q in checked], by=by
        )
        return version

    @event(Published)
    def _published(
        self, *, version: int, title: str, questions: list[dict[str, Any]], by: Actor
    ) -> None:
        self.versions.append((title, tuple(_restored(q) for q in questions)))

    def answers_for(self, version: int, answers: dict[str, Any]) -> dict[str, Any]:
        """Answers checked against exactly ``version``: every required question answered, no
        question the version does not ask."""
        if not 1 <= version <= len(self.versions):
            raise InvalidField("version", f"the form has versions 1 to {len(self.versions)}")
        asked = {q.code: q for q in self.versions[version - 1][1]}
        for code in answers:
            if code not in asked:
                raise InvalidField(f"answers.{code[:60]}", "the form version has no such question")
        for q in asked.values():
            if q.required and answers.get(q.code) is None:
                raise InvalidField(f"answers.{q.code}", "this question is required")
        return {
            code: check_answer(asked[code], value)
            for code, value in sorted(answers.items())
            if value is not None
        }


def _restored(data: dict[str, Any]) -> Question:
    return Question(
        code=data["code"],
        type=QuestionType(data["type"]),
        label=data["label"],
        required=bool(data["required"]),
        minimum=data.get("minimum"),
        maximum=data.get("maximum"),
        options=tuple(data.get("options") or ()),
    )
