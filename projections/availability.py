"""Availability: the free slots of every doctor, computed from events alone.

The read model keeps what it needs in its own tables: each doctor's rules (one document that
every schedule event updates, with the position of the last event that changed it as its
version), the bookings of the doctors' days and the busy periods of their external calendars.
A step records the fact; no slot is materialised. Queries compute the free slots from those
tables with the domain's own ``Rules.offered_slots`` and ``free_slots``
(``projections.free_slots``).
Per doctor one more number is kept for the queries across doctors: a lower bound of when its
first free slot starts. A booking or a new busy time leaves it valid; a release lowers it in
SQL; a rules change has it computed again once, at the end of the batch. No aggregate is
loaded, so a rebuild never touches the write model.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.booking import DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.schedule import DoctorSchedule
from domain.time_rules import Interval
from projections.availability_rules import DoctorRules
from projections.base import Projection
from projections.free_slots import FreeSlots


class AvailabilityView(Protocol):
    """The read model's own tables, written within the runner's batch."""

    def own(self, stream_id: UUID, doctor_id: UUID) -> None: ...
    def owner(self, stream_id: UUID) -> UUID | None: ...
    def rules(self, doctor_id: UUID) -> DoctorRules | None: ...
    def save_rules(self, rules: DoctorRules, version: int, first_free: datetime) -> None: ...
    def booked(
        self, day_id: UUID, consultation_id: UUID, doctor_id: UUID, at: Interval
    ) -> None: ...
    def released(self, day_id: UUID, consultation_id: UUID) -> list[Interval]: ...
    def busy(self, doctor_id: UUID, calendar_id: UUID, uid: str, at: Interval) -> None: ...
    def not_busy(self, doctor_id: UUID, calendar_id: UUID, uid: str | None) -> list[Interval]: ...
    def taken(self, doctor_id: UUID, within: Interval) -> list[Interval]: ...
    def freed(self, doctor_id: UUID, at: list[Interval]) -> None: ...
    def batch(self) -> AbstractContextManager[None]: ...


_SCHEDULE_EVENTS = (
    DoctorSchedule.ProfileChanged,
    DoctorSchedule.PracticeAdded,
    DoctorSchedule.ConsultationTypeSet,
    DoctorSchedule.WeeklyHoursSet,
    DoctorSchedule.DateOverrideSet,
    DoctorSchedule.TimeOffAdded,
    DoctorSchedule.TimeOffRemoved,
)


class AvailabilityProjection(Projection[AvailabilityView]):
    name = "availability"
    topics = tuple(
        get_topic(cls)
        for cls in (
            DoctorSchedule.Opened,
            *_SCHEDULE_EVENTS,
            DoctorDay.Opened,
            DoctorDay.SlotBooked,
            DoctorDay.SlotReleased,
            ExternalCalendars.Opened,
            ExternalCalendars.BusyChanged,
            ExternalCalendars.Unlinked,
        )
    )

    def __init__(self, view: AvailabilityView, horizon_days: int = 90) -> None:
        super().__init__(view)
        self.slots = FreeSlots(horizon_days)
        self._rules: dict[UUID, DoctorRules | None] = {}
        self._ruled: dict[UUID, int] = {}  # whose rules changed in this batch: at which position
        self._owners: dict[UUID, UUID] = {}  # stream -> doctor (a fact that never changes)

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change availability."""

    @process_event.register
    def _(self, event: DoctorSchedule.Opened, tracking: Tracking) -> None:
        self._own(event.originator_id, event.doctor_id)
        self._rules[event.doctor_id] = DoctorRules.opened(event)
        self._ruled[event.doctor_id] = tracking.notification_id

    @process_event.register(DoctorSchedule.ProfileChanged)
    @process_event.register(DoctorSchedule.PracticeAdded)
    @process_event.register(DoctorSchedule.ConsultationTypeSet)
    @process_event.register(DoctorSchedule.WeeklyHoursSet)
    @process_event.register(DoctorSchedule.DateOverrideSet)
    @process_event.register(DoctorSchedule.TimeOffAdded)
    @process_event.register(DoctorSchedule.TimeOffRemoved)
    def _(self, event: DoctorSchedule.Event, tracking: Tracking) -> None:
        doctor_id = self._owner(event.originator_id)
        rules = self._rules_of(doctor_id) if doctor_id else None
        if doctor_id is None or rules is None:
            return
        rules.apply(event)
        self._ruled[doctor_id] = tracking.notification_id

    @process_event.register(DoctorDay.Opened)
    @process_event.register(ExternalCalendars.Opened)
    def _(self, event: DoctorDay.Opened | ExternalCalendars.Opened, tracking: Tracking) -> None:
        self._own(event.originator_id, event.doctor_id)

    @process_event.register
    def _(self, event: DoctorDay.SlotBooked, tracking: Tracking) -> None:
        if doctor_id := self._owner(event.originator_id):
            at = Interval(event.start, event.end)
            self.view.booked(event.originator_id, event.consultation_id, doctor_id, at)

    @process_event.register
    def _(self, event: DoctorDay.SlotReleased, tracking: Tracking) -> None:
        if doctor_id := self._owner(event.originator_id):
            self._freed(doctor_id, self.view.released(event.originator_id, event.consultation_id))

    @process_event.register
    def _(self, event: ExternalCalendars.BusyChanged, tracking: Tracking) -> None:
        if doctor_id := self._owner(event.originator_id):
            freed = [
                gone
                for uid in event.removed
                for gone in self.view.not_busy(doctor_id, event.calendar_id, uid)
            ]
            for uid, start, end in event.added:
                freed += self.view.not_busy(doctor_id, event.calendar_id, uid)
                at = Interval(datetime.fromisoformat(start), datetime.fromisoformat(end))
                self.view.busy(doctor_id, event.calendar_id, uid, at)
            self._freed(doctor_id, freed)

    @process_event.register
    def _(self, event: ExternalCalendars.Unlinked, tracking: Tracking) -> None:
        if doctor_id := self._owner(event.originator_id):
            self._freed(doctor_id, self.view.not_busy(doctor_id, event.calendar_id, None))

    # -- the batch ----------------------------------------------------------------------------
    def start_batch(self) -> None:
        self._rules, self._ruled = {}, {}

    def end_batch(self) -> None:
        """Store the rules that changed, with when each doctor's first free slot starts (every
        read first, then every write: on PostgreSQL the batch is pipelined)."""
        now = datetime.now(UTC)
        changed = []
        for doctor_id, version in self._ruled.items():
            if rules := self._rules.get(doctor_id):
                taken = self.view.taken(doctor_id, Interval(now, self.slots.horizon_end(rules)))
                first = self.slots.first_free((rules, version, taken), now)
                changed.append((rules, version, first))
        for rules, version, first in changed:
            self.view.save_rules(rules, version, first)
        self._rules, self._ruled = {}, {}

    def _freed(self, doctor_id: UUID, intervals: list[Interval]) -> None:
        if intervals:
            self.view.freed(doctor_id, intervals)

    def _own(self, stream_id: UUID, doctor_id: UUID) -> None:
        self.view.own(stream_id, doctor_id)  # always: a rebuild empties the table, not this map
        self._remember(stream_id, doctor_id)

    def _owner(self, stream_id: UUID) -> UUID | None:
        doctor_id = self._owners.get(stream_id)
        if doctor_id is None and (doctor_id := self.view.owner(stream_id)) is not None:
            self._remember(stream_id, doctor_id)
        return doctor_id

    def _remember(self, stream_id: UUID, doctor_id: UUID) -> None:
        if len(self._owners) >= 200_000:
            self._owners.clear()
        self._owners[stream_id] = doctor_id

    def _rules_of(self, doctor_id: UUID) -> DoctorRules | None:
        if doctor_id not in self._rules:
            self._rules[doctor_id] = self.view.rules(doctor_id)
        return self._rules[doctor_id]
