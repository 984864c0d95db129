"""Calendar sync: read each linked calendar's busy periods and record what changed.

Runs on demand (``POST /v1/doctors/{id}/calendars/sync``) and periodically in the projection
worker. An unreachable calendar keeps its last known busy periods (better blocked than double
booked) and is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from adapters.calendars.busy import BusyPeriod, CalDavCalendar, CalendarUnavailable, IcsFeed
from adapters.eventstore.recorder import EventRecorder
from commands.scheduling import RecordBusyPeriods
from domain.actor import Actor, system_actor
from domain.calendar_links import ExternalCalendars
from domain.schedule import DoctorSchedule
from domain.time_rules import Interval

log = logging.getLogger("telemed.calendars")

Loader = Callable[[type[Any], UUID], Any]
Handle = Callable[[Any], Any]
Fetch = Callable[[str, str, str | None, str | None, datetime, datetime, str], list[BusyPeriod]]


def fetch_busy(
    kind: str,
    url: str,
    username: str | None,
    password: str | None,
    start: datetime,
    end: datetime,
    default_tz: str,
) -> list[BusyPeriod]:
    if kind == "caldav":
        return CalDavCalendar(url, username, password).fetch_busy(start, end, default_tz=default_tz)
    return IcsFeed().fetch_busy(url, start, end, default_tz=default_tz)


@dataclass(frozen=True)
class SyncReport:
    calendars: int
    failed: list[str]


class CalendarSync:
    def __init__(
        self,
        load: Loader,
        handle: Handle,
        recorder: EventRecorder,
        *,
        horizon_days: int = 90,
        fetch: Fetch = fetch_busy,
    ) -> None:
        self.load, self.handle, self.recorder = load, handle, recorder
        self.horizon_days, self.fetch = horizon_days, fetch

    def sync_doctor(self, doctor_id: UUID, actor: Actor | None = None) -> SyncReport:
        calendars = self.load(ExternalCalendars, ExternalCalendars.create_id(doctor_id))
        schedule = self.load(DoctorSchedule, DoctorSchedule.create_id(doctor_id))
        if calendars is None or schedule is None:
            return SyncReport(0, [])
        now = datetime.now(UTC)
        window = Interval(now - timedelta(days=1), now + timedelta(days=self.horizon_days + 1))
        failed = []
        for calendar_id, (kind, url, username, password) in list(calendars.links.items()):
            try:
                periods = self.fetch(
                    kind, url, username, password, window.start, window.end, schedule.time_zone
                )
            except CalendarUnavailable as exc:
                log.warning(
                    "calendar %s of a doctor unavailable: %s", calendar_id, type(exc).__name__
                )
                failed.append(str(calendar_id))
                continue
            busy = tuple((p.uid, Interval(p.start, p.end)) for p in periods)
            self.handle(
                RecordBusyPeriods(actor or system_actor(), doctor_id, calendar_id, window, busy)
            )
        return SyncReport(len(calendars.links), failed)

    def sync_all(self) -> int:
        """Every doctor with linked calendars (the worker's periodic chore)."""
        topic = "domain.calendar_links:ExternalCalendars.Opened"
        doctors = 0
        for notification in self.recorder.select_notifications(None, 100_000, topics=[topic]):
            calendars = self.load(ExternalCalendars, UUID(str(notification.originator_id)))
            if calendars is not None and calendars.links:
                self.sync_doctor(calendars.doctor_id)
                doctors += 1
        return doctors
