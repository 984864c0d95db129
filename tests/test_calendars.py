"""A doctor's external calendars block booking: busy periods read from real CalDAV and .ics servers.

Radicale plays the doctor's CalDAV server, a local ``http.server`` the published .ics feed.
The doctor works in Luxembourg; summer time starts on Sunday 2027-03-28.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from caldav.collection import Principal
from caldav.davclient import DAVClient

from adapters.calendars.busy import (
    BusyPeriod,
    CalDavCalendar,
    CalendarUnavailable,
    IcsFeed,
    InvalidCalendar,
    busy_periods,
)

LUX = ZoneInfo("Europe/Luxembourg")
DOCTOR, PASSWORD = "dr-weber", "s3cret-plain"
SPRING = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 5, 1, tzinfo=UTC))
MEETING = "staff-meeting@clinic.lu"


def lux(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=LUX)


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


# --- the doctor's calendar: one entry per UID, as a CalDAV server stores them ---------------

VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Luxembourg
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19810329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19961027T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""

# Thursdays 09:00 local, six times; not on the 18th; an extra Tuesday session on the 30th
# (RDATE); on 1 April moved to the afternoon.
STAFF_MEETING = f"""BEGIN:VEVENT
UID:{MEETING}
DTSTAMP:20270101T000000Z
SUMMARY:Staff meeting
DTSTART;TZID=Europe/Luxembourg:20270311T090000
DTEND;TZID=Europe/Luxembourg:20270311T100000
RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=6
EXDATE;TZID=Europe/Luxembourg:20270318T090000
RDATE;TZID=Europe/Luxembourg:20270330T090000
END:VEVENT
BEGIN:VEVENT
UID:{MEETING}
DTSTAMP:20270101T000000Z
RECURRENCE-ID;TZID=Europe/Luxembourg:20270401T090000
SUMMARY:Staff meeting (afternoon this week)
DTSTART;TZID=Europe/Luxembourg:20270401T140000
DTEND;TZID=Europe/Luxembourg:20270401T150000
END:VEVENT"""

LUNCH = """BEGIN:VEVENT
UID:lunch@clinic.lu
DTSTAMP:20270101T000000Z
SUMMARY:Lunch (may be booked over)
DTSTART;TZID=Europe/Luxembourg:20270312T120000
DTEND;TZID=Europe/Luxembourg:20270312T130000
TRANSP:TRANSPARENT
END:VEVENT"""

BOARD = """BEGIN:VEVENT
UID:board@clinic.lu
DTSTAMP:20270101T000000Z
SUMMARY:Board meeting (called off)
DTSTART;TZID=Europe/Luxembourg:20270315T100000
DTEND;TZID=Europe/Luxembourg:20270315T110000
STATUS:CANCELLED
END:VEVENT"""

VACATION = """BEGIN:VEVENT
UID:vacation@home
DTSTAMP:20270101T000000Z
SUMMARY:Easter holidays
DTSTART;VALUE=DATE:20270405
DTEND;VALUE=DATE:20270407
END:VEVENT"""

CONGRESS = """BEGIN:VEVENT
UID:congress@ehealth.eu
DTSTAMP:20270101T000000Z
SUMMARY:eHealth congress, Brussels
DTSTART:20270322T070000Z
DTEND:20270324T160000Z
END:VEVENT"""

# A floating time (no zone at all): 07:30 wherever the doctor is.
WARD_ROUND = """BEGIN:VEVENT
UID:ward-round@clinic.lu
DTSTAMP:20270101T000000Z
SUMMARY:Ward round
DTSTART:20270329T073000
DTEND:20270329T083000
RRULE:FREQ=DAILY;COUNT=3
END:VEVENT"""

ENTRIES = (STAFF_MEETING, LUNCH, BOARD, VACATION, CONGRESS)


def vcalendar(*vevents: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Clinic//Test//EN", VTIMEZONE]
    return "\n".join([*lines, *vevents, "END:VCALENDAR", ""]).replace("\n", "\r\n")


def blocked(periods: list[BusyPeriod], at: datetime) -> bool:
    return any(p.start <= at < p.end for p in periods)


def of(periods: list[BusyPeriod], uid: str) -> list[tuple[datetime, datetime]]:
    return [(p.start, p.end) for p in periods if p.uid.startswith(uid + "@")]


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Radicale:
    base: str

    def client(self) -> DAVClient:
        return DAVClient(url=self.base, username=DOCTOR, password=PASSWORD)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    """A real Radicale server, htpasswd (plain) auth, on a free port of 127.0.0.1."""
    home = tmp_path_factory.mktemp("radicale")
    (home / "users").write_text(f"{DOCTOR}:{PASSWORD}\n")
    port = free_port()
    (home / "config").write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\ndelay_on_error = 0\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {home / 'users'}\n"
        "htpasswd_encryption = plain\ndelay = 0\n"
        f"[storage]\nfilesystem_folder = {home / 'collections'}\n"
        "[rights]\ntype = owner_only\n[web]\ntype = none\n[logging]\nlevel = warning\n"
    )
    with (home / "log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(home / "config")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Radicale exited: {(home / 'log').read_text()}")
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("Radicale did not answer")
                time.sleep(0.1)
        yield Radicale(base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class DoctorsCalendar:
    url: str
    dav: Any  # caldav.Calendar of the test-side client

    def put(self, *vevents: str) -> None:
        self.dav.save_event(vcalendar(*vevents))

    def remove(self, uid: str) -> None:
        self.dav.event_by_uid(uid).delete()

    def reader(self) -> CalDavCalendar:
        return CalDavCalendar(self.url, DOCTOR, PASSWORD)


@pytest.fixture
def calendar(radicale: Radicale) -> Iterator[DoctorsCalendar]:
    """A fresh calendar of the doctor's on the Radicale server."""
    with radicale.client() as client:
        cal_id = f"work-{uuid.uuid4().hex[:8]}"
        home = Principal(client=client, url=f"{radicale.base}{DOCTOR}/")
        dav: Any = home.make_calendar(name="Work", cal_id=cal_id)
        yield DoctorsCalendar(str(dav.url), dav)
        dav.delete()


