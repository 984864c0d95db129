"""An organisation is read from its view, which says what its events say, rebuilt or live."""

from __future__ import annotations

from adapters.composition import Services
from domain.organisation import Organisation
from tests.conftest import Clinic, Person


def test_an_organisation_reads_from_its_view_as_its_events_tell_it(
    clinic: Clinic, services: Services, admin_a: Person
) -> None:
    base = f"/v1/organisations/{clinic.org_a}"
    client, headers = clinic.client, admin_a.headers
    assert client.put(base, headers=headers, json={"name": "Clinique du Parc"}).status_code == 200
    assert client.get(f"/v1/organisations/{clinic.org_b}", headers=headers).status_code == 403
    client.put(f"{base}/settings", headers=headers, json={"settings": {"locale": "fr-LU"}})
    for code in ("video-15", "video-30"):
        client.put(
            f"{base}/booking-templates/{code}",
            headers=headers,
            json={"room": "p2p", "waiting_room": False, "recording": "off"},
        )
    client.delete(f"{base}/booking-templates/video-15", headers=headers)

    shown = client.get(base, headers=headers).json()
    o = services.bus_uow().get(Organisation, clinic.org_a)
    assert shown == {
        "id": str(o.id),
        "name": o.name,
        "parent_id": None,
        "settings": o.settings,
        "booking_templates": o.templates,
        "version": o.version,
    }
    assert list(shown["booking_templates"]) == ["video-30"]

    runner = services.runners["organisation_view"]
    runner.reset()
    runner.run_until_caught_up()
    assert client.get(base, headers=headers).json() == shown
