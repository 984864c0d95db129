"""A clinic's day in figures (G2): how long patients waited to be admitted, how many bookings
ended completed, how long questions waited for an answer, and what patients thought (NPS).

Time is the clinic's: the commands act at a clock the test moves on (``build(..., clock=)``), so
every wait is known to the minute. Bookings go through the API; the steps after booking through
the bus (their routes are another issue's)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.booking import BookUrgent
from commands.consultations import (
    AdmitPatient,
    AnswerQuestion,
    AskQuestion,
    CheckIn,
    CompleteConsultation,
    RateConsultation,
    TakeConsultation,
)
from domain.actor import Actor, Role
from projections.analytics import nps_of, p90
from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at

COMMENT = "Zephyrina canary comment: the doctor was rude about my rash"


@pytest.fixture
def dr_lenz(clinic: Clinic) -> Person:
    """A dermatologist of the same clinic who answers questions."""
    lenz = clinic.person("Dr Lenz", Role.DOCTOR, clinic.org_a)
    opened = clinic.client.put(
        f"/v1/doctors/{lenz.actor.actor_id}/schedule",
        headers=lenz.headers,
        json={"time_zone": "Europe/Luxembourg", "specialty": "dermatology"},
    )
    assert opened.status_code == 200, opened.text
    return lenz


@dataclass
class Day:
    """Dr Weber's day, the test's clock and the last position written."""

    clinic: Clinic
    clock: Clock
    first_start: datetime
    slots: list[dict[str, Any]] = field(default_factory=list)
    position: int = 0

    def at(self, minutes: float, command: Any) -> uuid.UUID:
        """``command`` through the bus, ``minutes`` after the day's first appointment."""
        self.clock.now = self.first_start + timedelta(minutes=minutes)
        saved = self.clinic.services.bus.handle(command)
        self.position = max(self.position, saved.position or 0)
        return saved.aggregate_id

    def care(self, who: Person) -> dict[tuple[str, str], dict[str, Any]]:
        day = self.first_start.date().isoformat()
        response = self.clinic.client.get(
            "/v1/analytics/care",
            headers=who.headers,
            params={"after": self.position, "from": day, "to": day},
        )
        assert response.status_code == 200, response.text
        return {(f["specialty"], f["kind"]): f for f in response.json()["figures"]}


def patient(pid: str) -> Actor:
    return Actor(uuid.UUID(pid), Role.PATIENT)


@pytest.fixture
def day(clinic: Clinic, clock: Clock, dr_weber: Person) -> Day:
    """Dr Weber's morning (cardiology, video-15 from 08:00): six appointments."""
    practices = set_up_schedule(clinic, dr_weber)
    slots = [
        tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", i) for i in range(6)
    ]
    first = datetime.fromisoformat(slots[0]["start"])
    assert [datetime.fromisoformat(s["start"]) for s in slots] == [
        first + timedelta(minutes=15 * i) for i in range(6)
    ]
    the_day = Day(clinic, clock, first)
    for slot in slots:
        pid = clinic.register(dr_weber)["id"]
        booked = book_video(clinic, dr_weber, practices, slot, pid)
        assert booked.status_code == 201, booked.text
        the_day.position = booked.json()["position"]
        slot["consultation"], slot["patient"] = uuid.UUID(booked.json()["id"]), pid
    the_day.slots = slots
    return the_day


def a_morning(day: Day, dr_weber: Person) -> dict[str, uuid.UUID]:
    """Minutes after the first start: checked in, admitted (the wait), completed. The fifth
    appointment is cancelled, the sixth patient waits and is never admitted; an urgent patient
    arrives at 90 and is admitted 6 minutes after booking."""
    dr = dr_weber.actor
    slots = day.slots
    for slot, (arrives, admitted, done) in zip(
        slots[:4], [(-5, 3, 14), (5, 17, 29), (32, 34, 44), (40, 50, 62)], strict=True
    ):
        c = slot["consultation"]
        day.at(arrives, CheckIn(patient(slot["patient"]), c))
        day.at(admitted, AdmitPatient(dr, c))
        day.at(done, CompleteConsultation(dr, c))
    cancelled = day.clinic.client.post(
        f"/v1/consultations/{slots[4]['consultation']}/cancel",
        headers=dr_weber.headers,
        json={"reason": "patient-request"},
    )
    assert cancelled.status_code == 200, cancelled.text
    day.at(70, CheckIn(patient(slots[5]["patient"]), slots[5]["consultation"]))
    urgent_patient = day.clinic.register(dr_weber)["id"]
    urgent = day.at(90, BookUrgent(dr, uuid.UUID(urgent_patient), dr.actor_id, "chest pain"))
    day.at(91, TakeConsultation(dr, urgent))
    day.at(92, CheckIn(patient(urgent_patient), urgent))
    day.at(96, AdmitPatient(dr, urgent))
    day.at(110, CompleteConsultation(dr, urgent))
    return {"urgent": urgent, "urgent_patient": uuid.UUID(urgent_patient)}