class Files:
    """Responses served by the local web server, by path: (status, headers, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.base = ""

    def serve(self, path: str, body: str | bytes, *, status: int = 200, **headers: str) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, {"Content-Type": "text/calendar", **headers}, data)
        return self.base + path


@pytest.fixture(scope="module")
def web() -> Iterator[Files]:
    """A plain HTTP server on 127.0.0.1 publishing .ics feeds (and anything else)."""
    files = Files()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = files.routes.get(self.path, (404, {}, b"not found"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    files.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield files
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def filled(calendar: DoctorsCalendar) -> DoctorsCalendar:
    for entry in ENTRIES:
        calendar.put(entry)
    return calendar


# --- scenarios ----------------------------------------------------------------------------


def test_the_weekly_staff_meeting_stays_at_nine_local_across_summer_time(
    filled: DoctorsCalendar,
) -> None:
    periods = filled.reader().fetch_busy(*SPRING, default_tz="Europe/Luxembourg")

    meeting = of(periods, MEETING)
    assert meeting == [
        (utc(3, 11, 8), utc(3, 11, 9)),  # 09:00 CET
        (utc(3, 25, 8), utc(3, 25, 9)),  # 09:00 CET, three days before the change
        (utc(3, 30, 7), utc(3, 30, 8)),  # the extra Tuesday (RDATE), 09:00 CEST
        (utc(4, 1, 12), utc(4, 1, 13)),  # moved to 14:00 CEST
        (utc(4, 8, 7), utc(4, 8, 8)),  # 09:00 CEST
        (utc(4, 15, 7), utc(4, 15, 8)),
    ]
    assert all(p.start.tzinfo == UTC and p.end.tzinfo == UTC for p in periods)
    regular = [start for start, _ in meeting if start != utc(4, 1, 12)]
    assert {start.astimezone(LUX).hour for start in regular} == {9}


def test_the_excluded_date_is_free_and_the_moved_meeting_blocks_its_new_time_only(
    filled: DoctorsCalendar,
) -> None:
    periods = filled.reader().fetch_busy(*SPRING, default_tz="Europe/Luxembourg")

    assert not blocked(periods, lux(3, 18, 9, 30))  # EXDATE: no meeting that week
    assert not blocked(periods, lux(4, 1, 9, 30))  # the original slot of the moved meeting
    assert blocked(periods, lux(4, 1, 14, 30))
    moved = next(p for p in periods if p.start == lux(4, 1, 14))
    # It keeps the identity of the occurrence it replaces (its RECURRENCE-ID, in UTC).
    assert moved.uid == f"{MEETING}@2027-04-01T07:00:00+00:00"
    assert len({p.uid for p in periods}) == len(periods)


def test_transparent_and_cancelled_events_block_nothing(filled: DoctorsCalendar) -> None:
    periods = filled.reader().fetch_busy(*SPRING, default_tz="Europe/Luxembourg")

    assert not blocked(periods, lux(3, 12, 12, 30))  # lunch, marked free
    assert not blocked(periods, lux(3, 15, 10, 30))  # cancelled board meeting
    assert not of(periods, "lunch@clinic.lu")
    assert not of(periods, "board@clinic.lu")


def test_an_all_day_vacation_blocks_the_whole_days_in_the_doctors_zone(
    filled: DoctorsCalendar,
) -> None:
    in_luxembourg = filled.reader().fetch_busy(*SPRING, default_tz="Europe/Luxembourg")
    in_utc = filled.reader().fetch_busy(*SPRING)

    assert of(in_luxembourg, "vacation@home") == [(lux(4, 5), lux(4, 7))]
    assert of(in_luxembourg, "vacation@home") == [(utc(4, 4, 22), utc(4, 6, 22))]
    assert of(in_utc, "vacation@home") == [(utc(4, 5), utc(4, 7))]
    assert [p.uid for p in in_luxembourg if p.uid.startswith("vacation")] == [
        "vacation@home@2027-04-05"
    ]


def test_a_congress_in_utc_spanning_days_is_returned_whole_even_if_the_window_cuts_it(
    filled: DoctorsCalendar,
) -> None:
    window = (utc(3, 23, 12), utc(3, 23, 13))
    periods = filled.reader().fetch_busy(*window, default_tz="Europe/Luxembourg")

    assert periods == [
        BusyPeriod("congress@ehealth.eu@2027-03-22T07:00:00+00:00", utc(3, 22, 7), utc(3, 24, 16))
    ]


def test_removing_an_external_event_frees_the_time_at_the_next_fetch(
    filled: DoctorsCalendar,
) -> None:
    reader = filled.reader()
    before = reader.fetch_busy(*SPRING, default_tz="Europe/Luxembourg")
    assert blocked(before, lux(4, 5, 10))

    filled.remove("vacation@home")
    # ...and the doctor drops the 8 April meeting from the series.
    filled.put(
        STAFF_MEETING.replace(
            "EXDATE;TZID=Europe/Luxembourg:20270318T090000",
            "EXDATE;TZID=Europe/Luxembourg:20270318T090000,20270408T090000",
        )
    )
    after = reader.fetch_busy(*SPRING, default_tz="Europe/Luxembourg")

    assert not blocked(after, lux(4, 5, 10))
    assert not blocked(after, lux(4, 8, 9, 30))
    gone = {p.uid for p in before} - {p.uid for p in after}
    assert gone == {"vacation@home@2027-04-05", f"{MEETING}@2027-04-08T07:00:00+00:00"}
    assert {p for p in after} <= set(before)  # nothing else moved


def test_the_published_ics_feed_gives_the_same_periods_as_the_caldav_calendar(
    filled: DoctorsCalendar, web: Files
) -> None:
    url = web.serve("/dr-weber/work.ics", vcalendar(*ENTRIES))
    old_link = web.serve("/old-link.ics", b"", status=302, Location=url)

    from_feed = IcsFeed().fetch_busy(old_link, *SPRING, default_tz="Europe/Luxembourg")
    from_caldav = filled.reader().fetch_busy(*SPRING, default_tz="Europe/Luxembourg")

    assert from_feed == from_caldav
    assert len(from_feed) == 8  # six meetings, the vacation, the congress
    assert from_feed == sorted(from_feed, key=lambda p: p.start)


def test_floating_times_are_read_in_the_doctors_zone_on_both_paths(
    calendar: DoctorsCalendar, web: Files
) -> None:
    # Radicale cannot expand a recurring event with floating times server-side (HTTP 500):
    # the reader falls back to fetching the series and expanding it itself.
    calendar.put(WARD_ROUND)
    url = web.serve("/ward.ics", vcalendar(WARD_ROUND))

    from_caldav = calendar.reader().fetch_busy(*SPRING, default_tz="Europe/Luxembourg")
    from_feed = IcsFeed().fetch_busy(url, *SPRING, default_tz="Europe/Luxembourg")

    assert from_caldav == from_feed
    assert [(p.start, p.end) for p in from_feed] == [
        (lux(3, 29, 7, 30), lux(3, 29, 8, 30)),
        (lux(3, 30, 7, 30), lux(3, 30, 8, 30)),
        (lux(3, 31, 7, 30), lux(3, 31, 8, 30)),
    ]


def test_a_published_free_busy_block_counts_unless_it_is_free() -> None:
    ics = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Hospital//Rota//EN
BEGIN:VFREEBUSY
UID:rota@hospital.lu
DTSTAMP:20270101T000000Z
DTSTART:20270301T000000Z
DTEND:20270401T000000Z
FREEBUSY:20270302T080000Z/20270302T120000Z,20270303T080000Z/PT2H
FREEBUSY;FBTYPE=FREE:20270304T080000Z/PT8H
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20270305T080000Z/PT1H
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20270306T000000Z/20270307T000000Z
END:VFREEBUSY
END:VCALENDAR
"""
    periods = busy_periods(ics, utc(3, 3), utc(3, 7))

    assert periods == [
        BusyPeriod("rota@hospital.lu@2027-03-03T08:00:00+00:00", utc(3, 3, 8), utc(3, 3, 10)),
        BusyPeriod("rota@hospital.lu@2027-03-05T08:00:00+00:00", utc(3, 5, 8), utc(3, 5, 9)),
        BusyPeriod("rota@hospital.lu@2027-03-06T00:00:00+00:00", utc(3, 6), utc(3, 7)),
    ]


