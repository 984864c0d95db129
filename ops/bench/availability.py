"""Availability over HTTP: free-slot queries and bookings against the framework's floor.

The data (one fresh PostgreSQL database per run):

* **bulk-seeded** (not through the command bus): the read model table ``availability_slots``
  for ``--doctors`` (1,000) doctors x ``--days`` (90) days, written with ``COPY`` in the shape
  the availability projection writes: per doctor 2 practices, one consultation type each
  (``video-15`` 15 min video, ``visit-30`` 30 min in person) over the same local hours
  08:00-12:00 and 13:00-17:00, Monday to Friday, in one of a few time zones; 10 specialties,
  1-3 languages, 40 organisations. A random ``--booked`` share (30 %) of the offered slots is
  left out, as booked. The table's indexes are dropped for the load and rebuilt from their own
  definitions afterwards, then ``VACUUM ANALYZE``. These doctors have no events: they are only
  read.
* **real** (through the command bus): ``--real-doctors`` (20) doctors with the same schedule
  shape, opened with ``OpenSchedule``, ``AddPractice``, ``SetConsultationType`` and
  ``SetWeeklyHours`` and projected by the worker; the bookings are made on their slots.

The real app (``create_app``) is served by uvicorn in a subprocess on 127.0.0.1 (projections in
process, as ``telemed serve`` runs them), with two extra routes for the floor: the same path
shape, auth dependency and query parameters as the one-doctor slots route, answering a constant
empty page (and one without the auth dependency, for reference). The benchmark process drives
it with httpx (keep-alive clients), measuring in alternating rounds:

* latency, one request at a time (``--requests`` per series and round): ``one_doctor`` (a random
  seeded doctor's free slots for the next 14 days), ``earliest`` (the earliest 10 slots across a
  random specialty), the same two with a ``type`` filter, and the floor route;
* throughput with ``--clients`` (16) concurrent clients for ``--seconds``: the floor route
  (``floor_rps``), the floor without auth, and bookings (``POST /v1/consultations``, 201s per
  second) of distinct free slots of the real doctors (each client books only its own doctors,
  so that no two clients write the same doctor-day).

Afterwards, diagnostics of the slow paths: the SQL alone (psycopg, autocommit), the read
model's query method, the rendering of the page; if the earliest-slots goal is missed, a
what-if index on the scratch database and the same series again.

    .venv/bin/python ops/bench/availability.py [--rounds 3] [--requests 400] [--seconds 5]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import cProfile
import functools
import gc
import inspect
import io
import math
import os
import pstats
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from typing import Annotated, Any
from uuid import UUID, uuid4

import _support
import httpx
import orjson
import psycopg
from fastapi import FastAPI, Query
from psycopg import sql
from pydantic import TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.composition import Services, build
from adapters.readmodels.availability import FreeSlot, SqlAvailability
from adapters.settings import Settings
from api.auth import CurrentActor, authorize
from api.policy import Action
from api.routers.slots import _page
from api.schedule_schemas import SlotPage
from commands import scheduling as cmd
from commands.booking import BookConsultation
from domain.actor import Actor, Role
from domain.booking import Kind
from domain.patient import record_of
from domain.time_rules import local_instant, zone

GOALS = {"one_doctor_p99_ms": 10.0, "earliest_p99_ms": 50.0, "booking_ratio": 0.3}
SPECIALTIES = (
    "cardiology",
    "dermatology",
    "general-practice",
    "paediatrics",
    "psychiatry",
    "neurology",
    "gynaecology",
    "orthopaedics",
    "ophthalmology",
    "endocrinology",
)
TIME_ZONES = ("Europe/Luxembourg", "Europe/London", "Europe/Lisbon", "Europe/Helsinki")
LANGUAGES = ("lb", "fr", "de", "en", "pt", "it")
ORGANISATIONS = 40
#: (code, minutes, kind): practice 1 offers the first, practice 2 the second
TYPES = (("video-15", 15, "video"), ("visit-30", 30, "in-person"))
SPANS = ("08:00-12:00", "13:00-17:00")
WORKDAYS = (0, 1, 2, 3, 4)
COLUMNS = (
    "doctor_id, practice_id, type_code, start_at, end_at, day, organisation_id, specialty, "
    "languages, kinds, time_zone"
)
LATENCY = ("one_doctor", "one_doctor_typed", "earliest", "earliest_typed", "floor")
THROUGHPUT = ("floor_rps", "floor_noauth_rps", "bookings")
FLOOR_PAGE: dict[str, Any] = {"time_zone": "UTC", "slots": []}


# -- the server side (a subprocess: ``--serve``) ---------------------------------------------
def bench_floor(
    doctor_id: UUID,
    actor: CurrentActor,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    type_code: Annotated[str | None, Query(alias="type", max_length=60)] = None,
    practice_id: UUID | None = None,
    tz: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """The one-doctor slots route's shape (auth, policy, parameters) with a constant answer."""
    authorize(actor, Action.READ_SLOTS)
    return FLOOR_PAGE


