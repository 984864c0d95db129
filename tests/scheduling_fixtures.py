"""A clinic with Dr Weber's schedule at two practices, set up through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Clinic, Person


@dataclass
class Practices:
    doctor_id: uuid.UUID
    city: uuid.UUID  # video-15 and visit-30, mornings
    online: uuid.UUID  # video-30, same mornings: overlapping hours, one doctor


def set_up_schedule(
    clinic: Clinic,
    doctor: Person,
    tz: str = "Europe/Luxembourg",
    spans: tuple[str, ...] = ("08:00-12:00", "13:00-17:00"),
) -> Practices:
    client, headers = clinic.client, doctor.headers
    doctor_id = doctor.actor.actor_id
    base = f"/v1/doctors/{doctor_id}"
    ok = client.put(
        f"{base}/schedule",
        headers=headers,
        json={"time_zone": tz, "specialty": "cardiology", "languages": ["fr", "en"]},
    )
    assert ok.status_code == 200, ok.text
    city, online = uuid.uuid4(), uuid.uuid4()
    organisation = doctor.actor.organisation_id or clinic.org_a
    for practice in (city, online):
        r = client.post(
            f"{base}/practices",
            headers=headers,
            json={"practice_id": str(practice), "organisation_id": str(organisation)},
        )
        assert r.status_code == 200, r.text
    for practice, code, minutes, kinds in (
        (city, "video-15", 15, ["video"]),
        (city, "visit-30", 30, ["in-person"]),
        (online, "video-30", 30, ["video"]),
    ):
        r = client.put(
            f"{base}/practices/{practice}/consultation-types/{code}",
            headers=headers,
            json={"duration_minutes": minutes, "kinds": kinds},
        )
        assert r.status_code == 200, r.text
    for weekday in range(7):
        for practice in (city, online):
            r = client.put(
                f"{base}/practices/{practice}/weekly-hours/{weekday}",
                headers=headers,
                json={"spans": list(spans)},
            )
            assert r.status_code == 200, r.text
    return Practices(doctor_id, city, online)


def slots(
    clinic: Clinic, person: Person, doctor_id: uuid.UUID, **params: Any
) -> list[dict[str, Any]]:
    position = clinic.services.recorder.max_notification_id() or 0
    response = clinic.client.get(
        f"/v1/doctors/{doctor_id}/slots",
        headers=person.headers,
        params={"after": position, **params},
    )
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["slots"]
    return result


def tomorrow_at(
    clinic: Clinic,
    who: Person,
    practices: Practices,
    practice: uuid.UUID,
    type_code: str,
    index: int = 0,
) -> dict[str, Any]:
    """The ``index``-th free slot of that type from tomorrow 00:00 UTC on."""
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    free = slots(
        clinic,
        who,
        practices.doctor_id,
        type=type_code,
        practice_id=str(practice),
        **{"from": start.isoformat()},
    )
    return free[index]


def book_video(
    clinic: Clinic, who: Person, practices: Practices, slot: dict[str, Any], patient_id: object
) -> httpx.Response:
    """Book a ``video-15`` slot of the doctor's city practice for ``patient_id``, as ``who``."""
    response: httpx.Response = clinic.client.post(
        "/v1/consultations",
        headers=who.headers,
        json={
            "patient_id": str(patient_id),
            "doctor_id": str(practices.doctor_id),
            "practice_id": str(practices.city),
            "type_code": "video-15",
            "start": slot["start"],
            "kind": "video",
        },
    )
    return response