def questions(day: Day, doctor: Person, timings: list[tuple[int, int, int] | int]) -> list[Any]:
    """Questions asked at the given minutes; (asked, taken, answered) ones are answered."""
    asked = []
    for timing in timings:
        at, taken, answered = timing if isinstance(timing, tuple) else (timing, None, None)
        pid = day.clinic.register(doctor)["id"]
        ask = AskQuestion(
            patient(pid),
            uuid.UUID(pid),
            doctor.actor.actor_id,
            day.clinic.org_a,
            "general",
            "Is this mole something to worry about?",
        )
        c = day.at(at, ask)
        if taken is not None and answered is not None:
            day.at(taken, TakeConsultation(doctor.actor, c))
            day.at(answered, AnswerQuestion(doctor.actor, c))
        asked.append((c, pid))
    return asked


def test_waits_conversion_and_answer_times_of_a_clinic_day(
    day: Day, dr_weber: Person, analyst: Person, admin_a: Person
) -> None:
    a_morning(day, dr_weber)
    questions(day, dr_weber, [(120, 130, 180), (125, 200, 245), 126])

    figures = day.care(analyst)
    video = figures[("cardiology", "video")]
    # six booked + one urgent; four booked and the urgent one completed
    assert (video["consultations"], video["completed"], video["conversion_rate"]) == (
        7,
        5,
        round(5 / 7, 4),
    )
    # waits 8, 12, 2, 10 (checked in) and 6 (urgent: from booking); the sixth never admitted
    assert (video["waits"], video["average_wait_minutes"], video["p90_wait_minutes"]) == (
        5,
        7.6,
        12.0,
    )
    assert video["answers"] == 0 and video["average_answer_minutes"] is None
    chat = figures[("cardiology", "chat")]
    assert (chat["consultations"], chat["completed"], chat["answers"]) == (3, 2, 2)
    assert (chat["average_answer_minutes"], chat["p90_answer_minutes"]) == (90.0, 120.0)
    assert chat["waits"] == 0 and chat["conversion_rate"] == round(2 / 3, 4)
    assert set(figures) == {("cardiology", "video"), ("cardiology", "chat")}
    assert day.care(admin_a) == figures  # the organisation's admin reads the same

    the_day = day.first_start.date().isoformat()
    report = day.clinic.client.get(
        "/v1/analytics/consultations",
        headers=analyst.headers,
        params={"after": day.position, "from": the_day, "to": the_day},
    )
    assert report.status_code == 200, report.text
    by_type = {f["type_code"]: f for f in report.json()["figures"] if f["cohort"]}
    booked = by_type["video-15"]
    # the existing cohort extended: due (not cancelled early) 5, all 6, completed 4
    assert (booked["due"], booked["cohort"], booked["completed"]) == (5, 6, 4)
    assert booked["conversion_rate"] == round(4 / 6, 4)
    assert (by_type["urgent"]["cohort"], by_type["urgent"]["conversion_rate"]) == (1, 1.0)
    assert by_type["general"]["due"] == 0  # questions are never due nor no-shows