def test_the_window_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        busy_periods(vcalendar(CONGRESS), datetime(2027, 3, 1), datetime(2027, 4, 1))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"not found"),
        (503, b"maintenance"),
        (200, b"<!doctype html><html><body>Please log in</body></html>"),
        (200, b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Dr Weber\r\nEND:VCARD\r\n"),
        (200, b""),
    ],
)
def test_a_feed_that_is_not_a_calendar_is_unavailable(web: Files, status: int, body: bytes) -> None:
    url = web.serve(f"/broken-{uuid.uuid4().hex}.ics", body, status=status)

    with pytest.raises(CalendarUnavailable):
        IcsFeed().fetch_busy(url, *SPRING)


def test_a_feed_that_is_no_icalendar_says_so(web: Files) -> None:
    url = web.serve("/login.ics", b"<html>Please log in</html>")
    with pytest.raises(InvalidCalendar):
        IcsFeed().fetch_busy(url, *SPRING)


def test_an_oversized_or_unreachable_feed_is_unavailable(web: Files) -> None:
    url = web.serve("/huge.ics", vcalendar(*ENTRIES))
    with pytest.raises(CalendarUnavailable, match="over 100 bytes"):
        IcsFeed(max_bytes=100).fetch_busy(url, *SPRING)
    with pytest.raises(CalendarUnavailable):
        IcsFeed().fetch_busy(f"http://127.0.0.1:{free_port()}/cal.ics", *SPRING, timeout=2)


def test_a_caldav_calendar_that_cannot_be_read_is_unavailable(
    radicale: Radicale, calendar: DoctorsCalendar, web: Files
) -> None:
    wrong_password = CalDavCalendar(calendar.url, DOCTOR, "guess")
    nobody_listening = CalDavCalendar(f"http://127.0.0.1:{free_port()}/{DOCTOR}/work/")
    not_caldav = CalDavCalendar(web.serve("/dav/", "<html>a web page</html>"))
    deleted = CalDavCalendar(f"{radicale.base}{DOCTOR}/deleted/", DOCTOR, PASSWORD)

    for reader in (wrong_password, nobody_listening, not_caldav, deleted):
        with pytest.raises(CalendarUnavailable):
            reader.fetch_busy(*SPRING)
