"""A doctor's linked external calendars and the busy times synced from them."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import InvalidValue
from domain.personal import RecordedCreation, RecordedEvent
from domain.time_rules import Interval

CALENDAR_KINDS = ("ics", "caldav")


class ExternalCalendars(Aggregate):
    """Links (their addresses and credentials are personal data of the doctor, encrypted)
    and the busy periods last seen in each."""

    @staticmethod
    def create_id(doctor_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/external-calendars/{doctor_id}")

    class Opened(RecordedCreation):
        doctor_id: UUID

    class Linked(RecordedEvent):
        personal_fields = ("url", "username", "password")
        subject_field = "doctor_id"
        doctor_id: UUID
        calendar_id: UUID
        kind: str
        url: str
        username: str | None
        password: str | None

    class Unlinked(RecordedEvent):
        calendar_id: UUID

    class BusyChanged(RecordedEvent):
        calendar_id: UUID
        added: list[list[str]]
        removed: list[str]

    @event(Opened)
    def __init__(self, *, doctor_id: UUID, by: Actor) -> None:
        self.doctor_id = doctor_id
        self.links: dict[UUID, tuple[str, str, str | None, str | None]] = {}
        self.busy: dict[tuple[UUID, str], Interval] = {}

    def link(
        self,
        calendar_id: UUID,
        kind: str,
        url: str,
        username: str | None,
        password: str | None,
        *,
        by: Actor,
    ) -> None:
        if kind not in CALENDAR_KINDS:
            raise InvalidValue("calendar kind is ics or caldav")
        if not url.startswith(("http://", "https://")):
            raise InvalidValue("a calendar address starts with http:// or https://")
        self._linked(
            doctor_id=self.doctor_id,
            calendar_id=calendar_id,
            kind=kind,
            url=url,
            username=username,
            password=password,
            by=by,
        )

    @event(Linked)
    def _linked(
        self,
        *,
        doctor_id: UUID,
        calendar_id: UUID,
        kind: str,
        url: str,
        username: str | None,
        password: str | None,
        by: Actor,
    ) -> None:
        self.links[calendar_id] = (kind, url, username, password)

    def unlink(self, calendar_id: UUID, *, by: Actor) -> None:
        if calendar_id in self.links:
            self._unlinked(calendar_id=calendar_id, by=by)

    @event(Unlinked)
    def _unlinked(self, *, calendar_id: UUID, by: Actor) -> None:
        self.links.pop(calendar_id, None)
        self.busy = {k: v for k, v in self.busy.items() if k[0] != calendar_id}

    def sync(
        self, calendar_id: UUID, seen: dict[str, Interval], window: Interval, *, by: Actor
    ) -> None:
        """Record what changed since the last sync within ``window``: new or moved busy
        periods are added, vanished ones removed (which frees the time again)."""
        if calendar_id not in self.links:
            return
        known = {uid: span for (cal, uid), span in self.busy.items() if cal == calendar_id}
        added = [
            [uid, s.start.isoformat(), s.end.isoformat()]
            for uid, s in sorted(seen.items())
            if known.get(uid) != s
        ]
        removed = sorted(uid for uid, s in known.items() if uid not in seen and s.overlaps(window))
        if added or removed:
            self._busy_changed(calendar_id=calendar_id, added=added, removed=removed, by=by)

    @event(BusyChanged)
    def _busy_changed(
        self, *, calendar_id: UUID, added: list[list[str]], removed: list[str], by: Actor
    ) -> None:
        for uid in removed:
            self.busy.pop((calendar_id, uid), None)
        for uid, start, end in added:
            self.busy[(calendar_id, uid)] = Interval(
                datetime.fromisoformat(start), datetime.fromisoformat(end)
            )

    def busy_between(self, window: Interval) -> list[Interval]:
        return sorted(s for s in self.busy.values() if s.overlaps(window))
