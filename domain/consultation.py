"""The consultation: from booked (or asked, or urgent) to done, every step an event with its actor.

Synchronous (video, in-person, scheduled chat): booked/confirmed -> checked in (the patient is in
the waiting room) -> admitted by the doctor (in progress) -> completed; or cancelled / no-show.
Urgent: booked at once and offered to the named doctor, who takes it (or, once the offer lapses,
the organisation's on-call pool does), then admits the patient like any other.
Asynchronous (chat): asked -> taken by a doctor -> answered -> closed by either side, reopened by
the patient within a window; an answer is due by a deadline and escalates when missed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent
from domain.time_rules import Interval

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")

#: defaults an organisation's booking template (the consultation's options) may override
CHECK_IN_LEAD_MINUTES = 30
URGENT_OFFER_MINUTES = 5
ANSWER_WITHIN_HOURS = 24
REOPEN_WITHIN_DAYS = 7
QUESTION_LIMIT = 4000
COMMENT_LIMIT = 2000


class ConsultationClosed(DomainError):
    """The consultation was cancelled or is over; it cannot change any more."""


class NotNow(DomainError):
    """A step the consultation's current state does not allow (answered 409 with the state)."""

    def __init__(self, state: str, detail: str) -> None:
        super().__init__(detail)
        self.state = state


class Kind(StrEnum):
    VIDEO = "video"
    CHAT = "chat"
    IN_PERSON = "in-person"


