"""The public contract for analysts: domain events translated to integration events.

Integration events are versioned facts with pseudonymous ids only: no names, emails, phone
numbers, addresses, free text or clinical notes. One function per domain event type, in an
explicit map; events without an entry are not published.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from domain.actor import Actor, Role
from domain.consultation import Consultation
from domain.patient import Patient
from domain.personal import Erased

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")

PATIENTS_TOPIC = "telemed.patients.v1"
CONSULTATIONS_TOPIC = "telemed.consultations.v1"
EVENT_ID_NAMESPACE = UUID("8a0b9b51-45a4-4c55-9c8d-5d9ce4b1f7e2")

Pseudonym = Callable[[str, UUID], str]


@dataclass(frozen=True)
class IntegrationEvent:
    topic: str
    key: str
    event_id: UUID
    event_type: str
    schema_version: int
    body: dict[str, Any]


def event_id(originator_id: UUID, version: int) -> UUID:
    """Stable per stored event, so consumers can drop the duplicates of at-least-once delivery."""
    return uuid5(EVENT_ID_NAMESPACE, f"{originator_id}/{version}")


def _envelope(
    event: Any,
    event_type: str,
    version: int,
    pseudonym: Pseudonym,
    data: dict[str, Any],
    kind: str = "patient",
    topic: str = PATIENTS_TOPIC,
) -> IntegrationEvent:
    subject = pseudonym(kind, event.originator_id)
    actor: Actor = event.by
    ident = event_id(event.originator_id, event.originator_version)
    body = {
        "event_id": str(ident),
        "event_type": event_type,
        "schema_version": version,
        "occurred_at": event.timestamp.isoformat(),
        "subject": subject,
        "sequence": event.originator_version,
        "actor": {
            "id": pseudonym("actor", actor.actor_id),
            "role": actor.role.value,
            "on_behalf": actor.on_behalf_of is not None,
        },
        "organisation_id": str(actor.organisation_id) if actor.organisation_id else None,
        "data": data,
    }
    return IntegrationEvent(topic, subject, ident, event_type, version, body)


def _age_band(birth_date: Any, on: date) -> str | None:
    if not isinstance(birth_date, date) or isinstance(birth_date, Erased):
        return None
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    low = max(0, min(years, 90) // 10 * 10)
    return "90+" if low >= 90 else f"{low}-{low + 9}"


def _registered(event: Patient.Registered, pseudonym: Pseudonym) -> IntegrationEvent:
    return _envelope(
        event,
        "patient.registered",
        1,
        pseudonym,
        {
            "organisation_id": str(event.organisation_id) if event.organisation_id else None,
            "self_registered": bool(event.self_registered),
            "registered_by_role": Role.PATIENT.value
            if event.self_registered
            else event.by.role.value,
            "age_band": _age_band(event.birth_date, event.timestamp.date()),
            "has_email": bool(event.email) and not isinstance(event.email, Erased),
            "has_phone": bool(event.phone) and not isinstance(event.phone, Erased),
        },
    )


def _contact_changed(
    event: Patient.ContactDetailsChanged, pseudonym: Pseudonym
) -> IntegrationEvent:
    return _envelope(event, "patient.contact-details-changed", 1, pseudonym, {})


def _consent_recorded(event: Patient.ConsentRecorded, pseudonym: Pseudonym) -> IntegrationEvent:
    return _envelope(
        event, "patient.consent-recorded", 1, pseudonym, {"purpose": str(event.purpose)}
    )


def _consent_withdrawn(event: Patient.ConsentWithdrawn, pseudonym: Pseudonym) -> IntegrationEvent:
    return _envelope(
        event, "patient.consent-withdrawn", 1, pseudonym, {"purpose": str(event.purpose)}
    )


def _erased(event: Patient.Erased, pseudonym: Pseudonym) -> IntegrationEvent:
    return _envelope(event, "patient.erased", 1, pseudonym, {"reason": str(event.reason)})


def _consultation(
    event: Any, event_type: str, pseudonym: Pseudonym, data: dict[str, Any]
) -> IntegrationEvent:
    return _envelope(event, event_type, 1, pseudonym, data, "consultation", CONSULTATIONS_TOPIC)


def _lead_minutes(start: datetime, booked: datetime) -> int:
    return max(0, int((start - booked).total_seconds() // 60))


def _booked(event: Consultation.Booked, pseudonym: Pseudonym) -> IntegrationEvent:
    return _consultation(
        event,
        "consultation.booked",
        pseudonym,
        {
            "patient": pseudonym("patient", event.patient_id),
            "doctor": pseudonym("doctor", event.doctor_id),
            "organisation_id": str(event.organisation_id) if event.organisation_id else None,
            "practice_id": str(event.practice_id) if event.practice_id else None,
            "type_code": event.type_code,
            "kind": str(event.kind),
            "urgent": bool(event.urgent),
            "appointment_start": event.start.isoformat(),
            "appointment_end": event.end.isoformat(),
            "lead_minutes": _lead_minutes(event.start, event.timestamp),
        },
    )


def _confirmed(event: Consultation.Confirmed, pseudonym: Pseudonym) -> IntegrationEvent:
    return _consultation(event, "consultation.confirmed", pseudonym, {})


def _cancelled(event: Consultation.Cancelled, pseudonym: Pseudonym) -> IntegrationEvent:
    return _consultation(event, "consultation.cancelled", pseudonym, {"reason": event.reason})


def _rescheduled(event: Consultation.Rescheduled, pseudonym: Pseudonym) -> IntegrationEvent:
    return _consultation(
        event,
        "consultation.rescheduled",
        pseudonym,
        {
            "appointment_start": event.start.isoformat(),
            "appointment_end": event.end.isoformat(),
            "lead_minutes": _lead_minutes(event.start, event.timestamp),
        },
    )


def _no_show(event: Consultation.NoShowRecorded, pseudonym: Pseudonym) -> IntegrationEvent:
    return _consultation(event, "consultation.no-show", pseudonym, {})


def _flagged(event: Consultation.FlaggedForRescheduling, pseudonym: Pseudonym) -> IntegrationEvent:
    return _consultation(event, "consultation.flagged", pseudonym, {"why": event.why})


def _at(event: Any, event_type: str, pseudonym: Pseudonym, **data: Any) -> IntegrationEvent:
    return _consultation(event, event_type, pseudonym, {"at": event.at.isoformat(), **data})


def _checked_in(event: Consultation.CheckedIn, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.checked-in", pseudonym)


def _taken(event: Consultation.Taken, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.taken", pseudonym, doctor=pseudonym("doctor", event.doctor_id))


def _escalated(event: Consultation.Escalated, pseudonym: Pseudonym) -> IntegrationEvent:
    why = event.why if _CODE.match(event.why) else "other"  # a code, never free text
    return _at(event, "consultation.escalated", pseudonym, why=why)


def _admitted(event: Consultation.Admitted, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.admitted", pseudonym)


def _completed(event: Consultation.Completed, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.completed", pseudonym)


def _answered(event: Consultation.Answered, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.answered", pseudonym)


def _closed(event: Consultation.Closed, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.closed", pseudonym)


def _reopened(event: Consultation.Reopened, pseudonym: Pseudonym) -> IntegrationEvent:
    return _at(event, "consultation.reopened", pseudonym, answer_by=event.answer_by.isoformat())


def _rated(event: Consultation.Rated, pseudonym: Pseudonym) -> IntegrationEvent:
    """The score only: the comment is the patient's and never leaves the record."""
    return _consultation(event, "consultation.rated", pseudonym, {"score": int(event.score)})


