"""No double booking, whatever the schedule does: the boundary that refuses overlapping
bookings is keyed by something a schedule change cannot move (the instant's UTC date), and
urgent consultations occupy their time like any booking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.composition import build
from adapters.settings import Settings
from commands.booking import BookConsultation
from commands.scheduling import (
    AddPractice,
    OpenSchedule,
    SetConsultationType,
    SetDateOverride,
    SetWeeklyHours,
)
from domain.actor import Actor, Role
from domain.consultation import Consultation, Kind
from domain.patient import record_of
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import Practices, set_up_schedule, slots


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def ben(clinic: Clinic) -> Person:
    return clinic.person("Ben", Role.PATIENT, None)


def book_at(clinic: Clinic, who: Person, practices: Practices, start: datetime) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        "/v1/consultations",
        headers=who.headers,
        json={
            "patient_id": str(record_of(who.actor.actor_id)),
            "doctor_id": str(practices.doctor_id),
            "practice_id": str(practices.city),
            "type_code": "video-15",
            "start": start.isoformat(),
            "kind": "video",
        },
    )
    return response


def urgent(clinic: Clinic, who: Person, doctor_id: UUID) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        "/v1/consultations/urgent",
        headers=who.headers,
        json={
            "patient_id": str(record_of(who.actor.actor_id)),
            "doctor_id": str(doctor_id),
            "reason": "sudden dizziness",
        },
    )
    return response


def consultation(clinic: Clinic, who: Person, consultation_id: str) -> dict[str, Any]:
    response = clinic.client.get(f"/v1/consultations/{consultation_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_time_zone_change_does_not_free_an_instant_that_is_booked(
    clinic: Clinic, dr_weber: Person, anna: Person, ben: Person
) -> None:
    luxembourg, los_angeles = ZoneInfo("Europe/Luxembourg"), "America/Los_Angeles"
    practices = set_up_schedule(clinic, dr_weber, spans=("06:00-23:30",))
    day = datetime.now(luxembourg).date() + timedelta(days=3)
    eight = datetime.combine(day, time(8), tzinfo=luxembourg)  # 23:00 the day before in LA
    assert book_at(clinic, anna, practices, eight).status_code == 201

    moved = clinic.client.put(
        f"/v1/doctors/{practices.doctor_id}/schedule",
        headers=dr_weber.headers,
        json={"time_zone": los_angeles, "specialty": "cardiology", "languages": ["fr", "en"]},
    )
    assert moved.status_code == 200, moved.text

    second = book_at(clinic, ben, practices, eight)
    assert second.status_code == 409, second.text
    assert second.json()["type"].endswith("slot-taken")
    free = {
        datetime.fromisoformat(s["start"])
        for s in slots(clinic, ben, practices.doctor_id, **{"from": eight.isoformat()})
    }
    assert eight not in free


def _zone_at_midday() -> str:
    """A fixed-offset zone where it is around noon now, so the working day is open."""
    east = max(-12, min(14, 12 - datetime.now(UTC).hour))
    return "UTC" if east == 0 else f"Etc/GMT{'-' if east > 0 else '+'}{abs(east)}"


def test_an_urgent_consultation_occupies_its_time_and_flags_what_it_overlaps(
    clinic: Clinic, dr_weber: Person, anna: Person, ben: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber, tz=_zone_at_midday(), spans=("01:00-23:00",))
    now = datetime.now(UTC)
    soon = next(  # a quarter-hour slot that starts within the next urgent window
        datetime.fromisoformat(s["start"])
        for s in slots(clinic, anna, practices.doctor_id, type="video-15")
        if now + timedelta(minutes=1)
        <= datetime.fromisoformat(s["start"])
        < now + timedelta(minutes=16)
        and s["practice_id"] == str(practices.city)
    )
    booked = book_at(clinic, anna, practices, soon)
    assert booked.status_code == 201, booked.text

    emergency = urgent(clinic, ben, practices.doctor_id)
    assert emergency.status_code == 201, emergency.text
    held = consultation(clinic, ben, emergency.json()["id"])
    window = (datetime.fromisoformat(held["start"]), datetime.fromisoformat(held["end"]))
    assert window[0] <= soon < window[1]

    overlapped = consultation(clinic, anna, booked.json()["id"])
    assert (overlapped["status"], overlapped["flagged"]) == ("booked", "urgent-consultation")

    cancelled = clinic.client.post(
        f"/v1/consultations/{booked.json()['id']}/cancel",
        headers=anna.headers,
        json={"reason": "patient-request"},
    )
    assert cancelled.status_code == 200, cancelled.text
    for slot in slots(clinic, anna, practices.doctor_id):
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        assert not (start < window[1] and window[0] < end), slot
    refused = book_at(clinic, anna, practices, soon)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("slot-taken")


def test_a_second_urgent_request_waits_for_the_first(
    clinic: Clinic, dr_weber: Person, anna: Person, ben: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    first = urgent(clinic, anna, practices.doctor_id)
    second = urgent(clinic, ben, practices.doctor_id)
    assert first.status_code == second.status_code == 201
    a = consultation(clinic, anna, first.json()["id"])
    b = consultation(clinic, ben, second.json()["id"])
    assert datetime.fromisoformat(b["start"]) >= datetime.fromisoformat(a["end"])


def test_concurrent_urgent_requests_queue_without_overlapping(
    postgres_only: str, clinic: Clinic, dr_weber: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    patients = [clinic.person(f"P{i}", Role.PATIENT, None) for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda p: urgent(clinic, p, practices.doctor_id), patients))
    assert [a.status_code for a in answers] == [201] * len(patients)  # urgent: never refused
    accepted = [
        consultation(clinic, p, a.json()["id"])
        for p, a in zip(patients, answers, strict=True)
        if a.status_code == 201
    ]
    assert accepted
    windows = sorted(
        (datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"])) for c in accepted
    )
    for (_, end), (start, _) in pairwise(windows):
        assert end <= start


def test_a_schedule_change_flags_a_booking_no_read_model_has_seen_yet(settings: Settings) -> None:
    services = build(settings)  # projections are not running: the read side lags behind
    try:
        doctor = uuid4()
        actor = Actor(doctor, Role.DOCTOR, uuid4())
        practice = uuid4()
        handle = services.bus.handle
        handle(OpenSchedule(actor, doctor, "Europe/Luxembourg", "cardiology", ("fr",)))
        handle(AddPractice(actor, doctor, practice, uuid4()))
        handle(SetConsultationType(actor, doctor, practice, "video-15", 15, 0, ("video",)))
        day = datetime.now(UTC).date() + timedelta(days=3)
        handle(SetWeeklyHours(actor, doctor, practice, day.weekday(), ("09:00-12:00",)))
        nine = datetime.combine(day, time(9), tzinfo=ZoneInfo("Europe/Luxembourg"))
        booked = handle(
            BookConsultation(actor, uuid4(), doctor, practice, "video-15", nine, Kind.VIDEO)
        )
        handle(SetDateOverride(actor, doctor, practice, day, ()))  # the doctor is away that day
        consultation = services.bus_uow().get(Consultation, booked.aggregate_id)
        assert (consultation.status.value, consultation.flagged) == (
            "booked",
            "outside-the-schedule",
        )
    finally:
        services.close()
