"""Availability over HTTP: free-slot queries and bookings, each against the framework's floor.

Seeds a fresh database through the command bus (``harness.people``): ``--doctors`` doctors with
a weekly schedule (2 practices, ``video-15`` and ``visit-30``, 08:00-12:00 and 13:00-17:00 on
weekdays). The real app (``create_app``) is served by uvicorn in a subprocess (projections in
process, as ``telemed serve``), with the floor route of ``floor.py`` included: the one-doctor
slots route's shape answering a constant empty page. Patients sign up and in over HTTP. In
alternating rounds of one run (the machine is noisy: medians and ratios count):

* latency, one request at a time (``--requests`` per series and round): ``one_doctor`` (a
  random doctor's free slots for the next 14 days), ``earliest`` (the earliest 10 slots of a
  specialty), the same two with a ``type`` filter, and ``floor``;
* throughput with ``--clients`` concurrent clients for ``--seconds``: the floor (``floor_rps``)
  and bookings (``POST /v1/consultations``, 201s per second) of distinct free slots read from
  the API, each client booking only its own doctors (no two clients share a doctor-day).

    .venv/bin/python ops/bench/availability.py [--doctors 40] [--rounds 3] [--requests 200]

Keys: ``<series>_p50_ms`` and ``_p99_ms``, ``one_doctor_vs_floor_p99`` (one doctor's p99 over
the floor's, same run), ``bookings_per_s``, ``floor_rps``, ``booking_ratio`` (bookings over
floor requests per second). Goals: ``one_doctor_p99_ms <= 10``, ``earliest_p99_ms <= 50``,
``one_doctor_vs_floor_p99 <= 1.5``, ``booking_ratio >= 0.5``.
The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from harness import measure, people
from harness.database import compose, scratch_database
from harness.report import emit, goals, say
from harness.server import ServedApp

from domain.patient import record_of

LATENCY = ("one_doctor", "one_doctor_typed", "earliest", "earliest_typed", "floor")
GOALS = {
    "one_doctor_p99_ms": ("<=", 10.0),
    "earliest_p99_ms": ("<=", 50.0),
    "one_doctor_vs_floor_p99": ("<=", 1.5),
    "booking_ratio": (">=", 0.5),
}
Request = tuple[str, dict[str, Any]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--doctors", type=int, default=40, help="doctors seeded through the bus")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--requests", type=int, default=200, help="requests per latency series")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a throughput slot")
    return parser.parse_args()


def sign_up(base_url: str, n: int) -> tuple[httpx.Client, UUID]:
    """A patient account opened and signed in over HTTP: its client and its own record id."""
    client = httpx.Client(base_url=base_url, timeout=30.0)
    email, password = f"bench-{n}-{uuid4().hex[:8]}@example.test", "bench passphrase 1"
    client.post("/v1/accounts", json={"email": email, "password": password}).raise_for_status()
    session = client.post("/v1/sessions", json={"email": email, "password": password})
    session.raise_for_status()
    client.headers["Authorization"] = f"Bearer {session.json()['token']}"
    return client, record_of(UUID(session.json()["account_id"]))


def requests(doctors: list[people.Doctor], rng: random.Random) -> dict[str, Callable[[], Request]]:
    def window() -> dict[str, Any]:
        now = datetime.now(UTC)
        return {"from": now.isoformat(), "to": (now + timedelta(days=14)).isoformat()}

    def doctor() -> str:
        return str(rng.choice(doctors).doctor_id)

    def a_type() -> str:
        return rng.choice(people.TYPES)[0]

    def specialty() -> str:
        return rng.choice(doctors).specialty

    return {
        "one_doctor": lambda: (f"/v1/doctors/{doctor()}/slots", window()),
        "one_doctor_typed": lambda: (
            f"/v1/doctors/{doctor()}/slots",
            {**window(), "type": a_type()},
        ),
        "earliest": lambda: ("/v1/slots", {"specialty": specialty(), "limit": 10}),
        "earliest_typed": lambda: ("/v1/slots", {"specialty": specialty(), "type": a_type()}),
        "floor": lambda: (f"/v1/bench-floor/{doctor()}/slots", window()),
    }


def get(client: httpx.Client, request: Request) -> dict[str, Any]:
    response = client.get(request[0], params=request[1])
    if response.status_code != 200:
        raise RuntimeError(f"GET {request[0]}: HTTP {response.status_code} {response.text[:200]}")
    page: dict[str, Any] = response.json()
    return page


def caught_up(client: httpx.Client, position: int, timeout: float = 300.0) -> None:
    """Read-your-writes: ask with ``after`` until the API's bounded wait no longer answers 503
    (the served read models have every seeded event)."""
    deadline = time.monotonic() + timeout
    while (
        r := client.get("/v1/slots", params={"specialty": "x", "after": position})
    ).status_code == 503:
        if time.monotonic() > deadline:
            break
    r.raise_for_status()


def bookable(client: httpx.Client, doctor: people.Doctor) -> list[dict[str, Any]]:
    """The doctor's free slots from tomorrow, as the API lists them, none overlapping another."""
    begin = datetime.now(UTC) + timedelta(days=1)
    window = {"from": begin.isoformat(), "to": (begin + timedelta(days=60)).isoformat()}
    chosen: list[dict[str, Any]] = []
    for slot in get(client, (f"/v1/doctors/{doctor.doctor_id}/slots", window))["slots"]:
        if not chosen or slot["start"] >= chosen[-1]["end"]:
            chosen.append(slot)
    return chosen


