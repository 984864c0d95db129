"""The one generator of benchmark data, always through the command bus (``services.bus``).

Patients: a registration with every personal field, a contact change and two consents (4 events).
Doctors: a schedule of 2 practices, one consultation type each (``video-15``, ``visit-30``), over
08:00-12:00 and 13:00-17:00 Monday to Friday in one of a few time zones (15 commands).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from adapters.composition import Services
from commands import scheduling as cmd
from commands.booking import BookConsultation
from commands.patients import ChangeContactDetails, RecordConsent, RegisterPatient
from commands.results import Saved
from domain.actor import Actor, Role
from domain.consultation import Kind
from domain.patient import ConsentPurpose

EVENTS_PER_PATIENT = 4
GIVEN = ("Alice", "Bernard", "Chiara", "Dmitri", "Esther", "Farid", "Grace", "Hiroshi")
FAMILY = ("Okafor", "Lindqvist", "Moreau", "Nakamura", "Oliveira", "Petrov", "Quinn", "Rossi")
SPECIALTIES = ("cardiology", "dermatology", "general-practice", "paediatrics", "psychiatry")
TIME_ZONES = ("Europe/Luxembourg", "Europe/London", "Europe/Lisbon", "Europe/Helsinki")
LANGUAGES = ("lb", "fr", "de", "en", "pt", "it")
#: (code, minutes, kind): practice 1 offers the first, practice 2 the second
TYPES = (("video-15", 15, "video"), ("visit-30", 30, "in-person"))
SPANS = ("08:00-12:00", "13:00-17:00")
WORKDAYS = (0, 1, 2, 3, 4)


def clinician() -> Actor:
    """A doctor of a new organisation, who registers patients."""
    return Actor(uuid4(), Role.DOCTOR, uuid4())


def registration(actor: Actor, n: int) -> RegisterPatient:
    """Patient number ``n``: distinct names, email and phone."""
    return RegisterPatient(
        actor,
        given_name=GIVEN[n % len(GIVEN)],
        family_name=f"{FAMILY[n // len(GIVEN) % len(FAMILY)]}-{n}",
        birth_date=date(1940 + n % 70, 1 + n % 12, 1 + n % 28),
        email=f"patient.{n}@example.org",
        phone=f"+44 20 7946 {n % 10_000:04d}",
    )


class PatientLife:
    """One patient after another, one command at a time: registration, contact change, two
    consents (``next_command`` returns what the bus saved)."""

    def __init__(self, services: Services, actor: Actor, numbers: Iterator[int]) -> None:
        self.services, self.actor, self.numbers = services, actor, numbers
        self.patient: UUID | None = None
        self.step = self.n = 0

    def next_command(self) -> Saved:
        bus, actor, step = self.services.bus, self.actor, self.step
        if step == 0 or self.patient is None:
            self.n = n = next(self.numbers)
            saved = bus.handle(registration(actor, n))
            self.patient = saved.aggregate_id
        elif step == 1:
            n = self.n
            saved = bus.handle(
                ChangeContactDetails(
                    actor,
                    self.patient,
                    f"p{n}.new@example.org",
                    f"+44 161 496 {n % 10_000:04d}",
                    f"{n} High Street, Manchester",
                )
            )
        else:
            purpose = ConsentPurpose.TREATMENT if step == 2 else ConsentPurpose.DATA_SHARING
            saved = bus.handle(RecordConsent(actor, self.patient, purpose))
        self.step = (step + 1) % EVENTS_PER_PATIENT
        return saved

    def start_over(self) -> None:
        self.step = 0


def on_threads(work: Callable[[int], None], threads: int) -> float:
    """Run ``work(i)`` on ``threads`` threads; the seconds it took; the first error is raised."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    start = time.perf_counter()
    pool = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise RuntimeError(f"seeding failed: {errors[0]!r}") from errors[0]
    return time.perf_counter() - start


def seed_patients(
    services: Services, patients: int, threads: int, first: int = 1
) -> tuple[float, list[UUID]]:
    """``patients`` whole patient lives (4 events each): (seconds it took, their ids)."""
    actor, numbers = clinician(), itertools.count(first)
    shares = [patients // threads + (1 if i < patients % threads else 0) for i in range(threads)]
    ids: list[UUID] = []

    def work(i: int) -> None:
        life = PatientLife(services, actor, numbers)
        for _ in range(shares[i]):
            for _ in range(EVENTS_PER_PATIENT):
                life.next_command()
            if life.patient is not None:
                ids.append(life.patient)

    return on_threads(work, threads), ids


@dataclass
class Doctor:
    doctor_id: UUID
    organisation_id: UUID
    specialty: str
    time_zone: str
    practices: list[UUID] = field(default_factory=list)

    @property
    def actor(self) -> Actor:
        return Actor(self.doctor_id, Role.DOCTOR, self.organisation_id)

    def book_video(self, services: Services, patient_id: UUID, start: datetime) -> Saved:
        """The doctor books one of their ``video-15`` slots for a patient."""
        return services.bus.handle(
            BookConsultation(
                self.actor,
                patient_id,
                self.doctor_id,
                self.practices[0],
                "video-15",
                start,
                Kind.VIDEO,
            )
        )

    def video_starts(self, days: int) -> Iterator[datetime]:
        """The starts of this doctor's ``video-15`` slots on weekdays from tomorrow, in order
        (what the schedule above offers, before any booking)."""
        tz, today = ZoneInfo(self.time_zone), datetime.now(UTC).date()
        for day in (today + timedelta(days=d) for d in range(1, days + 1)):
            if day.weekday() in WORKDAYS:
                for span in SPANS:
                    (h0, m0), (h1, m1) = (map(int, t.split(":")) for t in span.split("-"))
                    for minute in range(h0 * 60 + m0, h1 * 60 + m1, 15):
                        local = datetime.combine(day, time_of_day(minute // 60, minute % 60))
                        yield local.replace(tzinfo=tz).astimezone(UTC)


def open_doctor(services: Services, rng: random.Random, organisation_id: UUID) -> Doctor:
    """One doctor's schedule, as the doctor sets it up through the command bus."""
    doctor = Doctor(uuid4(), organisation_id, rng.choice(SPECIALTIES), rng.choice(TIME_ZONES))
    actor, bus = doctor.actor, services.bus
    languages = tuple(rng.sample(LANGUAGES, 2))
    bus.handle(
        cmd.OpenSchedule(actor, doctor.doctor_id, doctor.time_zone, doctor.specialty, languages)
    )
    for code, minutes, kind in TYPES:
        practice = uuid4()
        doctor.practices.append(practice)
        bus.handle(cmd.AddPractice(actor, doctor.doctor_id, practice, organisation_id))
        bus.handle(
            cmd.SetConsultationType(actor, doctor.doctor_id, practice, code, minutes, 0, (kind,))
        )
        for weekday in WORKDAYS:
            bus.handle(cmd.SetWeeklyHours(actor, doctor.doctor_id, practice, weekday, SPANS))
    return doctor


def seed_doctors(services: Services, count: int, threads: int, seed: int = 7) -> list[Doctor]:
    """``count`` doctors over a few organisations (15 commands each)."""
    organisations = [uuid4() for _ in range(max(1, count // 25))]
    doctors: list[Doctor] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        for _ in range(i, count, threads):
            doctor = open_doctor(services, rng, rng.choice(organisations))
            with lock:
                doctors.append(doctor)

    on_threads(work, threads)
    return doctors
