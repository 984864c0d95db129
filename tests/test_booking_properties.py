"""Invariants under any sequence of schedule changes, bookings, cancellations, reschedules:
no two bookings of a doctor overlap, and availability equals a from-scratch computation."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import combinations

from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from adapters.composition import Services, build
from adapters.settings import Settings
from commands.booking import (
    BookConsultation,
    BookUrgent,
    CancelConsultation,
    RescheduleConsultation,
)
from commands.results import ConcurrencyConflict
from commands.scheduling import (
    AddPractice,
    AddTimeOff,
    ChangeProfile,
    OpenSchedule,
    SetConsultationType,
    SetDateOverride,
    SetWeeklyHours,
)
from domain.actor import Actor, Role
from domain.booking import DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.consultation import Consultation, Kind
from domain.errors import DomainError
from domain.schedule import DoctorSchedule
from domain.slots import Slot
from domain.time_rules import zone
from projections.free_slots import compute_day, utc_days_of

TZ = "America/New_York"
#: zones far apart, so that one instant falls on different local dates before and after a change
ZONES = ["America/New_York", "Asia/Tokyo", "Europe/Luxembourg", "Pacific/Kiritimati"]
SPANS = [
    ("08:00-12:00",),
    ("09:00-10:30", "14:00-16:00"),
    (),
    ("07:30-09:00", "10:00-11:00"),
    ("06:00-23:30",),
]
DAYS = 5


def machine_for(services: Services) -> type[RuleBasedStateMachine]:
    class Clinic(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.doctor = uuid.uuid4()
            self.actor = Actor(self.doctor, Role.DOCTOR, uuid.uuid4())
            self.practices = [uuid.uuid4(), uuid.uuid4()]
            handle = services.bus.handle
            handle(OpenSchedule(self.actor, self.doctor, TZ, "dermatology", ("en",)))
            for practice, (code, minutes) in zip(
                self.practices, (("short", 20), ("long", 45)), strict=True
            ):
                handle(AddPractice(self.actor, self.doctor, practice, uuid.uuid4()))
                handle(
                    SetConsultationType(
                        self.actor, self.doctor, practice, code, minutes, 5, ("video",)
                    )
                )
                for weekday in range(7):
                    handle(
                        SetWeeklyHours(self.actor, self.doctor, practice, weekday, ("06:00-23:30",))
                    )
            self.consultations: list[uuid.UUID] = []
            today = datetime.now(UTC).astimezone(zone(TZ)).date()
            self.days = [today + timedelta(days=2 + i) for i in range(DAYS)]

        def schedule(self) -> DoctorSchedule:
            found = services.bus_uow().find(DoctorSchedule, DoctorSchedule.create_id(self.doctor))
            assert found is not None
            return found

        def pick(self, day: int, index: int) -> Slot | None:
            offered = self.schedule().offered_slots(self.days[day])
            return offered[index % len(offered)] if offered else None

        def attempt(self, command: object) -> None:
            with contextlib.suppress(DomainError, ConcurrencyConflict):
                services.bus.handle(command)

        def book_for_a_new_patient(
            self, practice_id: uuid.UUID, code: str, start: datetime
        ) -> None:
            with contextlib.suppress(DomainError):
                saved = services.bus.handle(
                    BookConsultation(
                        self.actor, uuid.uuid4(), self.doctor, practice_id, code, start, Kind.VIDEO
                    )
                )
                self.consultations.append(saved.aggregate_id)

        @rule(day=st.integers(0, DAYS - 1), index=st.integers(0, 50))
        def book(self, day: int, index: int) -> None:
            slot = self.pick(day, index)
            if slot is not None:
                self.book_for_a_new_patient(slot.practice_id, slot.type_code, slot.start)

        @rule(which=st.integers(0, 30))
        def book_an_instant_someone_holds(self, which: int) -> None:
            """The collision a schedule change could open: the same practice, type and instant
            as an existing consultation, for another patient."""
            if not self.consultations:
                return
            held = services.bus_uow().get(
                Consultation, self.consultations[which % len(self.consultations)]
            )
            if held.practice_id is not None:
                self.book_for_a_new_patient(held.practice_id, held.type_code, held.slot.start)

        @rule()
        def book_urgently(self) -> None:
            saved = services.bus.handle(
                BookUrgent(self.actor, uuid.uuid4(), self.doctor, "acute pain", minutes=20)
            )
            self.consultations.append(saved.aggregate_id)

        @rule(time_zone=st.sampled_from(ZONES))
        def move_to_another_time_zone(self, time_zone: str) -> None:
            self.attempt(ChangeProfile(self.actor, self.doctor, time_zone, "dermatology", ("en",)))

        @rule(spans=st.sampled_from(SPANS))
        def open_another_practice(self, spans: tuple[str, ...]) -> None:
            if len(self.practices) >= 4:
                return
            practice = uuid.uuid4()
            self.attempt(AddPractice(self.actor, self.doctor, practice, uuid.uuid4()))
            self.attempt(
                SetConsultationType(self.actor, self.doctor, practice, "short", 20, 5, ("video",))
            )
            for weekday in range(7):
                self.attempt(SetWeeklyHours(self.actor, self.doctor, practice, weekday, spans))
            self.practices.append(practice)

        @rule(practice=st.integers(0, 3), minutes=st.sampled_from([15, 20, 45]))
        def change_a_consultation_type(self, practice: int, minutes: int) -> None:
            target = self.practices[practice % len(self.practices)]
            code = "long" if practice % len(self.practices) == 1 else "short"
            self.attempt(
                SetConsultationType(self.actor, self.doctor, target, code, minutes, 5, ("video",))
            )

        @rule(which=st.integers(0, 30))
        def cancel(self, which: int) -> None:
            if self.consultations:
                target = self.consultations[which % len(self.consultations)]
                self.attempt(CancelConsultation(self.actor, target, "patient-request"))

        @rule(which=st.integers(0, 30), day=st.integers(0, DAYS - 1), index=st.integers(0, 50))
        def reschedule(self, which: int, day: int, index: int) -> None:
            slot = self.pick(day, index)
            if self.consultations and slot is not None:
                target = self.consultations[which % len(self.consultations)]
                self.attempt(RescheduleConsultation(self.actor, target, slot.start))

        @rule(practice=st.integers(0, 3), weekday=st.integers(0, 6), spans=st.sampled_from(SPANS))
        def change_weekly_hours(self, practice: int, weekday: int, spans: tuple[str, ...]) -> None:
            target = self.practices[practice % len(self.practices)]
            self.attempt(SetWeeklyHours(self.actor, self.doctor, target, weekday, spans))

        @rule(
            practice=st.integers(0, 3),
            day=st.integers(0, DAYS - 1),
            spans=st.sampled_from([*SPANS, None]),
        )
        def override_a_date(self, practice: int, day: int, spans: tuple[str, ...] | None) -> None:
            target = self.practices[practice % len(self.practices)]
            self.attempt(SetDateOverride(self.actor, self.doctor, target, self.days[day], spans))

        @rule(day=st.integers(0, DAYS - 1), hour=st.integers(7, 15))
        def take_time_off(self, day: int, hour: int) -> None:
            start = datetime.combine(self.days[day], datetime.min.time(), tzinfo=zone(TZ))
            start += timedelta(hours=hour)
            self.attempt(
                AddTimeOff(
                    self.actor,
                    self.doctor,
                    uuid.uuid4(),
                    start,
                    start + timedelta(minutes=90),
                    "break",
                )
            )

        @invariant()
        def open_consultations_overlap_only_where_an_urgent_one_flagged_the_other(self) -> None:
            uow = services.bus_uow()
            held = [c for c in (uow.get(Consultation, i) for i in self.consultations) if c.open]
            for a, b in combinations(held, 2):
                if a.slot.overlaps(b.slot):
                    urgent, other = (a, b) if a.urgent else (b, a)
                    assert urgent.urgent and not other.urgent, (a.slot, b.slot)
                    assert other.flagged is not None, (a.slot, b.slot)

        @invariant()
        def bookings_the_schedule_no_longer_offers_are_flagged_not_dropped(self) -> None:
            uow = services.bus_uow()
            schedule = self.schedule()
            for c in (uow.get(Consultation, i) for i in self.consultations):
                if c.open and not c.urgent and c.practice_id is not None:
                    offered = schedule.offers(c.practice_id, c.type_code, c.slot.start)
                    assert offered is not None or c.flagged is not None, c.slot

        @invariant()
        def the_doctors_days_hold_exactly_the_open_consultations(self) -> None:
            uow = services.bus_uow()
            held = {c.id: c for c in (uow.get(Consultation, i) for i in self.consultations)}
            expected = {
                (day, c.id, c.slot)
                for c in held.values()
                if c.open
                for day in DoctorDay.days_of(c.slot)
            }
            first = datetime.now(UTC).date() - timedelta(days=1)
            utc_days = [first + timedelta(days=i) for i in range(DAYS + 5)]
            actual = {
                (day, consultation_id, slot)
                for day in utc_days
                if (found := uow.find(DoctorDay, DoctorDay.create_id(self.doctor, day)))
                for consultation_id, slot in found.bookings.items()
            }
            assert actual == expected

        @invariant()
        def availability_equals_a_from_scratch_computation(self) -> None:
            services.worker.tick()
            uow = services.bus_uow()
            schedule = self.schedule()
            calendars = uow.find(ExternalCalendars, ExternalCalendars.create_id(self.doctor))
            expected: list[tuple[str, str, str, str]] = []
            for day in services.availability.horizon(schedule):
                doctor_days = [
                    found
                    for utc_day in utc_days_of(day, schedule.time_zone)
                    if (found := uow.find(DoctorDay, DoctorDay.create_id(self.doctor, utc_day)))
                ]
                expected += [
                    (str(s.practice_id), s.type_code, s.start.isoformat(), s.end.isoformat())
                    for s in compute_day(schedule, doctor_days, calendars, day)
                ]
            actual = services.availability.all_rows().get(self.doctor, [])
            assert sorted(actual) == sorted(expected)

    return Clinic


def test_bookings_never_overlap_and_availability_matches_the_rules(settings: Settings) -> None:
    services = build(replace(settings, availability_days=7))
    try:
        run_state_machine_as_test(
            machine_for(services),
            settings=hypothesis_settings(
                max_examples=8,
                stateful_step_count=12,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                # no shrinking: a failure is reported as found, within the suite's time budget
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
            ),
        )
    finally:
        services.close()