def test_nps_per_doctor_specialty_and_organisation(
    day: Day, dr_weber: Person, dr_lenz: Person, analyst: Person, clinic: Clinic
) -> None:
    a_morning(day, dr_weber)
    slots = day.slots
    weber_rated = [(s["consultation"], s["patient"]) for s in slots[:4]]
    [answered, _] = questions(day, dr_weber, [(120, 130, 180), 126])
    lenz_rated = questions(day, dr_lenz, [(121, 140, 150), (122, 141, 160)])
    for (c, pid), score in zip(
        [*weber_rated, answered, *lenz_rated], [10, 9, 7, 3, 6, 10, 0], strict=True
    ):
        day.at(300, RateConsultation(patient(pid), c, score, COMMENT))

    today = datetime.now(UTC).date().isoformat()  # ratings count on the day they were given
    response = clinic.client.get(
        "/v1/analytics/nps",
        headers=analyst.headers,
        params={"after": day.position, "from": today, "to": today},
    )
    assert response.status_code == 200, response.text
    assert COMMENT not in response.text and "rude" not in response.text
    rows = {(f["specialty"], f["doctor"]): f for f in response.json()["figures"]}
    weber = clinic.services.pseudonyms("doctor", dr_weber.actor.actor_id)
    lenz = clinic.services.pseudonyms("doctor", dr_lenz.actor.actor_id)
    assert set(rows) == {
        (None, None),
        ("cardiology", None),
        ("cardiology", weber),
        ("dermatology", None),
        ("dermatology", lenz),
    }
    nps = {
        key: (r["ratings"], r["promoters"], r["detractors"], r["nps"]) for key, r in rows.items()
    }
    # Dr Weber 10, 9, 7, 3, 6: two promoters, two detractors; Dr Lenz 10, 0
    assert nps[("cardiology", weber)] == nps[("cardiology", None)] == (5, 2, 2, 0.0)
    assert nps[("dermatology", lenz)] == (2, 1, 1, 0.0)
    assert nps[(None, None)] == (7, 3, 3, 0.0)
    assert all(r["organisation_id"] == str(clinic.org_a) for r in rows.values())
    assert str(dr_weber.actor.actor_id) not in response.text

    own = clinic.client.get(
        f"/v1/doctors/{dr_weber.actor.actor_id}/nps",
        headers=dr_weber.headers,
        params={"from": today, "to": today},
    )
    assert own.status_code == 200, own.text
    assert (own.json()["ratings"], own.json()["passives"], own.json()["nps"]) == (5, 1, 0.0)
    lenz_own = clinic.client.get(
        f"/v1/doctors/{dr_lenz.actor.actor_id}/nps", headers=dr_lenz.headers
    )
    assert (lenz_own.json()["promoters"], lenz_own.json()["detractors"]) == (1, 1)
    # a doctor sees their own NPS only; the analyst reads the pseudonymous figures instead
    for who, whose in ((dr_weber, dr_lenz), (dr_lenz, dr_weber), (analyst, dr_weber)):
        refused = clinic.client.get(f"/v1/doctors/{whose.actor.actor_id}/nps", headers=who.headers)
        assert refused.status_code == 403, refused.text
    assert clinic.client.get("/v1/analytics/nps", headers=dr_weber.headers).status_code == 403


def test_the_rating_comment_stays_out_of_the_analytics_tables(
    day: Day, dr_weber: Person, analyst: Person, clinic: Clinic
) -> None:
    a_morning(day, dr_weber)
    first = day.slots[0]
    day.at(300, RateConsultation(patient(first["patient"]), first["consultation"], 8, COMMENT))
    read = clinic.client.get(
        "/v1/analytics/nps", headers=analyst.headers, params={"after": day.position}
    )
    assert read.status_code == 200 and read.json()["figures"][0]["ratings"] == 1
    with clinic.services.db.transaction(write=False) as cur:
        for table in clinic.services.analytics.tables:
            cur.execute(f"SELECT * FROM {table}")
            dump = str(cur.fetchall())
            assert "Zephyrina" not in dump and "rude" not in dump, table
            assert str(first["patient"]) not in dump and str(dr_weber.actor.actor_id) not in dump


def test_nps_and_percentiles_by_their_definitions() -> None:
    assert nps_of([]).nps is None
    assert nps_of([10, 9, 8, 7, 6, 0]) == nps_of([0, 6, 7, 8, 9, 10])
    figure = nps_of([10, 9, 8, 7, 6, 0])
    assert (figure.promoters, figure.passives, figure.detractors, figure.nps) == (2, 2, 2, 0.0)
    assert nps_of([10, 10, 10, 3]).nps == 50.0
    assert nps_of([0]).nps == -100.0
    assert p90([]) is None
    assert p90([5.0]) == 5.0
    assert p90([float(m) for m in range(1, 11)]) == 9.0
    assert p90([float(m) for m in range(1, 12)]) == 10.0
