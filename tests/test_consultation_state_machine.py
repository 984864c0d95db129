"""Any sequence of steps on one consultation (scheduled, urgent or a question), at times that
move forward, keeps its promises: never in progress unless the patient checked in and the
doctor admitted them; a completed one is never cancelled; its status is always a legal one; it
is rated at most once; and its events, replayed, give the same consultation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain.actor import Actor, Role
from domain.consultation import Consultation, Kind, Status
from domain.errors import DomainError
from domain.time_rules import Interval

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PATIENT, DOCTOR, COLLEAGUE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
patient = Actor(PATIENT, Role.PATIENT)
doctor = Actor(DOCTOR, Role.DOCTOR)
colleague = Actor(COLLEAGUE, Role.DOCTOR)
system = Actor(uuid.UUID(int=0), Role.SYSTEM)
#: mostly short steps (the waiting room, an urgent offer), now and then days (the reopening window)
minutes = st.sampled_from([0, 1, 2, 5, 10, 20, 45, 6 * 60, 3 * 24 * 60, 8 * 24 * 60])


class OneConsultation(RuleBasedStateMachine):
    consultation: Consultation
    history: list[Any]

    def __init__(self) -> None:
        super().__init__()
        self.now = T0

    @initialize(how=st.sampled_from(["scheduled", "urgent", "question"]))
    def open(self, how: str) -> None:
        if how == "scheduled":
            self.consultation = Consultation.book(
                patient_id=PATIENT,
                doctor_id=DOCTOR,
                practice_id=uuid.uuid4(),
                organisation_id=uuid.uuid4(),
                type_code="video-15",
                kind=Kind.VIDEO,
                slot=Interval(T0 + timedelta(minutes=20), T0 + timedelta(minutes=35)),
                by=patient,
            )
        elif how == "urgent":
            self.consultation = Consultation.book_urgent(
                patient_id=PATIENT,
                doctor_id=DOCTOR,
                organisation_id=uuid.uuid4(),
                reason="fever",
                now=T0,
                minutes=20,
                by=patient,
            )
        else:
            self.consultation = Consultation.ask(
                patient_id=PATIENT,
                doctor_id=DOCTOR,
                organisation_id=uuid.uuid4(),
                type_code="general",
                question="a cough since Monday",
                now=T0,
                by=patient,
            )
        self.history = list(self.consultation.collect_events())

    def attempt(self, step: Any, *args: Any, **kwargs: Any) -> None:
        """Try a step; a refused one records nothing."""
        try:
            step(*args, **kwargs)
        except DomainError:
            assert not self.consultation.pending_events
        self.history += self.consultation.collect_events()

    def names(self) -> list[str]:
        return [type(e).__name__ for e in self.history]

    @rule(later=minutes)
    def time_passes(self, later: int) -> None:
        self.now += timedelta(minutes=later)

    @rule()
    def confirm(self) -> None:
        self.attempt(self.consultation.confirm, by=doctor)

    @rule(reason=st.sampled_from(["patient-request", "doctor-ill", "Not A Code!"]))
    def cancel(self, reason: str) -> None:
        self.attempt(self.consultation.cancel, reason, by=patient)

    @rule(later=st.sampled_from([10, 60, 24 * 60]))
    def reschedule(self, later: int) -> None:
        start = self.now + timedelta(minutes=later)
        self.attempt(
            self.consultation.reschedule, Interval(start, start + timedelta(minutes=15)), by=doctor
        )

    @rule()
    def no_show(self) -> None:
        self.attempt(self.consultation.record_no_show, self.now, by=doctor)

    @rule()
    def check_in(self) -> None:
        self.attempt(self.consultation.check_in, self.now, by=patient)

    @rule(who=st.sampled_from([doctor, colleague]))
    def take(self, who: Actor) -> None:
        self.attempt(self.consultation.take, who.actor_id, self.now, by=who)

    @rule()
    def escalate(self) -> None:
        self.attempt(self.consultation.escalate, "deadline-missed", self.now, by=system)

    @rule()
    def admit(self) -> None:
        self.attempt(self.consultation.admit, self.now, by=doctor)

    @rule()
    def complete(self) -> None:
        self.attempt(self.consultation.complete, self.now, by=doctor)

    @rule(who=st.sampled_from([doctor, colleague]))
    def answer(self, who: Actor) -> None:
        self.attempt(self.consultation.answer, who.actor_id, self.now, by=who)

    @rule()
    def close(self) -> None:
        self.attempt(self.consultation.close, self.now, by=patient)

    @rule()
    def reopen(self) -> None:
        self.attempt(self.consultation.reopen, self.now, by=patient)

    @rule(score=st.integers(min_value=-2, max_value=12), comment=st.none() | st.text(max_size=5))
    def rate(self, score: int, comment: str | None) -> None:
        self.attempt(self.consultation.rate, score, comment, by=patient)

    @invariant()
    def never_in_progress_unless_checked_in_and_admitted(self) -> None:
        if self.consultation.status is Status.IN_PROGRESS:
            names = self.names()
            admitted = len(names) - 1 - names[::-1].index("Admitted")
            moves = [i for i, name in enumerate(names[:admitted]) if name == "Rescheduled"]
            since = max(moves, default=0)
            assert "CheckedIn" in names[since:admitted]  # a reschedule empties the waiting room
            assert self.consultation.checked_in_at is not None
            assert self.consultation.admitted_at is not None

    @invariant()
    def a_completed_one_is_never_cancelled(self) -> None:
        names = self.names()
        if "Completed" in names:
            assert "Cancelled" not in names[names.index("Completed") :]
            assert self.consultation.status is not Status.CANCELLED

    @invariant()
    def status_is_a_legal_one(self) -> None:
        status = self.consultation.status
        assert status in set(Status)
        if self.consultation.asynchronous:
            assert status in {Status.ASKED, Status.TAKEN, Status.ANSWERED, Status.CLOSED}
        else:
            assert status not in {Status.ASKED, Status.TAKEN, Status.ANSWERED, Status.CLOSED}

    @invariant()
    def rated_at_most_once(self) -> None:
        assert self.names().count("Rated") <= 1

    @invariant()
    def its_events_replayed_give_the_same_consultation(self) -> None:
        replayed: Consultation = reduce(lambda c, e: e.mutate(c), self.history, None)
        for name in ("status", "taken", "escalated", "rated", "checked_in_at", "ended_at"):
            assert getattr(replayed, name) == getattr(self.consultation, name), name


OneConsultation.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None
)
test_one_consultation = OneConsultation.TestCase
