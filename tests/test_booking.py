"""Booking as patients and practices live it: free slots, no double booking, changes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.composition import Services
from domain.actor import Actor, Role
from domain.consultation import Consultation, ConsultationClosed, Kind
from domain.errors import InvalidValue
from domain.patient import record_of
from domain.time_rules import Interval
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import set_up_schedule, slots, tomorrow_at


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def ben(clinic: Clinic) -> Person:
    return clinic.person("Ben", Role.PATIENT, None)


def book(
    clinic: Clinic, who: Person, slot: dict[str, object], patient: Person | None = None
) -> httpx.Response:
    patient = patient or who
    response: httpx.Response = clinic.client.post(
        "/v1/consultations",
        headers=who.headers,
        json={
            "patient_id": str(record_of(patient.actor.actor_id)),
            "doctor_id": str(slot["doctor_id"]),
            "practice_id": str(slot["practice_id"]),
            "type_code": slot["type_code"],
            "start": slot["start"],
            "kind": slot["kinds"][0],  # type: ignore[index]
        },
    )
    return response


def test_two_patients_cannot_take_the_same_slot(
    clinic: Clinic, dr_weber: Person, anna: Person, ben: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, anna, practices, practices.city, "video-15")
    assert book(clinic, anna, slot).status_code == 201
    taken = book(clinic, ben, slot)
    assert taken.status_code == 409
    problem = taken.json()
    assert problem["type"].endswith("slot-taken")
    alternatives = [datetime.fromisoformat(a["start"]) for a in problem["alternatives"]]
    assert alternatives and min(alternatives) > datetime.fromisoformat(slot["start"])
    overlapping = tomorrow_at(
        clinic, ben, practices, practices.online, "video-30"
    )  # same hour elsewhere
    assert (
        overlapping["start"] != slot["start"] or book(clinic, ben, overlapping).status_code == 409
    )


def test_a_booked_slot_disappears_from_availability_and_cancelling_frees_it(
    clinic: Clinic, dr_weber: Person, anna: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, anna, practices, practices.city, "video-15")
    booked = book(clinic, anna, slot).json()
    starts = {s["start"] for s in slots(clinic, anna, practices.doctor_id)}
    assert slot["start"] not in starts
    agenda = clinic.client.get(
        f"/v1/doctors/{practices.doctor_id}/agenda",
        headers=dr_weber.headers,
        params={"after": booked["position"]},
    )
    assert [c["id"] for c in agenda.json()] == [booked["id"]]
    cancel = clinic.client.post(
        f"/v1/consultations/{booked['id']}/cancel",
        headers=anna.headers,
        json={"reason": "feeling-better"},
    )
    assert cancel.status_code == 200
    assert slot["start"] in {s["start"] for s in slots(clinic, anna, practices.doctor_id)}
    mine = clinic.client.get(
        f"/v1/patients/{record_of(anna.actor.actor_id)}/consultations",
        headers=anna.headers,
        params={"after": cancel.json()["position"]},
    )
    assert [(c["id"], c["status"]) for c in mine.json()] == [(booked["id"], "cancelled")]
    assert (
        clinic.client.get(
            f"/v1/patients/{record_of(anna.actor.actor_id)}/consultations",
            headers=clinic.person("Eve", Role.PATIENT, None).headers,
        ).status_code
        == 403
    )
    again = clinic.client.post(f"/v1/consultations/{booked['id']}/confirm", headers=anna.headers)
    assert again.status_code == 409 and again.json()["type"].endswith("consultation-closed")


def test_rescheduling_moves_the_booking_atomically(
    clinic: Clinic, dr_weber: Person, anna: Person, ben: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    first = tomorrow_at(clinic, anna, practices, practices.city, "video-15", 0)
    later = tomorrow_at(clinic, anna, practices, practices.city, "video-15", 4)
    booked = book(clinic, anna, first).json()
    moved = clinic.client.post(
        f"/v1/consultations/{booked['id']}/reschedule",
        headers=anna.headers,
        json={"start": later["start"]},
    )
    assert moved.status_code == 200, moved.text
    free = {s["start"] for s in slots(clinic, anna, practices.doctor_id)}
    assert first["start"] in free and later["start"] not in free
    assert book(clinic, ben, later).status_code == 409
    assert book(clinic, ben, first).status_code == 201
    blocked = clinic.client.post(
        f"/v1/consultations/{booked['id']}/reschedule",
        headers=anna.headers,
        json={"start": first["start"]},
    )
    assert blocked.status_code == 409  # neither both nor none: still at the later time
    consultation = clinic.client.get(f"/v1/consultations/{booked['id']}", headers=anna.headers)
    assert consultation.json()["start"].startswith(later["start"][:16])


def test_times_come_in_the_patients_zone_and_outside_hours_is_refused(
    clinic: Clinic, dr_weber: Person, anna: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    in_new_york = slots(clinic, anna, practices.doctor_id, tz="America/New_York")
    assert in_new_york[0]["start"].endswith(("-05:00", "-04:00"))
    assert in_new_york[0]["doctor_time_zone"] == "Europe/Luxembourg"
    night = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=23, minute=0, second=0, microsecond=0
    )
    refused = book(clinic, anna, {**in_new_york[0], "start": night.isoformat()})
    assert refused.status_code == 409 and refused.json()["type"].endswith("slot-not-offered")
    naive = book(clinic, anna, {**in_new_york[0], "start": "2030-01-01T09:00:00"})
    assert naive.status_code == 422


def test_earliest_slots_across_doctors_of_a_specialty(
    clinic: Clinic, dr_weber: Person, anna: Person
) -> None:
    set_up_schedule(clinic, dr_weber)
    other = clinic.person("Dr Roth", Role.DOCTOR, clinic.org_a)
    set_up_schedule(clinic, other, tz="America/New_York")
    position = clinic.services.recorder.max_notification_id()
    found = clinic.client.get(
        "/v1/slots",
        headers=anna.headers,
        params={
            "specialty": "Cardiology",
            "type": "video-30",
            "language": "fr",
            "limit": 10,
            "after": position,
        },
    )
    assert found.status_code == 200, found.text
    starts = [s["start"] for s in found.json()["slots"]]
    assert len(starts) == 10 and starts == sorted(starts)
    assert {s["doctor_id"] for s in found.json()["slots"]} <= {
        str(dr_weber.actor.actor_id),
        str(other.actor.actor_id),
    }


def test_an_urgent_consultation_is_on_the_doctors_agenda_at_once(
    clinic: Clinic, dr_weber: Person, anna: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    urgent = clinic.client.post(
        "/v1/consultations/urgent",
        headers=anna.headers,
        json={
            "patient_id": str(record_of(anna.actor.actor_id)),
            "doctor_id": str(practices.doctor_id),
            "reason": "chest pain since an hour",
        },
    )
    assert urgent.status_code == 201, urgent.text
    agenda = clinic.client.get(
        f"/v1/doctors/{practices.doctor_id}/agenda",
        headers=dr_weber.headers,
        params={"after": urgent.json()["position"]},
    ).json()
    assert [(c["urgent"], c["status"]) for c in agenda] == [(True, "booked")]
    assert "chest" not in str(agenda)  # the reason is the patient's, encrypted, not listed
    no_reason = clinic.client.post(
        "/v1/consultations/urgent",
        headers=anna.headers,
        json={
            "patient_id": str(record_of(anna.actor.actor_id)),
            "doctor_id": str(practices.doctor_id),
            "reason": "  ",
        },
    )
    assert no_reason.status_code == 422


def test_a_schedule_change_flags_bookings_that_no_longer_fit(
    clinic: Clinic, dr_weber: Person, anna: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, anna, practices, practices.city, "visit-30")
    booked = book(clinic, anna, slot).json()
    clinic.services.worker.tick()
    day = datetime.fromisoformat(slot["start"]).astimezone(ZoneInfo("Europe/Luxembourg")).date()
    changed = clinic.client.put(
        f"/v1/doctors/{practices.doctor_id}/practices/{practices.city}/dates/{day}",
        headers=dr_weber.headers,
        json={"spans": []},
    )
    assert changed.status_code == 200
    flagged = clinic.client.get(
        f"/v1/doctors/{practices.doctor_id}/agenda",
        headers=dr_weber.headers,
        params={"flagged": True, "after": changed.json()["position"]},
    )
    assert [(c["id"], c["flagged"]) for c in flagged.json()] == [
        (booked["id"], "outside-the-schedule")
    ]
    consultation = clinic.client.get(f"/v1/consultations/{booked['id']}", headers=anna.headers)
    assert consultation.json()["status"] == "booked"  # kept, not silently dropped


def test_patients_book_only_for_themselves_and_doctors_manage_only_their_schedule(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person, anna: Person, ben: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, anna, practices, practices.city, "video-15")
    assert book(clinic, anna, slot, patient=ben).status_code == 403
    clinic.register(ben, given_name="Ben")
    nurse = clinic.person("Nurse Ada", Role.NURSE, clinic.org_a)
    # Ben registered himself and has no tie to the practice: its staff cannot book for him
    assert book(clinic, nurse, slot, patient=ben).status_code == 403
    theirs = clinic.register(nurse, given_name="Carla")["id"]  # a patient of the practice
    booked = clinic.client.post(
        "/v1/consultations",
        headers=nurse.headers,
        json={
            "patient_id": theirs,
            "doctor_id": str(slot["doctor_id"]),
            "practice_id": str(slot["practice_id"]),
            "type_code": slot["type_code"],
            "start": slot["start"],
            "kind": "video",
        },
    )
    assert booked.status_code == 201, booked.text
    shown = clinic.client.get(f"/v1/consultations/{booked.json()['id']}", headers=nurse.headers)
    assert shown.json()["patient_id"] == theirs
    # nor can booking be used to reach another organisation's patient (it would tie them)
    foreign = clinic.register(dr_other_clinic, given_name="Dora")["id"]
    later = tomorrow_at(clinic, nurse, practices, practices.city, "video-15", 2)
    reach = clinic.client.post(
        "/v1/consultations",
        headers=nurse.headers,
        json={
            "patient_id": foreign,
            "doctor_id": str(later["doctor_id"]),
            "practice_id": str(later["practice_id"]),
            "type_code": later["type_code"],
            "start": later["start"],
            "kind": "video",
        },
    )
    assert reach.status_code == 403
    assert clinic.client.get(f"/v1/patients/{foreign}", headers=nurse.headers).status_code == 403
    meddling = clinic.client.put(
        f"/v1/doctors/{practices.doctor_id}/practices/{practices.city}/weekly-hours/0",
        headers=dr_other_clinic.headers,
        json={"spans": ["10:00-11:00"]},
    )
    assert meddling.status_code == 403


def test_fifty_concurrent_bookings_of_overlapping_times_across_two_practices_one_wins(
    postgres_only: str, clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    city = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 0)
    city_2 = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 1)
    online = tomorrow_at(clinic, dr_weber, practices, practices.online, "video-30", 0)
    assert city["start"] == online["start"]  # 08:00-08:15 and 08:00-08:30 overlap
    contenders = [city, city_2, online]
    patients = [clinic.person(f"P{i}", Role.PATIENT, None) for i in range(50)]

    def attempt(i: int) -> int:
        return book(clinic, patients[i], contenders[i % 3]).status_code

    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(pool.map(attempt, range(50)))
    # city_2 (08:15-08:30) overlaps online (08:00-08:30) but not city (08:00-08:15): either
    # online wins alone, or city and city_2 both win; never an overlap.
    wins = [contenders[i % 3] for i, s in enumerate(statuses) if s == 201]
    assert set(statuses) <= {201, 409}
    assert wins and (
        wins == [online]
        or sorted(w["start"] for w in wins) == sorted([city["start"], city_2["start"]])
    )
    starts = [w["start"] for w in wins]
    assert len(starts) == len(set(starts))


def test_exactly_one_of_fifty_concurrent_bookings_of_one_time_wins(
    postgres_only: str, clinic: Clinic, dr_weber: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    city = tomorrow_at(clinic, dr_weber, practices, practices.city, "visit-30", 2)
    online = tomorrow_at(clinic, dr_weber, practices, practices.online, "video-30", 2)
    assert city["start"] == online["start"]
    patients = [clinic.person(f"P{i}", Role.PATIENT, None) for i in range(50)]
    with ThreadPoolExecutor(max_workers=25) as pool:
        statuses = list(
            pool.map(
                lambda i: book(clinic, patients[i], (city, online)[i % 2]).status_code, range(50)
            )
        )
    assert statuses.count(201) == 1 and statuses.count(409) == 49


MONDAY_NINE = datetime(2030, 1, 7, 9, tzinfo=UTC)


def a_consultation(actor: Actor) -> Consultation:
    return Consultation.book(
        patient_id=actor.actor_id,
        doctor_id=uuid4(),
        practice_id=uuid4(),
        organisation_id=uuid4(),
        type_code="video-15",
        kind=Kind.VIDEO,
        slot=Interval(MONDAY_NINE, MONDAY_NINE + timedelta(minutes=15)),
        by=actor,
    )


def test_a_no_show_is_recorded_after_the_start_and_closes_the_consultation() -> None:
    assistant = Actor(uuid4(), Role.ASSISTANT, uuid4())
    consultation = a_consultation(assistant)
    with pytest.raises(InvalidValue):
        consultation.record_no_show(MONDAY_NINE - timedelta(minutes=1), by=assistant)
    consultation.record_no_show(MONDAY_NINE + timedelta(minutes=10), by=assistant)
    assert consultation.status.value == "no-show"
    with pytest.raises(ConsultationClosed):
        consultation.cancel("patient-request", by=assistant)


def test_a_cancellation_reason_is_a_code_not_free_text() -> None:
    patient = Actor(uuid4(), Role.PATIENT, None)
    consultation = a_consultation(patient)
    with pytest.raises(InvalidValue):
        consultation.cancel("My husband Jean is sick", by=patient)
    consultation.cancel("Family-Emergency", by=patient)
    assert consultation.status.value == "cancelled"
