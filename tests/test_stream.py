"""The analysts' event stream: schemas, pseudonymity, order per record, outages, one relay."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.composition import Services
from adapters.stream.contract import Pseudonyms, schema_files, validate, validator
from adapters.stream.relay import KafkaRelay
from commands.patients import (
    ChangeContactDetails,
    ErasePatient,
    RecordConsent,
    RegisterPatient,
    WithdrawConsent,
)
from domain.actor import Actor, Role
from domain.patient import ConsentPurpose
from projections.stream_contract import (
    CONSULTATIONS_TOPIC,
    PATIENTS_TOPIC,
    TRANSLATIONS,
    event_id,
    translate,
)
from tests.conftest import Clinic, Person
from tests.kafka import Broker, Message, read_all
from tests.test_privacy import CANARY, NEEDLES

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())


def make_relay(services: Services, bootstrap: str, prefix: str) -> KafkaRelay:
    return KafkaRelay(
        services.db,
        services.recorder,
        services.app.mapper,
        services.pseudonyms,
        bootstrap,
        partitions=3,
        topic_prefix=prefix,
        validate_messages=True,  # the producing side checks every message against its schema
        batch_size=500,
    )


@pytest.fixture
def relay(services: Services, kafka_bootstrap: str, topic_prefix: str) -> Iterator[KafkaRelay]:
    publisher = make_relay(services, kafka_bootstrap, topic_prefix)
    yield publisher
    publisher.close()


def a_patients_life(services: Services) -> uuid.UUID:
    saved = services.bus.handle(
        RegisterPatient(DR, "Anna", "Muster", email="a@x.lu", birth_date=date(1984, 5, 1))
    )
    pid = saved.aggregate_id
    services.bus.handle(ChangeContactDetails(DR, pid, "b@x.lu", "+352 1", None))
    services.bus.handle(RecordConsent(DR, pid, ConsentPurpose.RESEARCH))
    services.bus.handle(WithdrawConsent(DR, pid, ConsentPurpose.RESEARCH))
    services.bus.handle(ErasePatient(DR, pid))
    return pid


def publish_all(relay: KafkaRelay, services: Services, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while relay.position() < (services.recorder.max_notification_id() or 0):
        relay.publish_once()
        assert time.monotonic() < deadline, "the relay did not catch up"


def assert_valid(messages: list[Message]) -> None:
    """The consuming side checks every message against the published schema."""
    for m in messages:
        assert m.headers["event_type"] == m.body["event_type"]
        assert m.headers["event_id"] == m.body["event_id"]
        validate(m.headers["event_type"], int(m.headers["schema_version"]), m.body)
        assert m.key == m.body["subject"]


def test_every_published_event_type_has_a_valid_schema_and_vice_versa() -> None:
    files = schema_files()
    assert files == sorted(
        f"{t}.v1.json"
        for t in (
            "patient.registered",
            "patient.contact-details-changed",
            "patient.consent-recorded",
            "patient.consent-withdrawn",
            "patient.erased",
            "consultation.booked",
            "consultation.confirmed",
            "consultation.cancelled",
            "consultation.rescheduled",
            "consultation.no-show",
            "consultation.flagged",
            "consultation.checked-in",
            "consultation.taken",
            "consultation.escalated",
            "consultation.admitted",
            "consultation.completed",
            "consultation.answered",
            "consultation.closed",
            "consultation.reopened",
            "consultation.rated",
        )
    )
    for name in files:
        event_type, version = name.removesuffix(".json").rsplit(".v", 1)
        assert validator(event_type, int(version)) is not None  # checks the schema itself
    assert len(TRANSLATIONS) == len(files)


def test_the_producing_side_matches_the_schemas_even_after_erasure(services: Services) -> None:
    pid = a_patients_life(services)
    events = list(services.app.events.get(pid))
    translated = [translate(e, services.pseudonyms) for e in events]
    assert all(t is not None for t in translated)
    for t in translated:
        assert t is not None
        validate(t.event_type, t.schema_version, t.body)
    registered = translated[0]
    assert registered is not None and registered.body["data"]["age_band"] is None  # erased


def test_a_patients_history_arrives_in_order_under_one_pseudonymous_key(
    services: Services, relay: KafkaRelay, kafka_bootstrap: str, topic_prefix: str
) -> None:
    pid = a_patients_life(services)
    other = services.bus.handle(RegisterPatient(DR, "Ben", "Other")).aggregate_id
    publish_all(relay, services)
    messages = read_all(kafka_bootstrap, topic_prefix + PATIENTS_TOPIC, expect=6)
    assert_valid(messages)
    mine = [m for m in messages if m.key == services.pseudonyms("patient", pid)]
    assert [m.body["event_type"] for m in mine] == [
        "patient.registered",
        "patient.contact-details-changed",
        "patient.consent-recorded",
        "patient.consent-withdrawn",
        "patient.erased",
    ]
    assert [m.body["sequence"] for m in mine] == [1, 2, 3, 4, 5]
    assert len({m.partition for m in mine}) == 1
    assert [m.headers["event_id"] for m in mine] == [str(event_id(pid, v)) for v in range(1, 6)]
    assert str(pid) not in str([m.body for m in messages])
    assert str(other) not in str([m.body for m in messages])
    assert str(DR.actor_id) not in str([m.body for m in messages])


def test_canary_personal_data_never_reaches_the_stream(
    clinic: Clinic,
    dr_weber: Person,
    services: Services,
    relay: KafkaRelay,
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    created = clinic.register(dr_weber, birth_date="1980-02-29", **CANARY)
    clinic.client.patch(
        f"/v1/patients/{created['id']}/contact-details",
        headers=dr_weber.headers,
        json={"email": "zephyrinaqx.new@example.org", "phone": CANARY["phone"]},
    )
    clinic.client.post(
        f"/v1/patients/{created['id']}/consents",
        headers=dr_weber.headers,
        json={"purpose": "treatment"},
    )
    publish_all(relay, services)
    messages = read_all(kafka_bootstrap, topic_prefix + PATIENTS_TOPIC, expect=3)
    assert len(messages) == 3
    assert_valid(messages)
    everything = b"".join(m.raw for m in messages).lower()
    for needle in [*NEEDLES, created["id"], str(dr_weber.actor.actor_id)]:
        assert needle.lower().encode() not in everything, needle


def test_only_one_relay_publishes_at_a_time(
    services: Services, relay: KafkaRelay, kafka_bootstrap: str, topic_prefix: str
) -> None:
    services.bus.handle(RegisterPatient(DR, "Anna", "One"))
    second = make_relay(services, kafka_bootstrap, topic_prefix)
    try:
        assert relay.publish_once() == 1
        services.bus.handle(RegisterPatient(DR, "Ben", "Two"))
        assert second.publish_once() == 0  # the first one holds the lease
        assert relay.publish_once() == 1
        relay.close()  # lets go of the lease: the standby takes over
        services.bus.handle(RegisterPatient(DR, "Cleo", "Three"))
        assert second.publish_once() == 1
    finally:
        second.close()
    messages = read_all(kafka_bootstrap, topic_prefix + PATIENTS_TOPIC, expect=3)
    assert sorted(m.body["sequence"] for m in messages) == [1, 1, 1] and len(messages) == 3


def test_a_broker_outage_loses_nothing(services: Services, topic_prefix: str) -> None:
    broker = Broker()
    bootstrap = broker.start()
    relay = make_relay(services, bootstrap, topic_prefix)
    worker = relay.start()
    topic = topic_prefix + PATIENTS_TOPIC
    try:
        patients = [
            services.bus.handle(RegisterPatient(DR, "Anna", f"P{i}")).aggregate_id
            for i in range(10)
        ]
        before = read_all(bootstrap, topic, expect=10)
        assert len(before) == 10

        broker.stop()  # mid-stream: commands keep working, the relay keeps its position
        for i, pid in enumerate(patients):
            services.bus.handle(ChangeContactDetails(DR, pid, None, f"+352 {i}", None))
            services.bus.handle(RecordConsent(DR, pid, ConsentPurpose.TREATMENT))
        time.sleep(1.0)
        assert relay.position() == 10

        broker.start()  # same port, empty memory: the relay recreates the topic and resumes
        deadline = time.monotonic() + 60
        while relay.position() < 30:
            assert time.monotonic() < deadline, f"relay stuck at {relay.position()}"
            time.sleep(0.2)
        after = read_all(bootstrap, topic, expect=20)
    finally:
        relay.close()
        worker.join(timeout=10)
        broker.stop()

    received: dict[str, Message] = {}
    for m in before + after:  # at least once: keep the first copy of each event id
        received.setdefault(m.headers["event_id"], m)
    expected = {str(event_id(pid, v)) for pid in patients for v in (1, 2, 3)}
    assert set(received) == expected
    assert_valid(list(received.values()))
    for pid in patients:
        key = services.pseudonyms("patient", pid)
        sequence = [m.body["sequence"] for m in before + after if m.key == key]
        assert sequence == sorted(sequence) and sorted(set(sequence)) == [1, 2, 3]


def test_analysts_read_counts_never_people(
    clinic: Clinic,
    dr_weber: Person,
    analyst: Person,
    admin_a: Person,
    services: Services,
) -> None:
    for i in range(3):
        clinic.register(dr_weber, family_name=f"Count{i}")
    created = clinic.register(dr_weber, family_name="Consenting")
    consent = clinic.client.post(
        f"/v1/patients/{created['id']}/consents",
        headers=dr_weber.headers,
        json={"purpose": "research"},
    )
    position = consent.json()["position"]
    response = clinic.client.get(
        "/v1/analytics/registrations",
        headers=analyst.headers,
        params={"after": position, "granularity": "month"},
    )
    assert response.status_code == 200, response.text
    counts = response.json()["counts"]
    assert counts == [
        {
            "period": date.today().replace(day=1).isoformat(),
            "organisation_id": str(clinic.org_a),
            "dimension": "doctor",
            "count": 4,
        }
    ]
    consents = clinic.client.get(
        "/v1/analytics/consents-given", headers=admin_a.headers, params={"after": position}
    ).json()["counts"]
    assert [(c["dimension"], c["count"]) for c in consents] == [("research", 1)]
    other_org = clinic.client.get(
        "/v1/analytics/registrations",
        headers=admin_a.headers,
        params={"organisation_id": str(uuid.uuid4())},
    )
    assert other_org.status_code == 403
    assert (
        clinic.client.get("/v1/analytics/registrations", headers=dr_weber.headers).status_code
        == 403
    )
    assert "Count" not in response.text and created["id"] not in response.text


def test_the_relay_keeps_up_in_the_background(
    services: Services, relay: KafkaRelay, kafka_bootstrap: str, topic_prefix: str
) -> None:
    worker = threading.Thread(target=relay.run_forever, daemon=True)
    worker.start()
    try:
        for i in range(5):
            services.bus.handle(RegisterPatient(DR, "Anna", f"Live{i}"))
        messages = read_all(kafka_bootstrap, topic_prefix + PATIENTS_TOPIC, expect=5)
        assert len(messages) == 5
    finally:
        relay.stop()
        worker.join(timeout=10)


def test_a_consultations_life_is_on_its_own_topic_and_counted_for_analysts(
    clinic: Clinic,
    dr_weber: Person,
    analyst: Person,
    services: Services,
    relay: KafkaRelay,
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at

    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    later = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 3)
    patient = clinic.register(dr_weber)["id"]
    booked = book_video(clinic, dr_weber, practices, slot, patient).json()
    base = f"/v1/consultations/{booked['id']}"
    clinic.client.post(f"{base}/confirm", headers=dr_weber.headers)
    clinic.client.post(
        f"{base}/reschedule", headers=dr_weber.headers, json={"start": later["start"]}
    )
    done = clinic.client.post(
        f"{base}/cancel", headers=dr_weber.headers, json={"reason": "doctor-ill"}
    )
    assert done.status_code == 200
    publish_all(relay, services)
    messages = read_all(kafka_bootstrap, topic_prefix + CONSULTATIONS_TOPIC, expect=4)
    assert_valid(messages)
    assert [m.body["event_type"] for m in messages] == [
        "consultation.booked",
        "consultation.confirmed",
        "consultation.rescheduled",
        "consultation.cancelled",
    ]
    assert messages[0].body["data"]["patient"] == services.pseudonyms("patient", patient)
    assert str(patient) not in str([m.body for m in messages])
    assert messages[0].body["data"]["lead_minutes"] > 0

    report = clinic.client.get(
        "/v1/analytics/consultations",
        headers=analyst.headers,
        params={"after": done.json()["position"]},
    )
    assert report.status_code == 200, report.text
    [figures] = report.json()["figures"]
    assert (
        figures["specialty"],
        figures["type_code"],
        figures["bookings"],
        figures["reschedules"],
        figures["cancellations"],
        figures["no_shows"],
    ) == ("cardiology", "video-15", 1, 1, 1, 0)
    # cancelled before its start: not in any cohort of appointments due, so no rate
    assert figures["due"] == 0 and figures["no_show_rate"] is None
    assert figures["average_lead_minutes"] > 0


RATING_COMMENT = "Zephyrina canary: the doctor mocked my rash"
LIFECYCLE_TYPES = [
    "consultation.checked-in",
    "consultation.taken",
    "consultation.escalated",
    "consultation.admitted",
    "consultation.completed",
    "consultation.answered",
    "consultation.closed",
    "consultation.reopened",
    "consultation.rated",
]


def test_every_step_of_a_consultations_life_matches_its_schema() -> None:
    """Each lifecycle event, translated: valid against its schema, the score without the
    comment, the escalation's reason a code (free text would become 'other')."""
    from domain.consultation import Consultation

    pseudonyms = Pseudonyms(b"stream test key".ljust(32, b"."))
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    patient, doctor, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    urgent = Consultation.book_urgent(
        patient_id=patient,
        doctor_id=doctor,
        organisation_id=DR.organisation_id,
        reason="chest pain",
        now=now,
        minutes=20,
        by=DR,
    )
    urgent.escalate("offer-lapsed", now + timedelta(minutes=6), by=DR)
    urgent.take(other, now + timedelta(minutes=7), by=DR)
    urgent.check_in(now + timedelta(minutes=8), by=DR.acting_for(patient))
    urgent.admit(now + timedelta(minutes=9), by=DR)
    urgent.complete(now + timedelta(minutes=19), by=DR)
    urgent.rate(9, RATING_COMMENT, by=DR.acting_for(patient))
    question = Consultation.ask(
        patient_id=patient,
        doctor_id=doctor,
        organisation_id=uuid.uuid4(),
        type_code="general",
        question="Is it serious?",
        now=now,
        by=DR.acting_for(patient),
    )
    question.escalate("Nobody answered, Dr Weber was away", now + timedelta(days=2), by=DR)
    question.take(other, now + timedelta(days=2, hours=1), by=DR)
    question.answer(other, now + timedelta(days=2, hours=2), by=DR)
    question.close(now + timedelta(days=3), by=DR)
    question.reopen(now + timedelta(days=4), by=DR.acting_for(patient))
    events = [*urgent.collect_events(), *question.collect_events()]
    translated = [t for e in events if (t := translate(e, pseudonyms)) is not None]
    assert len(translated) == len(events)  # every step is published
    assert set(LIFECYCLE_TYPES) <= {t.event_type for t in translated}
    for t in translated:
        validate(t.event_type, t.schema_version, t.body)
    rated = next(t for t in translated if t.event_type == "consultation.rated")
    assert rated.body["data"] == {"score": 9}
    whys = [t.body["data"]["why"] for t in translated if t.event_type == "consultation.escalated"]
    assert whys == ["offer-lapsed", "other"]
    taken = next(t for t in translated if t.event_type == "consultation.taken")
    assert taken.body["data"]["doctor"] == pseudonyms("doctor", other)
    everything = str([t.body for t in translated])
    for needle in ("Zephyrina", "Weber", "serious", "chest", str(patient), str(other)):
        assert needle not in everything, needle