class Status(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked-in"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no-show"
    # asynchronous consultations
    ASKED = "asked"
    TAKEN = "taken"
    ANSWERED = "answered"
    CLOSED = "closed"


#: a synchronous consultation that has not started yet
WAITING_TO_START = frozenset({Status.BOOKED, Status.CONFIRMED, Status.CHECKED_IN})
#: an asynchronous one that still needs the doctor
AWAITING_ANSWER = frozenset({Status.ASKED, Status.TAKEN})


class Consultation(Aggregate):
    """A consultation between a patient and a doctor (named, or found by the on-call pool)."""

    class Booked(RecordedCreation):
        personal_fields = ("urgent_reason", "question")
        subject_field = "patient_id"
        # v2: the options preset by the organisation's booking template
        # v3: asynchronous consultations (a question, an answer deadline), a doctor to be found
        class_version = 3
        patient_id: UUID
        doctor_id: UUID
        practice_id: UUID | None
        organisation_id: UUID | None
        type_code: str
        kind: Kind
        start: datetime
        end: datetime
        urgent: bool
        urgent_reason: str | None
        options: dict[str, Any]
        asynchronous: bool
        question: str | None
        answer_by: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["options"] = {}

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state.update(asynchronous=False, question=None, answer_by=None)

    class Confirmed(RecordedEvent):
        pass

    class Cancelled(RecordedEvent):
        reason: str

    class Rescheduled(RecordedEvent):
        start: datetime
        end: datetime

    class NoShowRecorded(RecordedEvent):
        pass

    class FlaggedForRescheduling(RecordedEvent):
        why: str

    class CheckedIn(RecordedEvent):
        """The patient (or their holder, or a caregiver for them) is in the waiting room."""

        at: datetime

    class Taken(RecordedEvent):
        """A doctor accepted it: the named doctor an urgent offer, a doctor of the on-call pool,
        or a doctor taking an asynchronous question."""

        doctor_id: UUID
        at: datetime

    class Escalated(RecordedEvent):
        """Nobody took it in time: the organisation's on-call pool is asked."""

        why: str
        at: datetime

    class Admitted(RecordedEvent):
        at: datetime

    class Completed(RecordedEvent):
        at: datetime

    class Answered(RecordedEvent):
        at: datetime

    class Closed(RecordedEvent):
        at: datetime

    class Reopened(RecordedEvent):
        at: datetime
        answer_by: datetime

    class IntakeSubmitted(RecordedEvent):
        """The complaint form (C4), replacing any earlier one: clinical, sealed."""

        personal_fields = ("complaint",)
        subject_field = "patient_id"
        patient_id: UUID
        complaint: dict[str, Any]
        at: datetime

    class IntakeFormAnswered(RecordedEvent):
        """Answers to one version of an organisation's intake form, replacing earlier ones to
        that form: clinical, sealed."""

        personal_fields = ("answers",)
        subject_field = "patient_id"
        patient_id: UUID
        form_code: str
        form_version: int
        answers: dict[str, Any]
        at: datetime

    class Rated(RecordedEvent):
        personal_fields = ("comment",)
        subject_field = "patient_id"
        patient_id: UUID
        score: int
        comment: str | None

    @event(Booked)
    def __init__(
        self,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        practice_id: UUID | None,
        organisation_id: UUID | None,
        type_code: str,
        kind: Kind,
        start: datetime,
        end: datetime,
        urgent: bool,
        urgent_reason: str | None,
        options: dict[str, Any],
        asynchronous: bool,
        question: str | None,
        answer_by: datetime | None,
        by: Actor,
    ) -> None:
        self.patient_id, self.doctor_id = patient_id, doctor_id
        self.practice_id, self.organisation_id = practice_id, organisation_id
        self.type_code, self.kind = type_code, Kind(kind)
        self.slot = Interval(start, end)
        self.urgent, self.urgent_reason = urgent, urgent_reason
        self.options = dict(options)
        self.asynchronous, self.answer_by = asynchronous, answer_by
        self.status = Status.ASKED if asynchronous else Status.BOOKED
        # an urgent or asynchronous consultation waits for a doctor to take it
        self.taken = not (urgent or asynchronous)
        self.escalated = False
        self.flagged: str | None = None
        self.booked_by = by
        self.checked_in_at: datetime | None = None
        self.admitted_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.answered = False
        self.rated = False
        self.intake_at: datetime | None = None

    # -- creation ------------------------------------------------------------------------------

    @classmethod
    def book(
        cls,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        practice_id: UUID,
        organisation_id: UUID,
        type_code: str,
        kind: Kind,
        slot: Interval,
        by: Actor,
        options: dict[str, Any] | None = None,
    ) -> Consultation:
        """A booking; ``options`` come from the organisation's template for the type (B9)."""
        return cls(
            patient_id=patient_id,
            doctor_id=doctor_id,
            practice_id=practice_id,
            organisation_id=organisation_id,
            type_code=type_code,
            kind=Kind(kind),
            start=slot.start,
            end=slot.end,
            urgent=False,
            urgent_reason=None,
            options=dict(options or {}),
            asynchronous=False,
            question=None,
            answer_by=None,
            by=by,
        )

    @classmethod
    def book_urgent(
        cls,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
        reason: str,
        now: datetime,
        minutes: int,
        by: Actor,
    ) -> Consultation:
        """Urgent: at once, outside the schedule; offered to the doctor, who takes it."""
        if not reason.strip():
            raise InvalidValue("an urgent consultation needs a reason")
        return cls(
            patient_id=patient_id,
            doctor_id=doctor_id,
            practice_id=None,
            organisation_id=organisation_id,
            type_code="urgent",
            kind=Kind.VIDEO,
            start=now,
            end=now + timedelta(minutes=minutes),
            urgent=True,
            urgent_reason=reason.strip(),
            options={},
            asynchronous=False,
            question=None,
            answer_by=None,
            by=by,
        )

    @classmethod
    def ask(
        cls,
        *,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID,
        type_code: str,
        question: str,
        now: datetime,
        options: dict[str, Any] | None = None,
        by: Actor,
    ) -> Consultation:
        """An asynchronous consultation: the patient asks, the doctor named takes and answers it
        within the deadline of the options (a question to the on-call pool becomes one when a
        doctor of the pool accepts it; a missed deadline escalates it to the pool)."""
        text = question.strip()
        if not text:
            raise InvalidValue("an asynchronous consultation starts with a question")
        if len(text) > QUESTION_LIMIT:
            raise InvalidValue(f"a question has at most {QUESTION_LIMIT} characters")
        if not _CODE.match(type_code):
            raise InvalidValue("a consultation type is a code like 'general'")
        settings = dict(options or {})
        hours = _positive(settings, "answer_within_hours", ANSWER_WITHIN_HOURS)
        return cls(
            patient_id=patient_id,
            doctor_id=doctor_id,
            practice_id=None,
            organisation_id=organisation_id,
            type_code=type_code,
            kind=Kind.CHAT,
            start=now,
            end=now + timedelta(hours=hours),
            urgent=False,
            urgent_reason=None,
            options=settings,
            asynchronous=True,
            question=text,
            answer_by=now + timedelta(hours=hours),
            by=by,
        )

    # -- what it is ----------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        """Not over: it may still be changed, cancelled or closed."""
        return self.status in WAITING_TO_START or self.status in AWAITING_ANSWER

    def check_in_opens(self) -> datetime:
        minutes = _positive(self.options, "check_in_minutes", CHECK_IN_LEAD_MINUTES)
        return self.slot.start - timedelta(minutes=minutes)

    def offer_lapses(self) -> datetime | None:
        """When an urgent offer to the named doctor escalates to the pool (None: not pending)."""
        if not self.urgent or self.taken or self.escalated or not self.open:
            return None
        minutes = _positive(self.options, "urgent_offer_minutes", URGENT_OFFER_MINUTES)
        return self.slot.start + timedelta(minutes=minutes)

    # -- scheduling ----------------------------------------------------------------------------

    def confirm(self, *, by: Actor) -> None:
        self._require_scheduled()
        if self.status is Status.BOOKED:
            self._confirmed(by=by)

    @event(Confirmed)
    def _confirmed(self, *, by: Actor) -> None:
        self.status = Status.CONFIRMED

    def cancel(self, reason: str, *, by: Actor) -> None:
        self._require_open()
        if self.status not in WAITING_TO_START:
            raise NotNow(self.status.value, "an asynchronous consultation is closed, not cancelled")
        code = reason.strip().lower()
        if not _CODE.match(code):
            raise InvalidValue("a cancellation reason is a code like 'patient-request'")
        self._cancelled(reason=code, by=by)

    @event(Cancelled)
    def _cancelled(self, *, reason: str, by: Actor) -> None:
        self.status = Status.CANCELLED

    def reschedule(self, slot: Interval, *, by: Actor) -> None:
        self._require_scheduled()
        if self.urgent:
            raise InvalidValue("urgent consultations are not rescheduled")
        self._rescheduled(start=slot.start, end=slot.end, by=by)

    @event(Rescheduled)
    def _rescheduled(self, *, start: datetime, end: datetime, by: Actor) -> None:
        self.slot = Interval(start, end)
        self.status = Status.BOOKED
        self.checked_in_at = None
        self.flagged = None

    def record_no_show(self, now: datetime, *, by: Actor) -> None:
        self._require_scheduled()
        if self.status is Status.CHECKED_IN:
            raise NotNow(self.status.value, "the patient is in the waiting room")
        if now < self.slot.start:
            raise InvalidValue("a no-show is recorded after the appointment started")
        self._no_show(by=by)

    @event(NoShowRecorded)
    def _no_show(self, *, by: Actor) -> None:
        self.status = Status.NO_SHOW

    def flag(self, why: str, *, by: Actor) -> None:
        if self.status in WAITING_TO_START and self.flagged != why:
            self._flagged(why=why, by=by)

    @event(FlaggedForRescheduling)
    def _flagged(self, *, why: str, by: Actor) -> None:
        self.flagged = why

    # -- the waiting room and the call ---------------------------------------------------------

    def check_in(self, now: datetime, *, by: Actor) -> None:
        """The patient enters the waiting room: from the lead time before the start (urgent:
        at once) until the end of the slot."""
        self._require_scheduled()
        if self.status is Status.CHECKED_IN:
            return  # already waiting: a second check-in changes nothing
        if not self.urgent and now < self.check_in_opens():
            raise NotNow(
                self.status.value,
                f"the waiting room opens at {self.check_in_opens().isoformat()}",
            )
        if now >= self.slot.end:
            raise NotNow(self.status.value, "the consultation's time is over")
        self._checked_in(at=now, by=by)

    @event(CheckedIn)
    def _checked_in(self, *, at: datetime, by: Actor) -> None:
        self.status = Status.CHECKED_IN
        self.checked_in_at = at

    def take(self, doctor_id: UUID, now: datetime, *, by: Actor) -> None:
        """A doctor accepts an urgent offer or an asynchronous question. Before escalation only
        the named doctor may; after it, any doctor the pool offered it to (the pool decides)."""
        self._require_open()
        if self.taken:
            if self.doctor_id == doctor_id:
                return  # taken by this doctor already
            raise NotNow(self.status.value, "a doctor has taken it already")
        if not self.escalated and doctor_id != self.doctor_id:
            raise NotNow(self.status.value, "it is offered to another doctor")
        self._taken(doctor_id=doctor_id, at=now, by=by)

    @event(Taken)
    def _taken(self, *, doctor_id: UUID, at: datetime, by: Actor) -> None:
        self.doctor_id, self.taken = doctor_id, True
        if self.status is Status.ASKED:
            self.status = Status.TAKEN

    def escalate(self, why: str, now: datetime, *, by: Actor) -> bool:
        """Hand it to the on-call pool when its deadline passed untaken (urgent) or unanswered
        (asynchronous); answers whether it escalated (False: nothing was due)."""
        if not self.open or self.escalated:
            return False
        lapses = self.offer_lapses()
        due = (lapses is not None and now >= lapses) or (
            self.asynchronous
            and self.status in AWAITING_ANSWER
            and self.answer_by is not None
            and now >= self.answer_by
        )
        if not due:
            return False
        self._escalated(why=why, at=now, by=by)
        return True

    @event(Escalated)
    def _escalated(self, *, why: str, at: datetime, by: Actor) -> None:
        self.escalated = True
        if self.asynchronous:  # whoever had it did not answer: the pool finds another doctor
            self.taken, self.status = False, Status.ASKED

    def admit(self, now: datetime, *, by: Actor) -> None:
        """The doctor lets the waiting patient in: the call starts."""
        if self.asynchronous:
            raise NotNow(self.status.value, "an asynchronous consultation is answered")
        if self.status is not Status.CHECKED_IN:
            raise NotNow(self.status.value, "only a patient in the waiting room is admitted")
        if not self.taken:
            raise NotNow(self.status.value, "the urgent consultation was not taken yet")
        self._admitted(at=now, by=by)

    @event(Admitted)
    def _admitted(self, *, at: datetime, by: Actor) -> None:
        self.status, self.admitted_at = Status.IN_PROGRESS, at

    def complete(self, now: datetime, *, by: Actor) -> None:
        """The doctor ends the call; the documentation may follow later."""
        if self.status is not Status.IN_PROGRESS:
            raise NotNow(self.status.value, "only a consultation in progress is completed")
        self._completed(at=now, by=by)

    @event(Completed)
    def _completed(self, *, at: datetime, by: Actor) -> None:
        self.status, self.ended_at = Status.COMPLETED, at

    # -- asynchronous --------------------------------------------------------------------------

    def answer(self, doctor_id: UUID, now: datetime, *, by: Actor) -> None:
        if self.status is not Status.TAKEN:
            raise NotNow(self.status.value, "only a question a doctor took is answered")
        if doctor_id != self.doctor_id:
            raise NotNow(self.status.value, "another doctor took it")
        self._answered(at=now, by=by)

    @event(Answered)
    def _answered(self, *, at: datetime, by: Actor) -> None:
        self.status, self.ended_at, self.answered = Status.ANSWERED, at, True

    def close(self, now: datetime, *, by: Actor) -> None:
        if not self.asynchronous:
            raise NotNow(self.status.value, "a synchronous consultation is completed")
        if self.status is Status.CLOSED:
            return
        self._closed(at=now, by=by)

    @event(Closed)
    def _closed(self, *, at: datetime, by: Actor) -> None:
        self.status, self.ended_at = Status.CLOSED, at

    def reopen(self, now: datetime, *, by: Actor) -> None:
        """The patient asks again, within the window after closing; the same doctor answers."""
        if self.status is not Status.CLOSED or self.ended_at is None:
            raise NotNow(self.status.value, "only a closed consultation is reopened")
        days = _positive(self.options, "reopen_within_days", REOPEN_WITHIN_DAYS)
        if now > self.ended_at + timedelta(days=days):
            raise NotNow(self.status.value, f"it can be reopened within {days} days of closing")
        hours = _positive(self.options, "answer_within_hours", ANSWER_WITHIN_HOURS)
        self._reopened(at=now, answer_by=now + timedelta(hours=hours), by=by)

    @event(Reopened)
    def _reopened(self, *, at: datetime, answer_by: datetime, by: Actor) -> None:
        self.answer_by, self.ended_at, self.escalated = answer_by, None, False
        self.status = Status.TAKEN if self.taken else Status.ASKED

    # -- intake (C4) ---------------------------------------------------------------------------

    def _require_intake_open(self) -> None:
        """The intake is given (and replaced) until the doctor admits the patient or takes the
        question; an intake after that would be unseen."""
        if self.status not in WAITING_TO_START and self.status is not Status.ASKED:
            raise NotNow(self.status.value, "the intake closes when the consultation starts")

    def submit_intake(self, complaint: dict[str, Any], now: datetime, *, by: Actor) -> None:
        self._require_intake_open()
        self._intake_submitted(patient_id=self.patient_id, complaint=complaint, at=now, by=by)

    @event(IntakeSubmitted)
    def _intake_submitted(
        self, *, patient_id: UUID, complaint: dict[str, Any], at: datetime, by: Actor
    ) -> None:
        self.intake_at = at

    def answer_form(
        self, code: str, version: int, answers: dict[str, Any], now: datetime, *, by: Actor
    ) -> None:
        self._require_intake_open()
        self._form_answered(
            patient_id=self.patient_id,
            form_code=code,
            form_version=version,
            answers=answers,
            at=now,
            by=by,
        )

    @event(IntakeFormAnswered)
    def _form_answered(
        self,
        *,
        patient_id: UUID,
        form_code: str,
        form_version: int,
        answers: dict[str, Any],
        at: datetime,
        by: Actor,
    ) -> None:
        self.intake_at = at

    # -- afterwards ----------------------------------------------------------------------------

    def rate(self, score: int, comment: str | None, *, by: Actor) -> None:
        """Once, after it happened: 0-10 (NPS) and an optional comment."""
        if self.status not in (Status.COMPLETED, Status.ANSWERED, Status.CLOSED):
            raise NotNow(self.status.value, "a consultation is rated after it happened")
        if self.status is Status.CLOSED and not self.answered:
            raise NotNow(self.status.value, "it was closed without an answer")
        if self.rated:
            raise NotNow(self.status.value, "it was rated already")
        if not 0 <= score <= 10:
            raise InvalidValue("a rating is from 0 to 10")
        text = (comment or "").strip() or None
        if text is not None and len(text) > COMMENT_LIMIT:
            raise InvalidValue(f"a comment has at most {COMMENT_LIMIT} characters")
        self._rated(patient_id=self.patient_id, score=score, comment=text, by=by)

    @event(Rated)
    def _rated(self, *, patient_id: UUID, score: int, comment: str | None, by: Actor) -> None:
        self.rated = True

    def _require_open(self) -> None:
        if not self.open:
            raise ConsultationClosed(self.status.value)

    def _require_scheduled(self) -> None:
        self._require_open()
        if self.asynchronous:
            raise NotNow(self.status.value, "an asynchronous consultation has no appointment")


def _positive(options: dict[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


# stored before the consultation had a module of its own
register_topic("domain.booking:Consultation", Consultation)
register_topic("domain.booking:Kind", Kind)
register_topic("domain.booking:Status", Status)