class Bookers:
    """Client ``i`` books the slots of its own doctors for its own patient, one after another."""

    def __init__(self, clients: list[tuple[httpx.Client, UUID]], queues: list[list[Any]]) -> None:
        self.clients, self.queues = clients, queues
        self.lock = threading.Lock()

    def __call__(self, i: int) -> None:
        client, patient = self.clients[i]
        with self.lock:
            slot = self.queues[i].pop()
        body = {k: slot[k] for k in ("doctor_id", "practice_id", "type_code", "start")}
        response = client.post(
            "/v1/consultations", json={**body, "patient_id": str(patient), "kind": slot["kinds"][0]}
        )
        if response.status_code != 201:
            raise RuntimeError(f"booking: HTTP {response.status_code} {response.text[:200]}")


class Floor:
    """Client ``i`` asks the floor route."""

    def __init__(self, clients: list[tuple[httpx.Client, UUID]], make: Callable[[], Request]):
        self.clients, self.make = clients, make

    def __call__(self, i: int) -> None:
        get(self.clients[i][0], self.make())


def series(
    client: httpx.Client, make: Callable[[], Request], n: int, sizes: list[int]
) -> list[float]:
    """Milliseconds of ``n`` requests one after the other (the pages' sizes go to ``sizes``)."""
    return measure.timed(lambda: sizes.append(len(get(client, make())["slots"])), n)


def main() -> int:
    args = parse_args()
    rng = random.Random(7)
    latency: dict[str, list[list[float]]] = {name: [] for name in LATENCY}
    rates: dict[str, list[float]] = {"floor_rps": [], "bookings": []}
    sizes: dict[str, list[int]] = {name: [] for name in LATENCY}
    with scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        keyring = Path(keydir) / "keyring.json"
        seeding = compose(url, keyring)
        try:
            doctors = people.seed_doctors(seeding, args.doctors, threads=4)
            head = seeding.recorder.max_notification_id() or 0
        finally:
            seeding.close()
        say(f"seeded {len(doctors)} doctors ({head} events) through the command bus")
        with ServedApp(url, keyring, router="floor:router") as app:
            clients = [sign_up(app.base_url, n) for n in range(args.clients)]
            first = clients[0][0]
            caught_up(first, head)
            queues: list[list[Any]] = [[] for _ in clients]
            for n, doctor in enumerate(doctors):
                queues[n % len(clients)].extend(bookable(first, doctor))
            for queue in queues:
                rng.shuffle(queue)
            make = requests(doctors, rng)
            for name in LATENCY:  # warm every route up
                series(first, make[name], 20, sizes[name])
            for round_no in range(args.rounds):
                for name in measure.rotate(LATENCY, round_no):
                    latency[name].append(series(first, make[name], args.requests, sizes[name]))
                for name in measure.rotate(list(rates), round_no):
                    op = Floor(clients, make["floor"]) if name == "floor_rps" else None
                    slot = measure.run_threads(
                        op or Bookers(clients, queues), len(clients), args.seconds
                    )
                    rates[name].append(slot.rate)
                    say(f"round {round_no + 1} {name}: {slot.rate:.1f}/s {slot.errors[:1]}")
                p99s = {n: measure.percentile(latency[n][-1], 0.99) for n in LATENCY}
                say(
                    f"round {round_no + 1} p99 ms: "
                    + ", ".join(f"{n} {v:.1f}" for n, v in p99s.items())
                )
            for client, _ in clients:
                client.close()

    def p(name: str, q: float) -> float:
        return round(measure.median([measure.percentile(ms, q) for ms in latency[name]]), 2)

    result: dict[str, Any] = {
        "one_doctor_p99_ms": p("one_doctor", 0.99),
        "earliest_p99_ms": p("earliest", 0.99),
        "bookings_per_s": round(measure.median(rates["bookings"]), 1),
        "floor_rps": round(measure.median(rates["floor_rps"]), 1),
    }
    result["booking_ratio"] = measure.ratio(result["bookings_per_s"], result["floor_rps"])
    for name in LATENCY:
        result[f"{name}_p50_ms"], result[f"{name}_p99_ms"] = p(name, 0.5), p(name, 0.99)
    floor_p99 = result["floor_p99_ms"]
    result["one_doctor_vs_floor_p99"] = measure.ratio(result["one_doctor_p99_ms"], floor_p99)
    result.update(
        doctors=len(doctors),
        events=head,
        slots_per_response={n: measure.median([float(x) for x in v]) for n, v in sizes.items()},
        rounds=args.rounds,
        clients=args.clients,
        samples=rates,
    )
    result["goals"] = goals(result, GOALS)
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