TRANSLATIONS: dict[type[Any], Callable[[Any, Pseudonym], IntegrationEvent]] = {
    Patient.Registered: _registered,
    Patient.ContactDetailsChanged: _contact_changed,
    Patient.ConsentRecorded: _consent_recorded,
    Patient.ConsentWithdrawn: _consent_withdrawn,
    Patient.Erased: _erased,
    Consultation.Booked: _booked,
    Consultation.Confirmed: _confirmed,
    Consultation.Cancelled: _cancelled,
    Consultation.Rescheduled: _rescheduled,
    Consultation.NoShowRecorded: _no_show,
    Consultation.FlaggedForRescheduling: _flagged,
    Consultation.CheckedIn: _checked_in,
    Consultation.Taken: _taken,
    Consultation.Escalated: _escalated,
    Consultation.Admitted: _admitted,
    Consultation.Completed: _completed,
    Consultation.Answered: _answered,
    Consultation.Closed: _closed,
    Consultation.Reopened: _reopened,
    Consultation.Rated: _rated,
}

TOPICS = (PATIENTS_TOPIC, CONSULTATIONS_TOPIC)


def translate(event: Any, pseudonym: Pseudonym) -> IntegrationEvent | None:
    step = TRANSLATIONS.get(type(event))
    return step(event, pseudonym) if step is not None else None
