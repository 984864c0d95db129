"""Busy periods read out of a doctor's external calendars: iCalendar feeds and CalDAV.

An occurrence blocks booking unless it is ``TRANSP:TRANSPARENT`` or ``STATUS:CANCELLED``.
Each ``BusyPeriod.uid`` is the event UID plus the occurrence's original start (its
RECURRENCE-ID, in UTC), so a moved or removed occurrence is recognisable between two syncs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib.error import ReportError

MAX_FEED_BYTES = 10 * 1024 * 1024
# All-day and floating values get their zone only after the expansion; no zone is more than
# 14 hours away from UTC, so a day on each side of the window catches all of them.
_MARGIN = timedelta(days=1)
_BUSY_FBTYPES = frozenset({"BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE"})


class CalendarUnavailable(Exception):
    """An external calendar could not be read (network, HTTP, server or data error)."""


class InvalidCalendar(CalendarUnavailable):
    """The data is not valid iCalendar."""


@dataclass(frozen=True)
class BusyPeriod:
    """``[start, end)`` in UTC; ``uid`` is ``"{event UID}@{original start}"``."""

    uid: str
    start: datetime
    end: datetime


def busy_periods(
    ics: bytes | str, start: datetime, end: datetime, *, default_tz: str = "UTC"
) -> list[BusyPeriod]:
    """The busy periods of ``ics`` overlapping ``[start, end)``, unclipped, sorted by start.

    Date-only (all-day) and floating values are read in ``default_tz``.
    """
    _check_window(start, end)
    zone = ZoneInfo(default_tz)
    try:
        calendars = icalendar.Calendar.from_ical(ics, multiple=True)
    except ValueError as exc:
        raise InvalidCalendar(f"not iCalendar data: {exc}") from exc
    if not calendars or any(cal.name != "VCALENDAR" for cal in calendars):
        raise InvalidCalendar("no VCALENDAR in the data")
    found: list[BusyPeriod] = []
    for cal in calendars:
        found += _event_periods(cal, start, end, zone)
        found += _freebusy_periods(cal, zone)
    return _merge([p for p in found if p.start < end and p.end > start])


class IcsFeed:
    """An iCalendar feed published over HTTP(S); ``webcal://`` is read as ``https://``."""

    def __init__(self, *, max_bytes: int = MAX_FEED_BYTES) -> None:
        self.max_bytes = max_bytes

    def fetch_busy(
        self,
        url: str,
        start: datetime,
        end: datetime,
        *,
        timeout: float = 10.0,
        default_tz: str = "UTC",
    ) -> list[BusyPeriod]:
        return busy_periods(self._download(url, timeout), start, end, default_tz=default_tz)

    def _download(self, url: str, timeout: float) -> bytes:
        if url.startswith("webcal://"):
            url = "https://" + url.removeprefix("webcal://")
        # Feed URLs often embed a secret token: errors name the host only.
        where = _host(url)
        body = bytearray()
        try:
            with (
                httpx.Client(follow_redirects=True, timeout=timeout) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise CalendarUnavailable(f"feed at {where}: HTTP {response.status_code}")
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise CalendarUnavailable(f"feed at {where}: over {self.max_bytes} bytes")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise CalendarUnavailable(f"feed at {where}: {type(exc).__name__}") from None
        return bytes(body)


class CalDavCalendar:
    """One CalDAV calendar collection, addressed by its URL."""

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        timeout: int = 10,
    ) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.timeout = timeout

    def fetch_busy(
        self, start: datetime, end: datetime, *, default_tz: str = "UTC"
    ) -> list[BusyPeriod]:
        """Server-side time-range search, expanded by the server where it can.

        Whatever comes back (expanded instances, or masters with RRULE) goes through
        ``busy_periods``, which expands what is left and reads all-day values in ``default_tz``.
        """
        _check_window(start, end)
        try:
            with DAVClient(
                url=self.url, username=self.username, password=self.password, timeout=self.timeout
            ) as client:
                calendar = Calendar(client=client, url=self.url)
                raw = [str(obj.data) for obj in _search(calendar, start - _MARGIN, end + _MARGIN)]
        except Exception as exc:  # caldav raises DAVError, HTTP-library and XML errors alike
            raise CalendarUnavailable(f"CalDAV calendar at {_host(self.url)}: {exc}") from exc
        found: list[BusyPeriod] = []
        for data in raw:
            found += busy_periods(data, start, end, default_tz=default_tz)
        return _merge(found)


def _search(calendar: Calendar, start: datetime, end: datetime) -> list[Any]:
    found: object
    try:
        found = calendar.search(
            start=start, end=end, event=True, expand=True, server_expand=True, split_expanded=False
        )
    except ReportError:
        # The server cannot expand this collection (Radicale 3.9 answers 500 for a recurring
        # event with floating times): fetch the masters and expand them here.
        found = calendar.search(start=start, end=end, event=True, expand=False)
    if not isinstance(found, list):  # only an async client returns a coroutine
        raise TypeError("expected the results of a synchronous search")
    return found


def _event_periods(
    cal: icalendar.Calendar, start: datetime, end: datetime, zone: ZoneInfo
) -> Iterator[BusyPeriod]:
    try:
        occurrences = recurring_ical_events.of(cal).between(start - _MARGIN, end + _MARGIN)
        for event in occurrences:
            if not _blocks_time(event):
                continue
            begin, finish = _utc(event.start, zone), _utc(event.end, zone)
            if finish > begin:
                rid = event.get("RECURRENCE-ID")
                original = _stamp(rid.dt if rid is not None else event.start, zone)
                yield BusyPeriod(f"{event.get('UID', '')}@{original}", begin, finish)
    except ValueError as exc:  # icalendar and recurring_ical_events errors are ValueErrors
        raise InvalidCalendar(f"invalid event: {exc}") from exc


def _freebusy_periods(cal: icalendar.Calendar, zone: ZoneInfo) -> Iterator[BusyPeriod]:
    for freebusy in cal.walk("VFREEBUSY"):
        uid = freebusy.get("UID", "freebusy")
        values = freebusy.get("FREEBUSY", [])
        for period in values if isinstance(values, list) else [values]:
            if str(period.params.get("FBTYPE", "BUSY")).upper() not in _BUSY_FBTYPES:
                continue
            begin = _utc(period.start, zone)
            finish = _utc(period.end, zone) if period.end else begin + period.duration
            yield BusyPeriod(f"{uid}@{begin.isoformat()}", begin, finish)


def _blocks_time(event: icalendar.Component) -> bool:
    transparent = str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT"
    cancelled = str(event.get("STATUS", "")).upper() == "CANCELLED"
    return not (transparent or cancelled)


def _utc(value: date, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(), zone)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _stamp(value: date, zone: ZoneInfo) -> str:
    """An occurrence's identity: its date for all-day ones, else its instant in UTC."""
    return _utc(value, zone).isoformat() if isinstance(value, datetime) else value.isoformat()


def _merge(periods: Iterable[BusyPeriod]) -> list[BusyPeriod]:
    unique = {p.uid: p for p in periods}
    return sorted(unique.values(), key=lambda p: (p.start, p.end, p.uid))


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError("end must be after start")


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"
