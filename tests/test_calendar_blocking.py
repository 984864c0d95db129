# ruff: noqa: F811  (pytest fixtures imported from test_calendars are parameters here)
"""A doctor's external calendars block booking, and free the time again when events go."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from adapters.composition import Services
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, slots, tomorrow_at
from tests.test_calendars import (  # noqa: F401  (fixtures)
    DOCTOR,
    PASSWORD,
    DoctorsCalendar,
    Files,
    calendar,
    radicale,
    vcalendar,
    web,
)


def busy_event(uid: str, start: datetime, minutes: int = 60) -> str:
    def stamp(d: datetime) -> str:
        return d.strftime("%Y%m%dT%H%M%SZ")

    return (
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\n"
        f"DTSTART:{stamp(start)}\nDTEND:{stamp(start + timedelta(minutes=minutes))}\n"
        "SUMMARY:Hospital board\nEND:VEVENT"
    )


def sync(clinic: Clinic, doctor: Person) -> int:
    response = clinic.client.post(
        f"/v1/doctors/{doctor.actor.actor_id}/calendars/sync", headers=doctor.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["failed"] == []
    position: int = response.json()["position"]
    return position


def free_starts(clinic: Clinic, doctor: Person, position: int) -> set[datetime]:
    found = slots(clinic, doctor, doctor.actor.actor_id, after=position)
    return {datetime.fromisoformat(s["start"]) for s in found}


def test_a_caldav_event_blocks_its_time_and_removing_it_frees_the_time(
    clinic: Clinic,
    dr_weber: Person,
    calendar: DoctorsCalendar,
    services: Services,
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    start = datetime.fromisoformat(slot["start"])
    calendar.put(busy_event("board-1", start))
    linked = clinic.client.post(
        f"/v1/doctors/{dr_weber.actor.actor_id}/calendars",
        headers=dr_weber.headers,
        json={"kind": "caldav", "url": calendar.url, "username": DOCTOR, "password": PASSWORD},
    )
    assert linked.status_code == 201, linked.text
    assert start not in free_starts(clinic, dr_weber, sync(clinic, dr_weber))
    patient = clinic.register(dr_weber)["id"]
    refused = book_video(clinic, dr_weber, practices, slot, patient)
    assert refused.status_code == 409 and refused.json()["type"].endswith("slot-not-offered")

    calendar.remove("board-1")
    assert start in free_starts(clinic, dr_weber, sync(clinic, dr_weber))
    with services.db.transaction(write=False) as cur:  # the credentials are encrypted
        cur.execute("SELECT state FROM stored_events")
        assert all(PASSWORD.encode() not in bytes(r[0]) for r in cur.fetchall())


def test_an_ics_feed_blocks_too_and_a_booking_it_now_overlaps_is_flagged(
    clinic: Clinic,
    dr_weber: Person,
    web: Files,
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 3)
    start = datetime.fromisoformat(slot["start"])
    booked = book_video(clinic, dr_weber, practices, slot, clinic.register(dr_weber)["id"])
    assert booked.status_code == 201
    clinic.services.worker.tick()  # the agenda knows the booking
    feed = web.serve(f"/{uuid.uuid4().hex}.ics", vcalendar(busy_event("surgery-1", start, 30)))
    linked = clinic.client.post(
        f"/v1/doctors/{dr_weber.actor.actor_id}/calendars",
        headers=dr_weber.headers,
        json={"kind": "ics", "url": feed},
    )
    assert linked.status_code == 201
    position = sync(clinic, dr_weber)
    assert start + timedelta(minutes=15) not in free_starts(clinic, dr_weber, position)
    flagged = clinic.client.get(
        f"/v1/doctors/{practices.doctor_id}/agenda",
        headers=dr_weber.headers,
        params={"flagged": True, "after": position},
    ).json()
    assert [(c["id"], c["flagged"]) for c in flagged] == [
        (booked.json()["id"], "busy-in-external-calendar")
    ]


def test_an_unreachable_calendar_keeps_the_last_known_busy_times(
    clinic: Clinic,
    dr_weber: Person,
    web: Files,
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 5)
    start = datetime.fromisoformat(slot["start"])
    path = f"/{uuid.uuid4().hex}.ics"
    feed = web.serve(path, vcalendar(busy_event("clinic-1", start)))
    clinic.client.post(
        f"/v1/doctors/{dr_weber.actor.actor_id}/calendars",
        headers=dr_weber.headers,
        json={"kind": "ics", "url": feed},
    )
    sync(clinic, dr_weber)
    web.serve(path, "down", status=503)
    response = clinic.client.post(
        f"/v1/doctors/{dr_weber.actor.actor_id}/calendars/sync", headers=dr_weber.headers
    )
    assert len(response.json()["failed"]) == 1
    assert start not in free_starts(clinic, dr_weber, response.json()["position"])
