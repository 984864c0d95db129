"""Availability: the free slots of every doctor, computed from events alone.

The read model keeps what it needs in its own tables: each doctor's rules (one document that
every schedule event updates), the bookings of the doctors' days and the busy periods of their
external calendars. A step records the fact and notes which local days changed; at the end of
the batch those days are recomputed with the domain's own ``Rules.offered_slots`` and
``free_slots`` (the functions the booking command checks against) and their rows replaced.
No aggregate is loaded, so a rebuild never touches the write model. The rows (``FreeSlot``),
how one day's are computed and the query interface routers use are in ``projections.free_slots``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.booking import DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.schedule import DoctorSchedule
from domain.time_rules import Interval, local_day_bounds, zone
from projections.availability_rules import DoctorRules
from projections.base import Projection
from projections.free_slots import FreeSlot, free_on, horizon, local_days

ALL_DAYS = None


#: a doctor, the local days to replace (None: all), their rows, the last day of the horizon
Recomputed = tuple[UUID, list[date] | None, list[tuple[date, FreeSlot]], date]


class AvailabilityView(Protocol):
    """The read model's own tables, written within the runner's batch."""

    def own(self, stream_id: UUID, doctor_id: UUID) -> None: ...
    def owner(self, stream_id: UUID) -> UUID | None: ...
    def rules(self, doctor_id: UUID) -> DoctorRules | None: ...
    def save_rules(self, rules: DoctorRules) -> None: ...
    def booked(
        self, day_id: UUID, consultation_id: UUID, doctor_id: UUID, at: Interval
    ) -> None: ...
    def released(self, day_id: UUID, consultation_id: UUID) -> list[Interval]: ...
    def busy(self, doctor_id: UUID, calendar_id: UUID, uid: str, at: Interval) -> None: ...
    def not_busy(self, doctor_id: UUID, calendar_id: UUID, uid: str | None) -> list[Interval]: ...
    def taken(self, doctor_id: UUID, within: Interval) -> list[Interval]: ...
    def replace(
        self, doctor_id: UUID, days: list[date] | None, rows: list[tuple[date, FreeSlot]]
    ) -> None: ...
    def horizon_reached(self, doctor_id: UUID, last_day: date) -> None: ...
    def behind(self, last_day: date) -> list[UUID]: ...
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
        self.horizon_days = horizon_days
        self._dirty: dict[UUID, set[date] | None] = {}
        self._rules: dict[UUID, DoctorRules | None] = {}
        self._ruled: set[UUID] = set()  # whose rules changed in this batch (saved at its end)

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change availability."""

    @process_event.register
    def _(self, event: DoctorSchedule.Opened, tracking: Tracking) -> None:
        self.view.own(event.originator_id, event.doctor_id)
        self._rules[event.doctor_id] = DoctorRules.opened(event)
        self._dirty[event.doctor_id] = ALL_DAYS
        self._ruled.add(event.doctor_id)

    @process_event.register(DoctorSchedule.ProfileChanged)
    @process_event.register(DoctorSchedule.PracticeAdded)
    @process_event.register(DoctorSchedule.ConsultationTypeSet)
    @process_event.register(DoctorSchedule.WeeklyHoursSet)
    @process_event.register(DoctorSchedule.DateOverrideSet)
    @process_event.register(DoctorSchedule.TimeOffAdded)
    @process_event.register(DoctorSchedule.TimeOffRemoved)
    def _(self, event: DoctorSchedule.Event, tracking: Tracking) -> None:
        doctor_id = self.view.owner(event.originator_id)
        rules = self._rules_of(doctor_id) if doctor_id else None
        if doctor_id is None or rules is None:
            return
        rules.apply(event)
        self._dirty[doctor_id] = ALL_DAYS
        self._ruled.add(doctor_id)

    @process_event.register(DoctorDay.Opened)
    @process_event.register(ExternalCalendars.Opened)
    def _(self, event: DoctorDay.Opened | ExternalCalendars.Opened, tracking: Tracking) -> None:
        self.view.own(event.originator_id, event.doctor_id)

    @process_event.register
    def _(self, event: DoctorDay.SlotBooked, tracking: Tracking) -> None:
        if doctor_id := self.view.owner(event.originator_id):
            at = Interval(event.start, event.end)
            self.view.booked(event.originator_id, event.consultation_id, doctor_id, at)
            self._changed(doctor_id, [at])

    @process_event.register
    def _(self, event: DoctorDay.SlotReleased, tracking: Tracking) -> None:
        if doctor_id := self.view.owner(event.originator_id):
            self._changed(doctor_id, self.view.released(event.originator_id, event.consultation_id))

    @process_event.register
    def _(self, event: ExternalCalendars.BusyChanged, tracking: Tracking) -> None:
        if doctor_id := self.view.owner(event.originator_id):
            changed = [
                gone
                for uid in event.removed
                for gone in self.view.not_busy(doctor_id, event.calendar_id, uid)
            ]
            for uid, start, end in event.added:
                changed += self.view.not_busy(doctor_id, event.calendar_id, uid)
                at = Interval(datetime.fromisoformat(start), datetime.fromisoformat(end))
                self.view.busy(doctor_id, event.calendar_id, uid, at)
                changed.append(at)
            self._changed(doctor_id, changed)

    @process_event.register
    def _(self, event: ExternalCalendars.Unlinked, tracking: Tracking) -> None:
        if doctor_id := self.view.owner(event.originator_id):
            self._changed(doctor_id, self.view.not_busy(doctor_id, event.calendar_id, None))

    # -- recomputing ------------------------------------------------------------------------
    def start_batch(self) -> None:
        self._dirty, self._rules, self._ruled = {}, {}, set()

    def end_batch(self) -> None:
        # Every read first, then every write (on PostgreSQL the batch is pipelined, and a read
        # after a many-row insert there has been seen to fetch an earlier statement's result).
        dirty, self._dirty = self._dirty, {}
        computed = [self.computed(doctor_id, days) for doctor_id, days in dirty.items()]
        for doctor_id in self._ruled:
            if rules := self._rules.get(doctor_id):
                self.view.save_rules(rules)
        for found in filter(None, computed):
            self._store(*found)
        self._rules, self._ruled = {}, set()

    def recompute(self, doctor_id: UUID, days: set[date] | None) -> None:
        """Replace the rows of some local days of a doctor (all days of the horizon: None)."""
        if found := self.computed(doctor_id, days):
            self._store(*found)

    def _store(
        self,
        doctor_id: UUID,
        days: list[date] | None,
        rows: list[tuple[date, FreeSlot]],
        last: date,
    ) -> None:
        self.view.replace(doctor_id, days, rows)
        if days is None:  # only a whole horizon moves it (a new day is computed by the chore)
            self.view.horizon_reached(doctor_id, last)

    def computed(self, doctor_id: UUID, days: set[date] | None) -> Recomputed | None:
        """The rows of some local days of a doctor (every day of the horizon: None)."""
        rules = self._rules_of(doctor_id)
        if rules is None:
            return None
        window = horizon(rules.time_zone, self.horizon_days)
        wanted = window if days is None else sorted(days & set(window))
        rows: list[tuple[date, FreeSlot]] = []
        if wanted:
            tz = zone(rules.time_zone)
            span = Interval(
                local_day_bounds(wanted[0], tz).start, local_day_bounds(wanted[-1], tz).end
            )
            taken = self.view.taken(doctor_id, span)
            for day in wanted:
                rows += [(day, free) for free in free_on(rules, day, taken)]
        return doctor_id, None if days is None else wanted, rows, window[-1]

    def roll_horizon(self) -> int:
        """Compute the days that came into the horizon since (a daily chore)."""
        stale = self.view.behind(datetime.now(UTC).date() + timedelta(days=self.horizon_days - 1))
        for doctor_id in stale:
            with self.view.batch():
                self.start_batch()
                self.recompute(doctor_id, ALL_DAYS)
                self.start_batch()
        return len(stale)

    def _changed(self, doctor_id: UUID, intervals: list[Interval]) -> None:
        days = self._dirty.setdefault(doctor_id, set())
        rules = self._rules_of(doctor_id)
        if days is None or rules is None:
            return
        for at in intervals:
            if at.end - at.start > timedelta(days=self.horizon_days + 3):
                self._dirty[doctor_id] = ALL_DAYS  # longer than the horizon: every day
                return
            days |= local_days(at, rules.time_zone)

    def _rules_of(self, doctor_id: UUID) -> DoctorRules | None:
        if doctor_id not in self._rules:
            self._rules[doctor_id] = self.view.rules(doctor_id)
        return self._rules[doctor_id]