def test_a_consultations_whole_life_reaches_the_stream_without_the_comment(
    clinic: Clinic,
    dr_weber: Person,
    services: Services,
    relay: KafkaRelay,
    kafka_bootstrap: str,
    topic_prefix: str,
) -> None:
    from commands.booking import BookUrgent
    from commands.consultations import (
        AdmitPatient,
        AnswerQuestion,
        AskQuestion,
        CheckIn,
        CloseConsultation,
        CompleteConsultation,
        RateConsultation,
        ReopenConsultation,
        TakeConsultation,
    )
    from tests.scheduling_fixtures import set_up_schedule

    set_up_schedule(clinic, dr_weber)
    dr = dr_weber.actor
    patient = uuid.UUID(clinic.register(dr_weber)["id"])
    for_patient = Actor(patient, Role.PATIENT)
    bus = services.bus
    urgent = bus.handle(BookUrgent(dr, patient, dr.actor_id, "chest pain")).aggregate_id
    for step in (
        TakeConsultation(dr, urgent),
        CheckIn(for_patient, urgent),
        AdmitPatient(dr, urgent),
        CompleteConsultation(dr, urgent),
        RateConsultation(for_patient, urgent, 10, RATING_COMMENT),
    ):
        bus.handle(step)
    asked = AskQuestion(for_patient, patient, dr.actor_id, clinic.org_a, "general", "Serious?")
    question = bus.handle(asked).aggregate_id
    for later in (
        TakeConsultation(dr, question),
        AnswerQuestion(dr, question),
        CloseConsultation(for_patient, question),
        ReopenConsultation(for_patient, question),
        AnswerQuestion(dr, question),
        CloseConsultation(dr, question),
        RateConsultation(for_patient, question, 3, RATING_COMMENT),
    ):
        bus.handle(later)
    publish_all(relay, services)
    messages = read_all(kafka_bootstrap, topic_prefix + CONSULTATIONS_TOPIC, expect=14)
    assert_valid(messages)
    by_key: dict[str, list[str]] = {}
    for m in messages:
        by_key.setdefault(m.key, []).append(m.body["event_type"])
    assert by_key[services.pseudonyms("consultation", urgent)] == [
        "consultation.booked",
        "consultation.taken",
        "consultation.checked-in",
        "consultation.admitted",
        "consultation.completed",
        "consultation.rated",
    ]
    assert by_key[services.pseudonyms("consultation", question)] == [
        "consultation.booked",
        "consultation.taken",
        "consultation.answered",
        "consultation.closed",
        "consultation.reopened",
        "consultation.answered",
        "consultation.closed",
        "consultation.rated",
    ]
    # the stream orders each record's events, not two records' (they may sit in two partitions)
    scores = [m.body["data"] for m in messages if m.body["event_type"] == "consultation.rated"]
    assert sorted(scores, key=lambda data: data["score"]) == [{"score": 3}, {"score": 10}]
    everything = b"".join(m.raw for m in messages)
    for needle in ("Zephyrina", "mocked", "chest", "Serious", str(patient), str(dr.actor_id)):
        assert needle.encode() not in everything, needle


