"""Organisations: a tree administered from above, and booking templates that preset what gets
booked (B9)."""

from __future__ import annotations

import uuid

import orjson

from adapters.composition import Services
from domain.actor import Role
from domain.consultation import Consultation
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at


def test_an_admin_founds_the_organisation_and_a_sub_organisation_others_cannot(
    clinic: Clinic, admin_a: Person
) -> None:
    root = clinic.client.put(
        f"/v1/organisations/{clinic.org_a}",
        headers=admin_a.headers,
        json={"name": "Clinique du Parc"},
    )
    assert root.status_code == 200
    ward = uuid.uuid4()
    sub = clinic.client.put(
        f"/v1/organisations/{ward}",
        headers=admin_a.headers,
        json={"name": "Paediatrics", "parent_id": str(clinic.org_a)},
    )
    assert sub.status_code == 200
    settings = clinic.client.put(
        f"/v1/organisations/{ward}/settings",
        headers=admin_a.headers,
        json={"settings": {"locale": "fr-LU"}},
    )
    assert settings.status_code == 200  # administered from the organisation above
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    for path, body in (
        (f"/v1/organisations/{ward}/settings", {"settings": {"x": "y"}}),
        (f"/v1/organisations/{uuid.uuid4()}", {"name": "Rogue", "parent_id": str(clinic.org_a)}),
    ):
        assert clinic.client.put(path, headers=admin_b.headers, json=body).status_code == 403
    ward_admin = clinic.person("Ward admin", Role.ORG_ADMIN, ward)
    up = clinic.client.put(
        f"/v1/organisations/{clinic.org_a}/settings",
        headers=ward_admin.headers,
        json={"settings": {"x": "y"}},
    )
    assert up.status_code == 403  # a sub-organisation does not administer its parent
    shown = clinic.client.get(f"/v1/organisations/{ward}", headers=admin_a.headers).json()
    assert (shown["name"], shown["parent_id"], shown["settings"]) == (
        "Paediatrics",
        str(clinic.org_a),
        {"locale": "fr-LU"},
    )


def test_a_booking_template_presets_what_gets_booked(
    clinic: Clinic, admin_a: Person, dr_weber: Person
) -> None:
    clinic.client.put(
        f"/v1/organisations/{clinic.org_a}",
        headers=admin_a.headers,
        json={"name": "Clinique du Parc"},
    )
    template = clinic.client.put(
        f"/v1/organisations/{clinic.org_a}/booking-templates/video-15",
        headers=admin_a.headers,
        json={"room": "sfu", "waiting_room": True, "recording": "with-consent"},
    )
    assert template.status_code == 200, template.text
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    booked = book_video(clinic, dr_weber, practices, slot, clinic.register(dr_weber)["id"]).json()
    shown = clinic.client.get(f"/v1/consultations/{booked['id']}", headers=dr_weber.headers)
    assert shown.json()["options"] == {
        "room": "sfu",
        "waiting_room": True,
        "recording": "with-consent",
        "duration_minutes": None,
    }
    bad = clinic.client.put(
        f"/v1/organisations/{clinic.org_a}/booking-templates/video-15",
        headers=admin_a.headers,
        json={"room": "zoom"},
    )
    assert bad.status_code == 422


def test_a_booking_recorded_before_templates_existed_reads_back_upcast(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    booked = book_video(clinic, dr_weber, practices, slot, clinic.register(dr_weber)["id"]).json()
    consultation_id = uuid.UUID(booked["id"])
    with services.db.transaction() as cur:  # turn the stored event into a version 1 event
        cur.execute(
            "SELECT state FROM stored_events WHERE originator_id = %s AND originator_version = 1",
            (consultation_id,),
        )
        state = orjson.loads(bytes(cur.fetchone()[0]))
        state.pop("options"), state.pop("class_version")
        cur.execute(
            "UPDATE stored_events SET state = %s WHERE originator_id = %s "
            "AND originator_version = 1",
            (orjson.dumps(state), consultation_id),
        )
    services.app.repository.cache.clear()  # type: ignore[union-attr]
    first = next(iter(services.app.events.get(consultation_id)))
    assert isinstance(first, Consultation.Booked) and first.options == {}
    assert services.bus_uow().get(Consultation, consultation_id).options == {}
