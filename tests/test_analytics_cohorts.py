"""Analytics that add up: the no-show rate is taken over the cohort of appointments due in a
period, never over two unrelated counts; erasures and consent withdrawals are counted too."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import pytest
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adapters.db import Database
from adapters.migrate import migrate
from adapters.readmodels.analytics import SqlAnalytics
from adapters.stream.contract import Pseudonyms
from domain.actor import Actor, Role
from domain.consultation import Consultation, Kind
from domain.errors import DomainError
from domain.time_rules import Interval
from projections.analytics import AnalyticsProjection, period_of
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at

Granularity = Literal["day", "week", "month"]
#: a Tuesday near a month's end, so that histories cross days, weeks and a month
DAY_ONE = datetime(2024, 2, 27, 6, tzinfo=UTC)
ORGANISATIONS = (uuid.UUID(int=1), uuid.UUID(int=2))
TYPES = ("video-15", "visit-30")


# --- through the API ---------------------------------------------------------------------------


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


def figures(clinic: Clinic, who: Person, position: int, **params: Any) -> list[dict[str, Any]]:
    response = clinic.client.get(
        "/v1/analytics/consultations", headers=who.headers, params={"after": position, **params}
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["figures"]
    return rows


def test_an_urgent_patient_who_never_came_is_a_no_show_of_todays_cohort(
    clinic: Clinic, dr_weber: Person, analyst: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    patient = clinic.register(dr_weber)["id"]
    urgent = clinic.client.post(
        "/v1/consultations/urgent",
        headers=dr_weber.headers,
        json={"patient_id": patient, "doctor_id": str(practices.doctor_id), "reason": "fever"},
    )
    assert urgent.status_code == 201, urgent.text
    missed = clinic.client.post(
        f"/v1/consultations/{urgent.json()['id']}/no-show", headers=dr_weber.headers
    )
    assert missed.status_code == 200, missed.text
    # booked today for tomorrow: made today, but due tomorrow (and not reached yet)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    later = book_video(clinic, dr_weber, practices, slot, patient)
    assert later.status_code == 201, later.text

    today = datetime.now(UTC).date()
    rows = figures(
        clinic,
        analyst,
        later.json()["position"],
        **{"from": today.isoformat(), "to": (today + timedelta(days=2)).isoformat()},
    )
    by_type = {(r["period"], r["type_code"]): r for r in rows}
    urgent_today = by_type[(today.isoformat(), "urgent")]
    assert (urgent_today["due"], urgent_today["no_shows"], urgent_today["no_show_rate"]) == (
        1,
        1,
        1.0,
    )
    booked_today = by_type[(today.isoformat(), "video-15")]
    assert booked_today["bookings"] == 1 and booked_today["no_show_rate"] is None
    tomorrow = by_type.get(((today + timedelta(days=1)).isoformat(), "video-15"))
    assert tomorrow is None or (tomorrow["due"], tomorrow["no_show_rate"]) == (0, None)


def test_erasures_are_counted_by_reason_for_the_patients_organisation(
    clinic: Clinic, dr_weber: Person, admin_a: Person, analyst: Person
) -> None:
    first = clinic.register(dr_weber, family_name="Gone")["id"]
    second = clinic.register(dr_weber, family_name="AlsoGone")["id"]
    clinic.register(dr_weber, family_name="Staying")
    clinic.client.delete(f"/v1/patients/{first}", headers=admin_a.headers)
    done = clinic.client.delete(
        f"/v1/patients/{second}", headers=admin_a.headers, params={"reason": "retention-expired"}
    )
    assert done.status_code == 200, done.text
    response = clinic.client.get(
        "/v1/analytics/erasures",
        headers=analyst.headers,
        params={"after": done.json()["position"], "granularity": "month"},
    )
    assert response.status_code == 200, response.text
    month = date.today().replace(day=1).isoformat()
    assert response.json()["counts"] == [
        {"period": month, "organisation_id": str(clinic.org_a), "dimension": d, "count": 1}
        for d in ("retention-expired", "subject-request")
    ]
    assert "Gone" not in response.text and first not in response.text


def test_consent_withdrawals_are_counted_by_purpose_apart_from_consents_given(
    clinic: Clinic, dr_weber: Person, admin_a: Person
) -> None:
    patients = [clinic.register(dr_weber, family_name=f"Consent{i}")["id"] for i in range(3)]
    position = 0
    for patient in patients:
        for purpose in ("research", "recording"):
            given_ = clinic.client.post(
                f"/v1/patients/{patient}/consents",
                headers=dr_weber.headers,
                json={"purpose": purpose},
            )
            assert given_.status_code == 200, given_.text
    for patient in patients[:2]:
        withdrawn = clinic.client.delete(
            f"/v1/patients/{patient}/consents/research", headers=dr_weber.headers
        )
        assert withdrawn.status_code == 200, withdrawn.text
        position = withdrawn.json()["position"]

    def counted(metric: str) -> list[tuple[str, int]]:
        response = clinic.client.get(
            f"/v1/analytics/{metric}", headers=admin_a.headers, params={"after": position}
        )
        assert response.status_code == 200, response.text
        return [(c["dimension"], c["count"]) for c in response.json()["counts"]]

    assert counted("consents-withdrawn") == [("research", 2)]
    assert counted("consents-given") == [("recording", 3), ("research", 3)]


# --- the invariant, over random histories ------------------------------------------------------


@dataclass
class History:
    """Events of several consultations, in the order (and at the times) they happened."""

    events: list[DomainEventProtocol[Any]]
    consultations: dict[uuid.UUID, list[DomainEventProtocol[Any]]]


step = st.tuples(
    st.integers(0, 6 * 24 * 60),  # minutes until this step
    st.integers(0, 5),  # which consultation
    st.sampled_from(["cancel", "reschedule", "no-show", "no-show", "wait"]),
    st.integers(0, 9 * 24 * 4),  # a start this many quarter hours ahead
)


def history_of(steps: list[tuple[int, int, str, int]]) -> History:
    """Drive real consultations through the steps (the aggregate refuses what the clinic could
    not do, such as a no-show before the start) and stamp each event with the step's time."""
    now = DAY_ONE
    live: dict[int, Consultation] = {}
    events: list[DomainEventProtocol[Any]] = []
    for minutes, index, action, quarters in steps:
        now += timedelta(minutes=minutes)
        actor = Actor(uuid.uuid4(), Role.DOCTOR, ORGANISATIONS[index % 2])
        start = now + timedelta(minutes=15 * quarters)
        slot = Interval(start, start + timedelta(minutes=15))
        consultation = live.get(index)
        try:
            if consultation is None:
                live[index] = consultation = Consultation.book(
                    patient_id=uuid.uuid4(),
                    doctor_id=uuid.uuid4(),
                    practice_id=uuid.uuid4(),
                    organisation_id=ORGANISATIONS[index % 2],
                    type_code=TYPES[index % 3 % 2],
                    kind=Kind.VIDEO,
                    slot=slot,
                    by=actor,
                )
            elif action == "cancel":
                consultation.cancel("patient-request", by=actor)
            elif action == "reschedule":
                consultation.reschedule(slot, by=actor)
            elif action == "no-show":
                consultation.record_no_show(now, by=actor)
        except DomainError:
            continue
        events.extend(replace(e, timestamp=now) for e in consultation.collect_events())  # type: ignore[type-var]
    by_consultation: dict[uuid.UUID, list[DomainEventProtocol[Any]]] = defaultdict(list)
    for e in events:
        by_consultation[e.originator_id].append(e)
    return History(events, by_consultation)