def every_message(bootstrap: str, prefix: str) -> list[Message]:
    """Every message of every topic of this test (the whole topic set the relay wrote)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        topics = sorted(t for t in consumer.topics() if t.startswith(prefix))
    finally:
        consumer.close()
    assert topics, "the relay published nothing"
    return [m for t in topics for m in read_all(bootstrap, t, expect=10**6, timeout=3.0)]


def test_canary_a_whole_clinical_visit_never_reaches_the_stream_or_the_logs(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    services: Services,
    relay: KafkaRelay,
    kafka_bootstrap: str,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Intake, consent, rules, a signed and corrected protocol, lab orders and results, a
    rating: a canary in every clinical field, and in none of the stream's keys, values or
    headers; nor in any log line."""
    import logging

    from tests.canaries import CLINICAL_NEEDLES, ORGANISATION_NEEDLES, a_whole_clinical_visit

    caplog.set_level(logging.DEBUG)
    visit = a_whole_clinical_visit(clinic, dr_weber, admin_a)
    publish_all(relay, services)
    messages = every_message(kafka_bootstrap, topic_prefix)
    assert_valid(messages)
    types = {m.body["event_type"] for m in messages}
    assert {"patient.registered", "consultation.booked", "consultation.rated"} <= types
    everything = b"".join(m.raw for m in messages).lower()
    needles = [*CLINICAL_NEEDLES, *ORGANISATION_NEEDLES, visit.patient_id, visit.protocol_id]
    for needle in needles:
        assert needle.lower().encode() not in everything, f"found {needle!r} on the stream"
    logged = "\n".join(r.getMessage() for r in caplog.records).lower()
    for needle in CLINICAL_NEEDLES:
        assert needle.lower() not in logged, f"found {needle!r} in the logs"
