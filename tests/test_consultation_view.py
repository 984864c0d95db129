"""A consultation is read from its view, which says what its events say, rebuilt or live."""

from __future__ import annotations

import uuid
from datetime import datetime

from adapters.composition import Services
from domain.consultation import Consultation
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at


def test_a_consultation_reads_from_its_view_as_its_events_tell_it(
    clinic: Clinic, services: Services, dr_weber: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    booked = book_video(clinic, dr_weber, practices, slot, clinic.register(dr_weber)["id"]).json()
    address = f"/v1/consultations/{booked['id']}"
    confirmed = clinic.client.post(f"{address}/confirm", headers=dr_weber.headers)
    assert confirmed.status_code == 200, confirmed.text

    shown = clinic.client.get(address, headers=dr_weber.headers).json()
    c = services.bus_uow().get(Consultation, uuid.UUID(booked["id"]))
    assert shown == {
        "id": str(c.id),
        "version": c.version,
        "doctor_id": str(c.doctor_id),
        "patient_id": str(c.patient_id),
        "practice_id": str(c.practice_id),
        "organisation_id": str(c.organisation_id),
        "type_code": c.type_code,
        "kind": c.kind.value,
        "start": shown["start"],  # compared as instants below
        "end": shown["end"],
        "status": "confirmed",
        "urgent": False,
        "flagged": None,
        "booked_by_role": "doctor",
        "options": {},
        "checked_in_at": None,
        "admitted_at": None,
        "ended_at": None,
        "taken": True,
        "escalated": False,
        "answer_by": None,
        "asynchronous": False,
        "rated": False,
    }
    start, end = (datetime.fromisoformat(shown[k]) for k in ("start", "end"))
    assert (start, end) == (c.slot.start, c.slot.end)

    runner = services.runners["consultation_view"]
    runner.reset()
    runner.run_until_caught_up()
    assert clinic.client.get(address, headers=dr_weber.headers).json() == shown
