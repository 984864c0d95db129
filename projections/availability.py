"""Availability: which doctors' days must be recomputed when schedules, bookings or external
calendars change. The view recomputes them from the rules (the same ``free_slots`` the write
side checks), so the read model always equals a from-scratch computation."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.booking import DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.schedule import DoctorSchedule
from projections.base import Projection


class AvailabilityView(Protocol):
    def schedule_changed(self, schedule_id: UUID) -> None: ...

    def day_changed(self, doctor_day_id: UUID) -> None: ...

    def calendars_changed(self, calendars_id: UUID) -> None: ...


_SCHEDULE_EVENTS = (
    DoctorSchedule.Opened,
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
            *_SCHEDULE_EVENTS,
            DoctorDay.SlotBooked,
            DoctorDay.SlotReleased,
            ExternalCalendars.BusyChanged,
            ExternalCalendars.Unlinked,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change availability."""

    @process_event.register(DoctorSchedule.Opened)
    @process_event.register(DoctorSchedule.ProfileChanged)
    @process_event.register(DoctorSchedule.PracticeAdded)
    @process_event.register(DoctorSchedule.ConsultationTypeSet)
    @process_event.register(DoctorSchedule.WeeklyHoursSet)
    @process_event.register(DoctorSchedule.DateOverrideSet)
    @process_event.register(DoctorSchedule.TimeOffAdded)
    @process_event.register(DoctorSchedule.TimeOffRemoved)
    def _(self, event: DoctorSchedule.Event, tracking: Tracking) -> None:
        self.view.schedule_changed(event.originator_id)

    @process_event.register(DoctorDay.SlotBooked)
    @process_event.register(DoctorDay.SlotReleased)
    def _(self, event: DoctorDay.Event, tracking: Tracking) -> None:
        self.view.day_changed(event.originator_id)

    @process_event.register(ExternalCalendars.BusyChanged)
    @process_event.register(ExternalCalendars.Unlinked)
    def _(self, event: ExternalCalendars.Event, tracking: Tracking) -> None:
        self.view.calendars_changed(event.originator_id)
