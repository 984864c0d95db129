"""The on-call pool (C3): doctors of an organisation and specialty go on and off duty; a
patient's request (or an escalated urgent or asynchronous consultation) is offered to the doctors
on duty, and the first to accept gets it. Both are aggregates: two accepts of one request write
the same stream, so optimistic concurrency lets exactly one through."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")

#: defaults an organisation's ``on-call`` booking template may override (``expire_minutes``)
URGENT_EXPIRE_MINUTES = 15
QUESTION_EXPIRE_MINUTES = 24 * 60
REASON_LIMIT = 1000
QUESTION_LIMIT = 4000


class RequestState(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class NotOnDuty(DomainError):
    """Only a doctor on duty in the request's pool accepts it (answered 409 ``not-on-duty``)."""


class AlreadyTaken(DomainError):
    """Another doctor accepted the request first (409, with the taker's role, never a name)."""

    def __init__(self, taken_by_role: str) -> None:
        super().__init__("another doctor accepted this request first")
        self.taken_by_role = taken_by_role


class RequestOver(DomainError):
    """The request is no longer open: accepted (for its patient), withdrawn or expired (409
    with its state)."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the request is {state}")
        self.state = state


def specialty_code(specialty: str) -> str:
    code = specialty.strip().lower()
    if not _CODE.match(code):
        raise InvalidValue("a specialty is a code like 'cardiology'")
    return code


class OnCallPool(Aggregate):
    """The doctors on duty for one organisation and specialty."""

    @staticmethod
    def create_id(organisation_id: UUID, specialty: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/on-call-pools/{organisation_id}/{specialty}")

    class Opened(RecordedCreation):
        organisation_id: UUID
        specialty: str

    class WentOnDuty(RecordedEvent):
        doctor_id: UUID

    class WentOffDuty(RecordedEvent):
        doctor_id: UUID

    @event(Opened)
    def __init__(self, *, id: UUID, organisation_id: UUID, specialty: str, by: Actor) -> None:
        self.organisation_id, self.specialty = organisation_id, specialty
        self.on_duty: list[UUID] = []

    @classmethod
    def open(cls, organisation_id: UUID, specialty: str, *, by: Actor) -> OnCallPool:
        code = specialty_code(specialty)
        pool_id = cls.create_id(organisation_id, code)
        return cls(id=pool_id, organisation_id=organisation_id, specialty=code, by=by)

    def go_on_duty(self, doctor_id: UUID, *, by: Actor) -> None:
        if doctor_id not in self.on_duty:
            self._on(doctor_id=doctor_id, by=by)

    @event(WentOnDuty)
    def _on(self, *, doctor_id: UUID, by: Actor) -> None:
        self.on_duty.append(doctor_id)

    def go_off_duty(self, doctor_id: UUID, *, by: Actor) -> None:
        """Off duty: no new offers; what the doctor accepted stays theirs."""
        if doctor_id in self.on_duty:
            self._off(doctor_id=doctor_id, by=by)

    @event(WentOffDuty)
    def _off(self, *, doctor_id: UUID, by: Actor) -> None:
        self.on_duty.remove(doctor_id)


class PoolRequest(Aggregate):
    """A request to a pool: urgent (a reason) or a question, from the patient; or an escalated
    consultation. Open until exactly one doctor on duty accepts it, the patient withdraws it,
    or nobody accepted it in time (expired: the patient is told)."""

    @staticmethod
    def escalation_id(consultation_id: UUID, version: int) -> UUID:
        """One request per escalation: racing escalations of one consultation meet here."""
        return uuid5(NAMESPACE_URL, f"/pool-requests/escalated/{consultation_id}/{version}")

    class Made(RecordedCreation):
        personal_fields = ("reason", "question")
        subject_field = "patient_id"
        pool_id: UUID
        organisation_id: UUID
        specialty: str
        patient_id: UUID
        urgent: bool
        reason: str | None
        question: str | None
        consultation_id: UUID | None
        offered_to: list[UUID]
        at: datetime
        expires_at: datetime

    class Accepted(RecordedEvent):
        doctor_id: UUID
        consultation_id: UUID
        at: datetime

    class Withdrawn(RecordedEvent):
        at: datetime

    class Expired(RecordedEvent):
        at: datetime

    @event(Made)
    def __init__(
        self,
        *,
        id: UUID,
        pool_id: UUID,
        organisation_id: UUID,
        specialty: str,
        patient_id: UUID,
        urgent: bool,
        reason: str | None,
        question: str | None,
        consultation_id: UUID | None,
        offered_to: list[UUID],
        at: datetime,
        expires_at: datetime,
        by: Actor,
    ) -> None:
        self.pool_id, self.organisation_id, self.specialty = pool_id, organisation_id, specialty
        self.patient_id, self.urgent = patient_id, urgent
        self.reason, self.question = reason, question
        self.consultation_id = consultation_id
        self.escalated = consultation_id is not None
        self.offered_to = list(offered_to)
        self.made_at, self.expires_at = at, expires_at
        self.state = RequestState.OPEN
        self.accepted_by: UUID | None = None
        self.accepted_role: str | None = None

    @classmethod
    def make(
        cls,
        pool: OnCallPool,
        *,
        patient_id: UUID,
        reason: str | None,
        question: str | None,
        now: datetime,
        expire_minutes: int | None = None,
        by: Actor,
    ) -> PoolRequest:
        """The patient's own request: urgent (a reason) or an asynchronous question."""
        reason, question = (reason or "").strip() or None, (question or "").strip() or None
        if (reason is None) == (question is None):
            raise InvalidValue("an on-call request has either an urgent reason or a question")
        if reason is not None and len(reason) > REASON_LIMIT:
            raise InvalidValue(f"a reason has at most {REASON_LIMIT} characters")
        if question is not None and len(question) > QUESTION_LIMIT:
            raise InvalidValue(f"a question has at most {QUESTION_LIMIT} characters")
        urgent = reason is not None
        default = URGENT_EXPIRE_MINUTES if urgent else QUESTION_EXPIRE_MINUTES
        return cls(
            id=uuid4(),
            pool_id=pool.id,
            organisation_id=pool.organisation_id,
            specialty=pool.specialty,
            patient_id=patient_id,
            urgent=urgent,
            reason=reason,
            question=question,
            consultation_id=None,
            offered_to=list(pool.on_duty),
            at=now,
            expires_at=now + timedelta(minutes=expire_minutes or default),
            by=by,
        )

    @classmethod
    def for_escalation(
        cls,
        pool: OnCallPool,
        *,
        consultation_id: UUID,
        consultation_version: int,
        patient_id: UUID,
        urgent: bool,
        now: datetime,
        expire_minutes: int | None = None,
        by: Actor,
    ) -> PoolRequest:
        """An urgent or asynchronous consultation nobody took (or answered) in time."""
        default = URGENT_EXPIRE_MINUTES if urgent else QUESTION_EXPIRE_MINUTES
        return cls(
            id=cls.escalation_id(consultation_id, consultation_version),
            pool_id=pool.id,
            organisation_id=pool.organisation_id,
            specialty=pool.specialty,
            patient_id=patient_id,
            urgent=urgent,
            reason=None,
            question=None,
            consultation_id=consultation_id,
            offered_to=list(pool.on_duty),
            at=now,
            expires_at=now + timedelta(minutes=expire_minutes or default),
            by=by,
        )

    def check_acceptable(self, doctor_id: UUID, pool: OnCallPool) -> bool:
        """Whether ``doctor_id`` may accept now; False when they accepted it already (a retry).
        Raises when another doctor did, when it is over, or when the doctor is not on duty."""
        if self.state is RequestState.ACCEPTED:
            if self.accepted_by == doctor_id:
                return False
            raise AlreadyTaken(self.accepted_role or "doctor")
        if self.state is not RequestState.OPEN:
            raise RequestOver(self.state.value)
        if pool.id != self.pool_id or doctor_id not in pool.on_duty:
            raise NotOnDuty("only a doctor on duty in this pool accepts its requests")
        return True

    def accept(self, doctor_id: UUID, consultation_id: UUID, now: datetime, *, by: Actor) -> None:
        """Record the accept ``check_acceptable`` allowed; the consultation is the one the
        doctor now has (created for a patient's request, or the escalated one)."""
        if self.state is not RequestState.OPEN:
            raise RequestOver(self.state.value)
        self._accepted(doctor_id=doctor_id, consultation_id=consultation_id, at=now, by=by)

    @event(Accepted)
    def _accepted(self, *, doctor_id: UUID, consultation_id: UUID, at: datetime, by: Actor) -> None:
        self.state, self.accepted_by = RequestState.ACCEPTED, doctor_id
        self.accepted_role, self.consultation_id = by.role.value, consultation_id

    def withdraw(self, now: datetime, *, by: Actor) -> None:
        if self.state is RequestState.WITHDRAWN:
            return
        if self.state is not RequestState.OPEN:
            raise RequestOver(self.state.value)
        self._withdrawn(at=now, by=by)

    @event(Withdrawn)
    def _withdrawn(self, *, at: datetime, by: Actor) -> None:
        self.state = RequestState.WITHDRAWN

    def expire(self, now: datetime, *, by: Actor) -> bool:
        """Nobody accepted it in time; answers whether it expired (False: not due, or over)."""
        if self.state is not RequestState.OPEN or now < self.expires_at:
            return False
        self._expired(at=now, by=by)
        return True

    @event(Expired)
    def _expired(self, *, at: datetime, by: Actor) -> None:
        self.state = RequestState.EXPIRED