Key = tuple[date, str, str]


def cohorts_from_scratch(
    history: History, granularity: Granularity, as_of: datetime
) -> dict[Key, tuple[int, int]]:
    """(due, no-shows) per period of the appointment's start, organisation and type: due are the
    appointments whose start has come (by ``as_of``) and that were not cancelled before it."""
    out: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for events in history.consultations.values():
        booked = events[0]
        assert isinstance(booked, Consultation.Booked)
        start, cancelled_at, no_show = booked.start, None, False
        for e in events[1:]:
            if isinstance(e, Consultation.Rescheduled):
                start = e.start
            elif isinstance(e, Consultation.Cancelled):
                cancelled_at = e.timestamp
            elif isinstance(e, Consultation.NoShowRecorded):
                no_show = True
        if start > as_of or (cancelled_at is not None and cancelled_at < start):
            continue
        key = (period_of(start.date(), granularity), str(booked.organisation_id), booked.type_code)
        out[key][0] += 1
        out[key][1] += int(no_show)
    return {k: (due, shows) for k, (due, shows) in out.items()}


@pytest.fixture
def analytics(database_url: str) -> Iterator[SqlAnalytics]:
    db = Database(database_url, pool_size=2)
    migrate(db)
    yield SqlAnalytics(db, Pseudonyms(b"analytics test key".ljust(32, b".")))
    db.close()


def project(view: SqlAnalytics, history: History) -> None:
    """What the projection runner does with a batch: each event through its step, one
    transaction."""
    with view.db.transaction() as cur:
        for table in view.tables:
            cur.execute(f"DELETE FROM {table}")
        view.bind(cur)
        projection = AnalyticsProjection(view)
        for position, e in enumerate(history.events, start=1):
            projection.process_event(e, Tracking("analytics", position))
        view.end_batch()
        view.bind(None)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(step, min_size=1, max_size=24),
    granularity=st.sampled_from(["day", "week", "month"]),
    as_of_days=st.integers(0, 20),
)
def test_the_no_show_rate_is_a_share_of_the_appointments_due_in_the_period(
    analytics: SqlAnalytics,
    steps: list[tuple[int, int, str, int]],
    granularity: Granularity,
    as_of_days: int,
) -> None:
    history = history_of(steps)
    project(analytics, history)
    as_of = DAY_ONE + timedelta(days=as_of_days)
    rows = analytics.consultations(date(2024, 1, 1), date(2024, 12, 31), granularity, as_of=as_of)
    for row in rows:
        assert row.no_show_rate is None or 0 <= row.no_show_rate <= 1, row
    expected = cohorts_from_scratch(history, granularity, as_of)
    rates = {
        (r.period, r.organisation_id, r.type_code): r.no_show_rate
        for r in rows
        if r.no_show_rate is not None
    }
    assert rates == {k: round(shows / due, 4) for k, (due, shows) in expected.items()}
    cohorts = {
        (r.period, r.organisation_id, r.type_code): (r.due, r.no_shows) for r in rows if r.due
    }
    assert cohorts == expected
