"""The patient record as the domain sees it: registration, contact details, consents, erasure."""

from __future__ import annotations

import inspect
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

import domain.patient as patient_module
from domain.actor import Actor, Role
from domain.errors import ConsentNotGiven, InvalidValue, PatientErased
from domain.patient import ConsentPurpose, ErasureReason, Patient
from domain.personal import RecordedEvent

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())


def register(**fields: object) -> Patient:
    values: dict[str, Any] = {"given_name": "Anna", "family_name": "Muster", **fields}
    return Patient.register(by=DR, **values)


def test_a_doctor_registers_a_patient_with_a_normalised_email() -> None:
    patient = register(email="  Anna.Muster@Example.LU ")
    assert patient.email == "anna.muster@example.lu"
    assert not patient.self_registered
    assert patient.version == 1


def test_a_registration_needs_both_names_and_a_plausible_birth_date() -> None:
    with pytest.raises(InvalidValue):
        register(given_name=" ")
    with pytest.raises(InvalidValue):
        register(birth_date=date.today() + timedelta(days=1))
    with pytest.raises(InvalidValue):
        register(email="not-an-email")


def test_consent_is_recorded_once_and_can_be_withdrawn_only_when_given() -> None:
    patient = register()
    patient.record_consent(ConsentPurpose.RECORDING, by=DR)
    patient.record_consent(ConsentPurpose.RECORDING, by=DR)
    assert [type(e).__name__ for e in patient.collect_events()] == ["Registered", "ConsentRecorded"]
    patient.withdraw_consent(ConsentPurpose.RECORDING, by=DR)
    with pytest.raises(ConsentNotGiven):
        patient.withdraw_consent(ConsentPurpose.RECORDING, by=DR)


def test_an_erased_record_takes_no_more_changes() -> None:
    patient = register()
    patient.erase(ErasureReason.SUBJECT_REQUEST, by=DR)
    with pytest.raises(PatientErased):
        patient.change_contact_details(email=None, phone="1234", address=None, by=DR)
    with pytest.raises(PatientErased):
        patient.erase(ErasureReason.SUBJECT_REQUEST, by=DR)


def test_every_event_says_who_caused_it() -> None:
    patient = register()
    patient.change_contact_details(
        email="a@b.lu", phone=None, address=None, by=DR.acting_for(patient.id)
    )
    patient.record_consent(ConsentPurpose.TREATMENT, by=DR)
    patient.erase(ErasureReason.SUBJECT_REQUEST, by=DR)
    events = patient.collect_events()
    assert all(e.by.actor_id == DR.actor_id for e in events)  # type: ignore[attr-defined]
    assert events[1].by.on_behalf_of == patient.id  # type: ignore[attr-defined]
    event_classes = [
        cls
        for _, owner in inspect.getmembers(patient_module, inspect.isclass)
        for _, cls in inspect.getmembers(owner, inspect.isclass)
        if isinstance(cls, type)
        and issubclass(cls, Patient.Event)
        and cls.__name__ not in ("Event", "Created")  # the library's abstract bases
    ]
    assert event_classes
    assert all(issubclass(cls, RecordedEvent) for cls in event_classes)