def bench_floor_noauth(
    doctor_id: UUID,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    type_code: Annotated[str | None, Query(alias="type", max_length=60)] = None,
    practice_id: UUID | None = None,
    tz: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    return FLOOR_PAGE


def add_floor_routes(app: FastAPI) -> None:
    app.add_api_route(
        "/v1/bench-floor/{doctor_id}", bench_floor, methods=["GET"], response_model=SlotPage
    )
    app.add_api_route(
        "/v1/bench-floor-noauth/{doctor_id}",
        bench_floor_noauth,
        methods=["GET"],
        response_model=SlotPage,
    )


class PhaseLog:
    """Milliseconds spent in named steps of the server (for ``/v1/bench-phases``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms: dict[str, list[float]] = defaultdict(list)

    def add(self, label: str, ms: float) -> None:
        with self._lock:
            self._ms[label].append(ms)

    def take(self) -> dict[str, dict[str, float]]:
        with self._lock:
            data, self._ms = self._ms, defaultdict(list)
        return {
            label: {
                "n": len(values),
                "p50": round(percentile(values, 0.5), 3),
                "p99": round(percentile(values, 0.99), 3),
                "total": round(sum(values), 1),
            }
            for label, values in data.items()
        }


PHASES = PhaseLog()


def probe(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wall time as ``label``, CPU time of the calling thread as ``label.cpu``."""

    @functools.wraps(fn)
    def timed_call(*args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            PHASES.add(label, 1000 * (time.perf_counter() - t0))
            PHASES.add(f"{label}.cpu", 1000 * (time.thread_time() - c0))

    return timed_call


def counter(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Counts the calls (``n`` of ``label``), nothing else."""

    @functools.wraps(fn)
    def counted_call(*args: Any, **kwargs: Any) -> Any:
        PHASES.add(label, 0.0)
        return fn(*args, **kwargs)

    return counted_call


class GcClock:
    """The garbage collector's pauses, per generation (``gc_gen0`` .. ``gc_gen2``)."""

    def __init__(self) -> None:
        self._started = self._cpu = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started, self._cpu = time.perf_counter(), time.thread_time()
        else:
            label = f"gc_gen{info['generation']}"
            PHASES.add(label, 1000 * (time.perf_counter() - self._started))
            PHASES.add(f"{label}.cpu", 1000 * (time.thread_time() - self._cpu))


def probe_async(label: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(fn)
    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            PHASES.add(label, 1000 * (time.perf_counter() - t0))

    return timed_call


class ServerClock:
    """Outermost ASGI middleware: the server's own time per request (``server_total``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/v1/bench-phases":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            PHASES.add("server_total", 1000 * (time.perf_counter() - t0))


def bench_phases() -> dict[str, dict[str, float]]:
    """The steps' timings since the last call (and start afresh), and how many objects the
    garbage collector tracks (what a full collection walks)."""
    phases = PHASES.take()
    phases["gc_tracked_objects"] = {"n": len(gc.get_objects()), "p50": 0, "p99": 0, "total": 0}
    return phases


def patch(owner: object, name: str, label: str, *, count_only: bool = False) -> None:
    """Replace ``owner.name`` (a function or a bound method) by a timed wrapper."""
    original = getattr(owner, name)
    if count_only:
        setattr(owner, name, counter(label, original))
    elif inspect.iscoroutinefunction(original):
        setattr(owner, name, probe_async(label, original))
    else:
        setattr(owner, name, probe(label, original))


def install_probes(app: FastAPI, services: Services) -> None:
    """Time the steps of the measured routes (a few microseconds per call)."""
    import fastapi.routing

    import api.routers.consultations
    import api.routers.slots

    patch(services.sessions, "resolve", "auth_token_lookup")
    patch(services.availability, "of_doctor", "read_model_query")
    patch(services.availability, "earliest", "read_model_query")
    patch(services.bus, "handle", "command_bus")
    for name, runner in services.runners.items():
        patch(runner, "run_once", f"projection_{name}")
    patch(services.db, "transaction", "db_transaction", count_only=True)
    gc.callbacks.append(GcClock())
    patch(api.routers.slots, "_page", "page_build")
    patch(api.routers.consultations, "_booking_scope", "booking_scope")
    patch(fastapi.routing, "serialize_response", "response_validate_serialize")
    app.add_api_route("/v1/bench-phases", bench_phases, methods=["GET"])
    app.add_middleware(ServerClock)


def serve(url: str, keyring_path: str, port: int, pool_size: int, gc_freeze: bool) -> int:
    import uvicorn

    from api.app import create_app

    services = build(
        Settings(
            database_url=url,
            keyring_path=Path(keyring_path),
            projections="inprocess",
            pool_size=pool_size,
        )
    )
    try:
        app = create_app(services)
        add_floor_routes(app)
        install_probes(app, services)
        if gc_freeze:  # what-if: full collections skip everything allocated so far
            gc.collect()
            gc.freeze()
        uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")
    finally:
        services.close()
    return 0


class Server:
    """The API in a subprocess of its own (its own interpreter and cores)."""

    def __init__(self, url: str, keyring_path: Path, pool_size: int, gc_freeze: bool) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                url,
                "--keyring",
                str(keyring_path),
                "--port",
                str(self.port),
                "--pool-size",
                str(pool_size),
                *(["--server-gc-freeze"] if gc_freeze else []),
            ],
            stdout=sys.stderr,  # keep our stdout for the summary (the JSON is its last line)
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the API process exited (code {self.proc.returncode})")
                try:
                    if client.get("/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the API did not answer within {timeout:.0f}s")
                time.sleep(0.2)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.proc.pid)

    def phases(self) -> dict[str, dict[str, float]]:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            result: dict[str, dict[str, float]] = client.get("/v1/bench-phases").json()
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgMeter:
    """CPU time of this database's server processes (backends) and its transactions."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(url, autocommit=True)

    def sample(self) -> dict[int, float]:
        pids = self.conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return {int(p): process_cpu_seconds(int(p)) for (p,) in pids}

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU seconds of the backends between two samples (one that started in between
        counts from zero)."""
        return sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in after.items())

    def close(self) -> None:
        self.conn.close()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc; 0 elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- seeding ----------------------------------------------------------------------------------
@dataclass
class SeedReport:
    doctors: list[UUID]
    offered: int
    rows: int
    generate_copy_s: float
    index_s: float


def horizon_days(tz_name: str, days: int) -> list[date]:
    """The days the projection computes: local yesterday .. today + ``days``."""
    today = datetime.now(UTC).astimezone(zone(tz_name)).date()
    return [today + timedelta(days=i) for i in range(-1, days + 1)]


def slot_times(tz_name: str, day: date, minutes: int) -> list[tuple[str, str]]:
    """Start and end (UTC, as COPY text) of the slots of one type on one local working day."""
    tz = zone(tz_name)
    out: list[tuple[str, str]] = []
    length = timedelta(minutes=minutes)
    for span in SPANS:
        first, last = (wall_time.fromisoformat(t) for t in span.split("-"))
        wall = datetime.combine(day, first)
        stop = datetime.combine(day, last)
        while wall + length <= stop:
            start = local_instant(day, wall.time(), tz)
            if start is not None:
                s = start.astimezone(UTC)
                e = (start + length).astimezone(UTC)
                out.append((f"{s:%Y-%m-%d %H:%M:%S}+00", f"{e:%Y-%m-%d %H:%M:%S}+00"))
            wall += length
    return out


def generate_rows(
    doctors: int, days: int, booked: float, rng: random.Random
) -> Iterator[tuple[UUID, int, int, str]]:
    """Per doctor: its id, slots offered, slots left free, and their COPY text."""
    times: dict[tuple[str, date, int], list[tuple[str, str]]] = {}
    calendars = {tz: horizon_days(tz, days) for tz in TIME_ZONES}
    orgs = [uuid4() for _ in range(ORGANISATIONS)]
    for _ in range(doctors):
        doctor = uuid4()
        tz = rng.choice(TIME_ZONES)
        specialty = rng.choice(SPECIALTIES)
        langs = "," + ",".join(sorted(rng.sample(LANGUAGES, rng.randint(1, 3)))) + ","
        parts: list[tuple[str, str, int]] = []
        for code, minutes, kind in TYPES:
            practice, org = uuid4(), rng.choice(orgs)
            prefix = f"{doctor}\t{practice}\t{code}\t"
            suffix = f"\t{org}\t{specialty}\t{langs}\t{kind}\t{tz}\n"
            parts.append((prefix, suffix, minutes))
        lines: list[str] = []
        offered = 0
        for day in calendars[tz]:
            if day.weekday() not in WORKDAYS:
                continue
            iso = day.isoformat()
            for prefix, suffix, minutes in parts:
                key = (tz, day, minutes)
                if key not in times:
                    times[key] = slot_times(tz, day, minutes)
                for s, e in times[key]:
                    offered += 1
                    if rng.random() >= booked:
                        lines.append(f"{prefix}{s}\t{e}\t{iso}{suffix}")
        yield doctor, offered, len(lines), "".join(lines)


def bulk_seed(url: str, doctors: int, days: int, booked: float, rng: random.Random) -> SeedReport:
    """Fill ``availability_slots`` with COPY (indexes dropped for the load and rebuilt)."""
    with psycopg.connect(url, autocommit=True) as conn:
        constraints = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'availability_slots'::regclass AND contype IN ('p', 'u') "
            "ORDER BY conname"
        ).fetchall()
        owned = {str(name) for name, _ in constraints}
        indexes = [
            (str(name), str(definition))
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = 'availability_slots' "
                "ORDER BY indexname"
            ).fetchall()
            if str(name) not in owned
        ]
    ids: list[UUID] = []
    offered = rows = 0
    start = time.perf_counter()
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.execute("TRUNCATE availability_slots")
            for name, _ in indexes:
                cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
            for name, _ in constraints:
                cur.execute(
                    sql.SQL("ALTER TABLE availability_slots DROP CONSTRAINT {}").format(
                        sql.Identifier(str(name))
                    )
                )
            copy_sql = f"COPY availability_slots ({COLUMNS}) FROM STDIN (FREEZE)"
            with cur.copy(copy_sql) as copy:
                for doctor, n_offered, n_rows, text in generate_rows(doctors, days, booked, rng):
                    ids.append(doctor)
                    offered += n_offered
                    rows += n_rows
                    copy.write(text)
        conn.commit()
        loaded = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute("SET maintenance_work_mem = '512MB'")
            for name, definition in constraints:
                cur.execute(
                    sql.SQL("ALTER TABLE availability_slots ADD CONSTRAINT {} ").format(
                        sql.Identifier(str(name))
                    )
                    + sql.SQL(str(definition))  # from the catalog
                )
            for _, definition in indexes:
                cur.execute(sql.SQL(definition))  # from the catalog
        conn.commit()
    return SeedReport(ids, offered, rows, loaded - start, time.perf_counter() - loaded)


def analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) availability_slots")


@dataclass
class RealDoctor:
    doctor_id: UUID
    practices: list[UUID] = field(default_factory=list)


def create_real_doctors(services: Services, count: int, rng: random.Random) -> list[RealDoctor]:
    """Doctors with schedules through the command bus (the same shape as the seeded ones)."""
    orgs = [uuid4() for _ in range(4)]
    plans = [
        (
            uuid4(),
            rng.choice(orgs),
            rng.choice(TIME_ZONES),
            rng.choice(SPECIALTIES),
            tuple(rng.sample(LANGUAGES, 2)),
        )
        for _ in range(count)
    ]

    def one(plan: tuple[UUID, UUID, str, str, tuple[str, ...]]) -> RealDoctor:
        doctor_id, org, tz, specialty, langs = plan
        actor = Actor(doctor_id, Role.DOCTOR, org)
        services.bus.handle(cmd.OpenSchedule(actor, doctor_id, tz, specialty, langs))
        doctor = RealDoctor(doctor_id)
        for code, minutes, kind in TYPES:
            practice = uuid4()
            doctor.practices.append(practice)
            services.bus.handle(cmd.AddPractice(actor, doctor_id, practice, org))
            services.bus.handle(
                cmd.SetConsultationType(actor, doctor_id, practice, code, minutes, 0, (kind,))
            )
            for weekday in WORKDAYS:
                services.bus.handle(cmd.SetWeeklyHours(actor, doctor_id, practice, weekday, SPANS))
        return doctor

    with ThreadPoolExecutor(max_workers=4) as pool:
        doctors = list(pool.map(one, plans))
    while services.worker.tick():
        pass
    return doctors


# -- the client side ----------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (q in 0..1)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


Request = tuple[str, dict[str, Any]]


class Requests:
    """What each latency series asks, drawn at random (seeded)."""

    def __init__(self, doctors: Sequence[UUID], rng: random.Random) -> None:
        self.doctors, self.rng = list(doctors), rng

    def _window(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {"from": now.isoformat(), "to": (now + timedelta(days=14)).isoformat()}

    def one_doctor(self) -> Request:
        return f"/v1/doctors/{self.rng.choice(self.doctors)}/slots", self._window()

    def one_doctor_typed(self) -> Request:
        path, params = self.one_doctor()
        return path, {**params, "type": self.rng.choice(TYPES)[0]}

    def earliest(self) -> Request:
        return "/v1/slots", {"specialty": self.rng.choice(SPECIALTIES), "limit": 10}

    def earliest_typed(self) -> Request:
        path, params = self.earliest()
        return path, {**params, "type": self.rng.choice(TYPES)[0]}

    def floor(self) -> Request:
        return f"/v1/bench-floor/{self.rng.choice(self.doctors)}", self._window()

    def floor_noauth(self) -> Request:
        return f"/v1/bench-floor-noauth/{self.rng.choice(self.doctors)}", self._window()

    def by_name(self, name: str) -> Callable[[], Request]:
        makers: dict[str, Callable[[], Request]] = {
            "one_doctor": self.one_doctor,
            "one_doctor_typed": self.one_doctor_typed,
            "earliest": self.earliest,
            "earliest_typed": self.earliest_typed,
            "floor": self.floor,
            "floor_noauth": self.floor_noauth,
        }
        return makers[name]


@dataclass
class Usage:
    """What the API process and the database's backends spent during a measured window."""

    server_cpu_s: float
    pg_cpu_s: float
    phases: dict[str, dict[str, float]]

    def per_op(self, ops: int) -> dict[str, float]:
        """Per operation: CPU ms of the API process and of the database backends, database
        transactions of the API process, garbage collection ms and projection CPU ms."""
        ops = max(1, ops)

        def total(prefix: str, suffix: str = "") -> float:
            return sum(
                v["total"]
                for k, v in self.phases.items()
                if k.startswith(prefix) and k.endswith(suffix)
            )

        return {
            "server_cpu_ms": 1000 * self.server_cpu_s / ops,
            "db_cpu_ms": 1000 * self.pg_cpu_s / ops,
            "db_transactions": self.phases.get("db_transaction", {}).get("n", 0) / ops,
            "gc_ms": (total("gc_gen") - total("gc_gen", ".cpu")) / ops,
            "projection_cpu_ms": total("projection_", ".cpu") / ops,
        }


class Meters:
    def __init__(self, server: Server, pg: PgMeter) -> None:
        self.server, self.pg = server, pg

    def start(self) -> tuple[float, dict[int, float]]:
        self.server.phases()  # start the server's step timings afresh
        return self.server.cpu_seconds(), self.pg.sample()

    def stop(self, mark: tuple[float, dict[int, float]]) -> Usage:
        server_cpu = self.server.cpu_seconds() - mark[0]
        pg_cpu = PgMeter.delta(mark[1], self.pg.sample())
        return Usage(server_cpu, pg_cpu, self.server.phases())


@dataclass
class Series:
    """One latency series: milliseconds per request, sizes of the answers."""

    ms: list[float]
    slots: list[int]
    errors: list[str]
    usage: Usage | None = None

    @property
    def p50(self) -> float:
        return percentile(self.ms, 0.5)

    @property
    def p99(self) -> float:
        return percentile(self.ms, 0.99)

    def per_request(self) -> dict[str, float]:
        if self.usage is None:
            return {}
        return self.usage.per_op(len(self.ms) + len(self.errors))


def run_series(
    client: httpx.Client,
    make: Callable[[], Request],
    n: int,
    max_seconds: float,
    meters: Meters | None = None,
) -> Series:
    """``n`` requests one after the other (stops early after ``max_seconds``)."""
    ms: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    mark = meters.start() if meters else None
    started = time.perf_counter()
    for _ in range(n):
        path, params = make()
        t0 = time.perf_counter()
        response = client.get(path, params=params)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            errors.append(f"HTTP {response.status_code}: {response.text[:160]}")
        else:
            ms.append(1000 * elapsed)
            sizes.append(len(orjson.loads(response.content)["slots"]))
        if time.perf_counter() - started > max_seconds:
            break
    usage = meters.stop(mark) if meters and mark else None
    return Series(ms, sizes, errors, usage)


class Refused(Exception):
    pass


@dataclass(frozen=True)
class Booking:
    doctor_id: UUID
    practice_id: UUID
    type_code: str
    kind: str
    start: datetime


class Bookers:
    """Each client books the free slots of its own doctors (no two clients share a doctor, so
    none share a doctor-day), one after the other, in a shuffled order."""

    def __init__(
        self,
        clients: Sequence[httpx.Client],
        patients: Sequence[UUID],
        queues: list[list[Booking]],
    ) -> None:
        self.clients, self.patients, self.queues = clients, patients, queues
        self.booked = 0
        self._lock = threading.Lock()

    def __call__(self, index: int) -> None:
        queue = self.queues[index]
        if not queue:
            raise Refused("no free slot left for this client")
        slot = queue.pop()
        response = self.clients[index].post(
            "/v1/consultations",
            json={
                "patient_id": str(self.patients[index]),
                "doctor_id": str(slot.doctor_id),
                "practice_id": str(slot.practice_id),
                "type_code": slot.type_code,
                "start": slot.start.isoformat(),
                "kind": slot.kind,
            },
        )
        if response.status_code != 201:
            raise Refused(f"HTTP {response.status_code}: {response.text[:200]}")
        with self._lock:
            self.booked += 1


def patient_sessions(services: Services, n: int) -> tuple[list[UUID], list[str]]:
    """``n`` patient accounts, each signed in as ``POST /v1/sessions`` does: the ids of their
    own records (what they book for) and their session tokens."""
    records: list[UUID] = []
    tokens: list[str] = []
    for i in range(n):
        email, password = f"bench-patient-{i}-{uuid4().hex[:8]}@example.test", "bench passphrase"
        services.accounts.open(email, password)
        signed = services.accounts.sign_in(email, password, None)
        tokens.append(
            services.sessions.open(
                signed.account_id,
                signed.role,
                signed.organisation_id,
                stepped_up=signed.stepped_up,
                enrolment_only=signed.enrolment_only,
            )
        )
        records.append(record_of(signed.account_id))
    return records, tokens


def bookable(services: Services, doctor_id: UUID) -> list[Booking]:
    """A doctor's free slots from tomorrow on that overlap no other chosen one (the doctor's
    day refuses overlapping bookings), from the read model."""
    begin = datetime.now(UTC) + timedelta(days=1)
    free = services.availability.of_doctor(
        doctor_id, begin, begin + timedelta(days=120), limit=100_000
    )
    chosen: list[Booking] = []
    last_end = datetime.min.replace(tzinfo=UTC)
    for s in sorted(free, key=lambda s: (s.start, s.end)):
        if s.start >= last_end:
            chosen.append(Booking(s.doctor_id, s.practice_id, s.type_code, s.kinds[0], s.start))
            last_end = s.end
    return chosen


def booking_queues(
    services: Services, doctors: Sequence[RealDoctor], clients: int, rng: random.Random
) -> list[list[Booking]]:
    """The real doctors' bookable slots, split by doctor over the clients, shuffled."""
    queues: list[list[Booking]] = [[] for _ in range(clients)]
    for n, doctor in enumerate(doctors):
        queues[n % clients].extend(bookable(services, doctor.doctor_id))
    for queue in queues:
        rng.shuffle(queue)
    return queues


@dataclass
class Throughput:
    rate: float
    ops: int
    errors: list[str]
    host_busy: float | None
    phases: dict[str, dict[str, float]]
    #: CPU ms (server, db, client, rest of the machine), db transactions, gc ms, projection
    #: CPU ms, per operation
    per_op: dict[str, float]
    #: after a booking window: events the availability read model had yet to process, and
    #: the seconds it took to catch up
    lag_events: int = 0
    catchup_s: float = 0.0


def run_throughput(
    op: Callable[[int], None], threads: int, seconds: float, meters: Meters
) -> Throughput:
    mark = meters.start()
    slot = _support.run_threads(op, threads, seconds)
    usage = meters.stop(mark)
    per_op = usage.per_op(slot.ops)
    per_op["client_cpu_ms"] = 1000 * slot.cpu_seconds / max(1, slot.ops)
    if slot.host_busy is not None:
        busy = slot.host_busy * (os.cpu_count() or 1) * slot.seconds
        rest = busy - slot.cpu_seconds - usage.server_cpu_s - usage.pg_cpu_s
        per_op["rest_cpu_ms"] = 1000 * max(0.0, rest) / max(1, slot.ops)
    return Throughput(slot.rate, slot.ops, slot.errors, slot.host_busy, usage.phases, per_op)


def catch_up(
    services: Services, name: str = "availability", timeout: float = 60.0
) -> tuple[int, float]:
    """Wait until the server's projection ``name`` has processed every event so far; returns
    (events it had yet to process, seconds it took)."""
    runner = services.runners[name]
    head = services.recorder.max_notification_id() or 0
    lag = max(0, head - runner.position())
    t0 = time.perf_counter()
    runner.wait_for(head, timeout)
    return lag, time.perf_counter() - t0


class Getter:
    def __init__(self, clients: Sequence[httpx.Client], make: Callable[[], Request]) -> None:
        self.clients, self.make = clients, make

    def __call__(self, index: int) -> None:
        path, params = self.make()
        response = self.clients[index].get(path, params=params)
        if response.status_code != 200:
            raise Refused(f"HTTP {response.status_code}: {response.text[:200]}")


# -- diagnostics ----------------------------------------------------------------------------
class CaptureSql(SqlAvailability):
    """The read model's own SQL and parameters for a query, without running it."""

    captured: tuple[str, list[Any]] | None = None

    def _query(self, sql: str, params: list[Any]) -> list[FreeSlot]:
        self.captured = (sql, params)
        return []


def timed(fn: Callable[[], object], n: int, max_seconds: float = 3.0) -> list[float]:
    """Milliseconds of ``n`` calls (fewer if they take more than ``max_seconds`` together)."""
    out: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for _ in range(n):
        if out and time.perf_counter() > deadline:
            break
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def summary(ms: Sequence[float]) -> dict[str, float]:
    return {"p50": round(percentile(ms, 0.5), 3), "p99": round(percentile(ms, 0.99), 3)}


def diagnose_reads(
    services: Services, url: str, doctors: Sequence[UUID], rng: random.Random, n: int
) -> dict[str, Any]:
    """Where a read's time goes outside HTTP: SQL alone (psycopg, autocommit), the read
    model's query method (pool, transaction, row objects), building and rendering the page."""
    capture = CaptureSql(services.db, lambda cls, ident: None)
    page_adapter = TypeAdapter(SlotPage)
    out: dict[str, Any] = {}

    def one_doctor_args() -> tuple[UUID, datetime, datetime]:
        now = datetime.now(UTC)
        return rng.choice(doctors), now, now + timedelta(days=14)

    def one_doctor_sql() -> tuple[str, list[Any]]:
        capture.captured = None
        capture.of_doctor(*one_doctor_args())
        assert capture.captured is not None
        return capture.captured

    def earliest_sql() -> tuple[str, list[Any]]:
        capture.captured = None
        capture.earliest(specialty=rng.choice(SPECIALTIES), type_code=None, after=datetime.now(UTC))
        assert capture.captured is not None
        return capture.captured

    with psycopg.connect(url, autocommit=True) as conn:
        for name, make in (("one_doctor", one_doctor_sql), ("earliest", earliest_sql)):
            statement, params = make()
            conn.execute(statement, params).fetchall()  # warm

            def run(make: Callable[[], tuple[str, list[Any]]] = make) -> None:
                q, p = make()
                conn.execute(q, p).fetchall()

            out[f"{name}_sql_ms"] = summary(timed(run, n))
            explain = "EXPLAIN (ANALYZE, BUFFERS) " + statement
            plan = conn.execute(explain, params).fetchall()
            out[f"{name}_plan"] = [str(r[0]) for r in plan]

    def query_one() -> list[FreeSlot]:
        return services.availability.of_doctor(*one_doctor_args())

    def query_earliest() -> list[FreeSlot]:
        return services.availability.earliest(
            specialty=rng.choice(SPECIALTIES), type_code=None, after=datetime.now(UTC)
        )

    out["one_doctor_query_ms"] = summary(timed(query_one, n))
    out["earliest_query_ms"] = summary(timed(query_earliest, n))
    sample = query_one()

    def render() -> bytes:
        return page_adapter.dump_json(page_adapter.validate_python(_page(sample, None)))

    out["one_doctor_render_ms"] = summary(timed(render, n))
    out["one_doctor_render_slots"] = len(sample)
    return out


def diagnose_booking(
    services: Services, url: str, doctor: RealDoctor, n: int, top: int = 12
) -> dict[str, Any]:
    """Bookings through the command bus in this process, one at a time (no HTTP, no
    concurrency): time, CPU of this process and of the database per booking, and a profile."""
    slots = bookable(services, doctor.doctor_id)
    patient = uuid4()
    actor = Actor(patient, Role.PATIENT, None)

    def book() -> None:
        b = slots.pop()
        services.bus.handle(
            BookConsultation(
                actor, patient, b.doctor_id, b.practice_id, b.type_code, b.start, Kind(b.kind)
            )
        )

    for _ in range(5):
        book()
    transactions = [0]
    original = services.db.transaction

    def counted(*args: Any, **kwargs: Any) -> Any:
        transactions[0] += 1
        return original(*args, **kwargs)

    pg = PgMeter(url)
    services.db.transaction = counted  # type: ignore[method-assign]
    try:
        before = pg.sample()
        cpu0 = time.process_time()
        ms = timed(book, n)
        cpu = time.process_time() - cpu0
        pg_cpu = PgMeter.delta(before, pg.sample())
    finally:
        del services.db.transaction  # back to the class's method
        pg.close()
    profiler = cProfile.Profile()
    profiled = max(1, n // 2)
    profiler.enable()
    for _ in range(profiled):
        book()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_, calls, own, cum, _) in stats.items():
        rows.append((own, cum, calls, f"{Path(file).name}:{line}({func})", file))
    root = str(Path(__file__).resolve().parents[2])

    def fmt(r: tuple[float, float, int, str, str]) -> str:
        own, cum, calls, where, _ = r
        return (
            f"{1000 * own / profiled:.2f} self / {1000 * cum / profiled:.2f} cum ms, "
            f"{calls / profiled:.1f} calls: {where}"
        )

    own_top = [fmt(r) for r in sorted(rows, key=lambda r: -r[0])[:top]]
    ours = [
        r
        for r in rows
        if r[4].startswith(root) and "/.venv/" not in r[4] and "/ops/bench/" not in r[4]
    ]
    cum_top = [fmt(r) for r in sorted(ours, key=lambda r: -r[1])[:top]]
    return {
        "bus_booking_ms": summary(ms),
        "bus_booking_cpu_ms": round(1000 * cpu / n, 3),
        "bus_booking_db_cpu_ms": round(1000 * pg_cpu / n, 3),
        "bus_booking_db_transactions": round(transactions[0] / n, 2),
        "profile_self_top": own_top,
        "profile_project_cumulative_top": cum_top,
    }


def what_if_earliest(
    url: str, client: httpx.Client, requests: Requests, n: int, max_seconds: float
) -> dict[str, Any]:
    """The earliest-slots series again with an index that serves ``ORDER BY start_at`` within
    a specialty (on this scratch database only)."""
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute(
            "CREATE INDEX bench_whatif_specialty_start "
            "ON availability_slots (specialty, start_at, doctor_id)"
        )
        conn.execute("ANALYZE availability_slots")
        built = time.perf_counter() - t0
    series = run_series(client, requests.earliest, n, max_seconds)
    return {
        "index": "(specialty, start_at, doctor_id)",
        "build_s": round(built, 2),
        "earliest_p50_ms": round(series.p50, 2),
        "earliest_p99_ms": round(series.p99, 2),
        "requests": len(series.ms),
        "errors": len(series.errors),
    }


# -- the run --------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--doctors", type=int, default=1000, help="bulk-seeded doctors")
    parser.add_argument("--days", type=int, default=90, help="days of slots ahead")
    parser.add_argument("--booked", type=float, default=0.3, help="share of slots left out")
    parser.add_argument("--real-doctors", type=int, default=20, help="doctors via the bus")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--requests", type=int, default=400, help="requests per latency series")
    parser.add_argument(
        "--max-series-seconds", type=float, default=8.0, help="cap of one latency series"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="booking window per round")
    parser.add_argument("--floor-seconds", type=float, default=3.0, help="floor window per round")
    parser.add_argument("--seed", type=int, default=20240601, help="random seed")
    parser.add_argument("--no-diagnose", action="store_true", help="skip the diagnostics")
    parser.add_argument(
        "--server-gc-freeze",
        action="store_true",
        help="what-if: gc.freeze() in the API process once it is built",
    )
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--keyring", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pool-size", type=int, default=24, help=argparse.SUPPRESS)
    return parser.parse_args()


def rotate(items: Sequence[str], by: int) -> list[str]:
    shift = by % len(items)
    return list(items[shift:]) + list(items[:shift])


def count_refusals(errors: Sequence[str]) -> dict[str, int]:
    """``Refused: HTTP 409: ...`` -> ``HTTP 409``; other exceptions by their name."""
    keys = []
    for error in errors:
        name, _, rest = error.partition(": ")
        keys.append(rest.split(":", 1)[0] if name == "Refused" else name)
    return dict(Counter(keys))


COST_NAMES = {
    "server_cpu_ms": "server CPU",
    "db_cpu_ms": "db CPU",
    "client_cpu_ms": "client CPU",
    "rest_cpu_ms": "rest CPU",
    "db_transactions": "db tx",
    "gc_ms": "gc",
    "projection_cpu_ms": "projection CPU",
}


def costs_text(costs: dict[str, float]) -> str:
    return ", ".join(f"{COST_NAMES[k]} {costs[k]:.2f}" for k in COST_NAMES if k in costs)


def median_costs(rounds: Sequence[dict[str, float]]) -> dict[str, float]:
    keys = [k for k in COST_NAMES if any(k in r for r in rounds)]
    return {k: round(med([r.get(k) for r in rounds]), 3) for k in keys}


def steps_text(steps: dict[str, float]) -> str:
    """The request's own steps (not the projections' or the collector's), wall (CPU)."""
    skip = ("projection_", "gc_", "db_transaction")
    return ", ".join(
        f"{k} {v:.2f}" + (f" ({steps[k + '.cpu']:.2f})" if k + ".cpu" in steps else "")
        for k, v in steps.items()
        if not k.endswith(".cpu") and not k.startswith(skip)
    )


def med(values: Sequence[float | None]) -> float:
    return _support.median([v for v in values if v is not None])


def phase_p50s(phases: Sequence[dict[str, dict[str, float]]]) -> dict[str, float]:
    """Median over rounds of each step's p50 (ms)."""
    labels = sorted({label for p in phases for label in p})
    return {
        label: round(med([p[label]["p50"] for p in phases if label in p]), 3) for label in labels
    }


def main() -> int:
    args = parse_args()
    if args.serve:
        return serve(args.serve, args.keyring, args.port, args.pool_size, args.server_gc_freeze)
    rng = random.Random(args.seed)
    clients_n: int = args.clients
    with _support.scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        keyring = Path(keydir) / "keyring.json"
        services = build(
            Settings(database_url=url, keyring_path=keyring, projections="external", pool_size=8)
        )
        server: Server | None = None
        pg: PgMeter | None = None
        http: list[httpx.Client] = []
        try:
            _support.say(
                f"database {url.rsplit('/', 1)[-1]}: bulk-seeding availability_slots (COPY) for "
                f"{args.doctors} doctors x {args.days} days, {args.booked:.0%} of slots left out"
            )
            seeded = bulk_seed(url, args.doctors, args.days, args.booked, rng)
            _support.say(
                f"  {seeded.rows} free slots of {seeded.offered} offered: generate+COPY "
                f"{seeded.generate_copy_s:.1f}s, indexes {seeded.index_s:.1f}s"
            )
            t0 = time.perf_counter()
            # one more than asked: the last one is kept for the diagnostics' bookings
            everyone = create_real_doctors(services, args.real_doctors + 1, rng)
            real, spare = everyone[:-1], everyone[-1]
            real_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            analyze(url)
            analyze_s = time.perf_counter() - t0
            real_ids = [d.doctor_id for d in real]
            with services.db.transaction(write=False) as cur:
                cur.execute(
                    "SELECT count(*), count(*) FILTER (WHERE doctor_id = ANY(%s)) "
                    "FROM availability_slots",
                    (real_ids,),
                )
                total_rows, real_rows = (int(v) for v in cur.fetchone())
                cur.execute("SELECT pg_total_relation_size('availability_slots')")
                table_bytes = int(cur.fetchone()[0])
            _support.say(
                f"  {len(everyone)} real doctors through the command bus and projected in "
                f"{real_s:.1f}s ({real_rows} slots of the {len(real)} booked on); "
                f"VACUUM ANALYZE {analyze_s:.1f}s; table {total_rows} rows, "
                f"{table_bytes / 2**20:.0f} MiB with indexes"
            )

            patients, tokens = patient_sessions(services, clients_n)
            queues = booking_queues(services, real, clients_n, rng)
            server = Server(url, keyring, args.pool_size, args.server_gc_freeze)
            server.wait_ready()
            pg = PgMeter(url)
            meters = Meters(server, pg)
            http = [
                httpx.Client(
                    base_url=server.base_url,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30.0,
                )
                for token in tokens
            ]
            requests = Requests(seeded.doctors, rng)
            bookers = Bookers(http, patients, queues)
            getters = {
                "floor_rps": Getter(http, requests.floor),
                "floor_noauth_rps": Getter(http, requests.floor_noauth),
            }
            _support.say(
                f"API on {server.base_url} (pid {server.proc.pid}); "
                f"{sum(len(q) for q in queues)} bookable slots for {clients_n} clients; "
                "warming up"
            )
            for name in LATENCY:
                run_series(http[0], requests.by_name(name), 30, 5.0)
            for getter in getters.values():
                _support.run_threads(getter, clients_n, 0.5)
            _support.run_threads(bookers, clients_n, 1.0)
            warm_booked = bookers.booked
            catch_up(services)

            latency: dict[str, list[Series]] = {name: [] for name in LATENCY}
            throughput: dict[str, list[Throughput]] = {name: [] for name in THROUGHPUT}
            tasks = [*LATENCY, *THROUGHPUT]
            _support.say(
                f"{args.rounds} rounds: {args.requests} sequential requests per latency series "
                f"(at most {args.max_series_seconds:.0f}s), {clients_n} clients x "
                f"{args.floor_seconds:.0f}s floor, x {args.seconds:.0f}s bookings"
            )
            for round_no in range(args.rounds):
                for task in rotate(tasks, round_no):
                    if task in latency:
                        s = run_series(
                            http[0],
                            requests.by_name(task),
                            args.requests,
                            args.max_series_seconds,
                            meters,
                        )
                        latency[task].append(s)
                        total = s.usage.phases.get("server_total", {}) if s.usage else {}
                        _support.say(
                            f"round {round_no + 1} {task:>18}: p50 {s.p50:7.2f} ms  p99 "
                            f"{s.p99:7.2f} ms  ({len(s.ms)} requests, "
                            f"{_support.median([float(x) for x in s.slots]):.0f} slots each; "
                            f"in server p50 {total.get('p50', 0.0):.2f} ms; per request "
                            + costs_text(s.per_request())
                            + (f"; {len(s.errors)} errors" if s.errors else "")
                            + ")"
                        )
                    else:
                        op: Callable[[int], None] = bookers if task == "bookings" else getters[task]
                        seconds = args.seconds if task == "bookings" else args.floor_seconds
                        t = run_throughput(op, clients_n, seconds, meters)
                        if task == "bookings":
                            # the next measurement starts with the read model caught up
                            t.lag_events, t.catchup_s = catch_up(services)
                        throughput[task].append(t)
                        _support.say(
                            f"round {round_no + 1} {task:>18}: {t.rate:8.1f}/s  (per op "
                            + costs_text(t.per_op)
                            + (f"; machine {t.host_busy:.0%} busy" if t.host_busy else "")
                            + (f"; {len(t.errors)} refused" if t.errors else "")
                            + (
                                f"; availability {t.lag_events} events behind, caught up in "
                                f"{t.catchup_s:.1f}s"
                                if task == "bookings"
                                else ""
                            )
                            + ")"
                        )

            def lat(name: str, attr: str) -> float:
                return round(med([getattr(s, attr) for s in latency[name]]), 2)

            def thr(name: str, attr: str) -> float:
                return round(med([getattr(t, attr) for t in throughput[name]]), 3)

            result: dict[str, Any] = {
                "one_doctor_p99_ms": lat("one_doctor", "p99"),
                "earliest_p99_ms": lat("earliest", "p99"),
                "bookings_per_s": round(thr("bookings", "rate"), 1),
                "floor_rps": round(thr("floor_rps", "rate"), 1),
            }
            result["booking_ratio"] = _support.ratio(result["bookings_per_s"], result["floor_rps"])
            for name in LATENCY:
                result[f"{name}_p50_ms"] = lat(name, "p50")
                result[f"{name}_p99_ms"] = lat(name, "p99")
            result["floor_noauth_rps"] = round(thr("floor_noauth_rps", "rate"), 1)
            for name in ("one_doctor", "one_doctor_typed"):
                result[f"{name}_slots_per_response"] = _support.median(
                    [float(x) for s in latency[name] for x in s.slots]
                )
            result["server_steps_p50_ms"] = {
                **{n: phase_p50s([s.usage.phases for s in latency[n] if s.usage]) for n in LATENCY},
                **{n: phase_p50s([t.phases for t in throughput[n]]) for n in THROUGHPUT},
            }
            result["costs_per_op"] = {
                **{n: median_costs([s.per_request() for s in latency[n]]) for n in LATENCY},
                **{n: median_costs([t.per_op for t in throughput[n]]) for n in THROUGHPUT},
            }
            result["availability_lag_after_bookings"] = {
                "events": [t.lag_events for t in throughput["bookings"]],
                "catchup_s": [round(t.catchup_s, 2) for t in throughput["bookings"]],
            }
            result["host_busy"] = {n: round(thr(n, "host_busy"), 3) for n in THROUGHPUT}
            windows = [s.usage.phases for n in LATENCY for s in latency[n] if s.usage] + [
                t.phases for n in THROUGHPUT for t in throughput[n]
            ]
            result["server_gc"] = {
                "gen2_collections": int(sum(w.get("gc_gen2", {}).get("n", 0) for w in windows)),
                "gen2_pause_p50_ms": round(
                    med([w["gc_gen2"]["p50"] for w in windows if "gc_gen2" in w]), 2
                ),
                "gen2_pause_cpu_p50_ms": round(
                    med([w["gc_gen2.cpu"]["p50"] for w in windows if "gc_gen2.cpu" in w]), 2
                ),
                "gen2_pause_max_p99_ms": max(
                    [w["gc_gen2"]["p99"] for w in windows if "gc_gen2" in w], default=0.0
                ),
                "tracked_objects": int(
                    max([w.get("gc_tracked_objects", {}).get("n", 0) for w in windows], default=0)
                ),
            }
            booking_errors = [e for t in throughput["bookings"] for e in t.errors]
            result["booking_refusals"] = count_refusals(booking_errors)
            result["booking_refusal_examples"] = booking_errors[:3]
            read_errors = [e for n in LATENCY for s in latency[n] for e in s.errors] + [
                e
                for n in ("floor_rps", "floor_noauth_rps")
                for t in throughput[n]
                for e in t.errors
            ]
            result["request_errors"] = len(read_errors)
            result["request_error_examples"] = read_errors[:3]
            result["bookings_made"] = bookers.booked
            result["bookings_warmup"] = warm_booked
            result.update(
                seeded_slots=seeded.rows,
                seeded_offered=seeded.offered,
                seeded_doctors=args.doctors,
                seeded_days=args.days,
                booked_share=args.booked,
                real_doctors=len(real),
                real_doctor_slots=real_rows,
                table_rows=total_rows,
                table_mib=round(table_bytes / 2**20, 1),
                seed_seconds={
                    "copy": round(seeded.generate_copy_s, 2),
                    "indexes": round(seeded.index_s, 2),
                    "real_doctors": round(real_s, 2),
                    "vacuum_analyze": round(analyze_s, 2),
                },
                rounds=args.rounds,
                requests=args.requests,
                server_gc_freeze=args.server_gc_freeze,
                clients=clients_n,
                cpus=os.cpu_count(),
                samples={
                    **{f"{n}_p99_ms": [round(s.p99, 2) for s in latency[n]] for n in LATENCY},
                    **{n: [round(t.rate, 1) for t in throughput[n]] for n in THROUGHPUT},
                },
            )
            result["goals"] = {
                "one_doctor_p99_ms": result["one_doctor_p99_ms"] < GOALS["one_doctor_p99_ms"],
                "earliest_p99_ms": result["earliest_p99_ms"] < GOALS["earliest_p99_ms"],
                "booking_ratio": result["booking_ratio"] >= GOALS["booking_ratio"],
            }

            if not args.no_diagnose:
                _support.say("diagnostics (outside HTTP, in the benchmark process)")
                diag = diagnose_reads(services, url, seeded.doctors, rng, 200)
                diag.update(diagnose_booking(services, url, spare, 100))
                if not result["goals"]["earliest_p99_ms"]:
                    diag["earliest_what_if"] = what_if_earliest(
                        url, http[0], requests, args.requests, args.max_series_seconds
                    )
                result["diagnostics"] = diag
        finally:
            for client in http:
                client.close()
            if pg is not None:
                pg.close()
            if server is not None:
                server.stop()
            services.close()

    _report(result)
    _support.emit(result)
    return 0


def _report(result: dict[str, Any]) -> None:
    say = _support.say
    steps = result["server_steps_p50_ms"]
    say("")
    say(
        "data: availability_slots BULK-SEEDED with COPY for "
        f"{result['seeded_doctors']} doctors x {result['seeded_days']} days "
        f"({result['seeded_slots']} free of {result['seeded_offered']} offered slots; no events); "
        f"{result['real_doctors']} real doctors through the command bus "
        f"({result['real_doctor_slots']} slots), on which the bookings are made"
    )
    say(f"{'series':>18} {'p50 ms':>8} {'p99 ms':>8}   server steps: p50 ms (thread CPU)")
    for name in LATENCY:
        p50, p99 = result[f"{name}_p50_ms"], result[f"{name}_p99_ms"]
        say(f"{name:>18} {p50:>8.2f} {p99:>8.2f}   {steps_text(steps[name])}")
    say(
        f"{'':>18} per request: "
        + "; ".join(f"{n} {costs_text(result['costs_per_op'][n])}" for n in LATENCY)
    )
    say(
        f"floor {result['floor_rps']:.0f} req/s with auth, {result['floor_noauth_rps']:.0f} "
        f"without; bookings {result['bookings_per_s']:.1f}/s "
        f"(ratio {result['booking_ratio']:.3f}); refusals {result['booking_refusals'] or 'none'}"
    )
    for name in THROUGHPUT:
        say(f"{name:>18} per op: {costs_text(result['costs_per_op'][name])}")
        say(f"{'':>18} server steps: {steps_text(steps[name])}")
    gc_info = result["server_gc"]
    say(
        f"API process garbage collector: {gc_info['gen2_collections']} full collections, "
        f"pause p50 {gc_info['gen2_pause_p50_ms']:.1f} ms (CPU "
        f"{gc_info['gen2_pause_cpu_p50_ms']:.1f} ms; max p99 "
        f"{gc_info['gen2_pause_max_p99_ms']:.1f} ms), {gc_info['tracked_objects']} tracked objects"
    )
    lag = result["availability_lag_after_bookings"]
    say(
        f"availability read model after each booking window: {lag['events']} events behind, "
        f"caught up in {lag['catchup_s']} s"
    )
    diag = result.get("diagnostics")
    if diag:
        say(
            f"one doctor outside HTTP: SQL p50 {diag['one_doctor_sql_ms']['p50']:.2f} ms, "
            f"query method p50 {diag['one_doctor_query_ms']['p50']:.2f} ms, render "
            f"({diag['one_doctor_render_slots']} slots) p50 "
            f"{diag['one_doctor_render_ms']['p50']:.2f} ms"
        )
        say(
            f"earliest outside HTTP: SQL p50 {diag['earliest_sql_ms']['p50']:.2f} ms "
            f"p99 {diag['earliest_sql_ms']['p99']:.2f} ms, query method p50 "
            f"{diag['earliest_query_ms']['p50']:.2f} ms"
        )
        say("earliest plan: " + " | ".join(line.strip() for line in diag["earliest_plan"][:8]))
        what_if = diag.get("earliest_what_if")
        if what_if:
            say(
                f"what-if index {what_if['index']}: earliest p50 {what_if['earliest_p50_ms']:.2f}"
                f" ms, p99 {what_if['earliest_p99_ms']:.2f} ms over HTTP"
            )
        say(
            f"booking through the bus alone: p50 {diag['bus_booking_ms']['p50']:.2f} ms, "
            f"CPU {diag['bus_booking_cpu_ms']:.2f} ms + db {diag['bus_booking_db_cpu_ms']:.2f} ms, "
            f"{diag['bus_booking_db_transactions']:.1f} transactions per booking; "
            "profile (per booking):"
        )
        for line in diag["profile_project_cumulative_top"]:
            say("    " + line)
    say(
        "goals: "
        + ", ".join(
            f"{k} {'met' if ok else 'MISSED'} ({result[k]} vs {GOALS[k]})"
            for k, ok in result["goals"].items()
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
