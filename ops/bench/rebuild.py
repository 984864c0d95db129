"""Projection rebuild speed: the patient directory from zero, against a raw scan of the log.

Seeds a fresh database through the command bus (per patient: registration, contact change and
two consents, so 4 events each), then measures in alternating rounds of one run:

* ``rebuild``: ``runner.reset()`` then ``runner.run_until_caught_up()`` of ``patient_directory``
  (events per second; the reset is timed apart);
* ``scan``: ``SELECT notification_id, originator_id, originator_version, topic, state FROM
  stored_events ORDER BY notification_id`` through psycopg, in keyset pages of 1000 rows;
* ``decode`` (diagnostic): the same scan plus ``mapper.to_domain_event`` (decryption) for each
  row, without writing anything, to split the rebuild's cost between reading and projecting.

    .venv/bin/python ops/bench/rebuild.py [--patients 5000] [--rounds 3] [--profile]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import cProfile
import io
import pstats
import tempfile
import threading
import time
from datetime import date
from typing import Any
from uuid import uuid4

import _support
import psycopg
from eventsourcing.persistence import Notification

from adapters.composition import Services, build
from adapters.readmodels.patient_directory import consent_bit
from adapters.settings import Settings
from commands.patients import ChangeContactDetails, RecordConsent, RegisterPatient
from domain.actor import Actor, Role
from domain.patient import ConsentPurpose
from projections.patient_directory import PatientDirectoryProjection

EVENTS_PER_PATIENT = 4
PAGE = 1000
SCAN_SQL = (
    "SELECT notification_id, originator_id, originator_version, topic, state "
    "FROM stored_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
)
GIVEN = ("Alice", "Bernard", "Chiara", "Dmitri", "Esther", "Farid", "Grace", "Hiroshi")
FAMILY = ("Okafor", "Lindqvist", "Moreau", "Nakamura", "Oliveira", "Petrov", "Quinn", "Rossi")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=5000, help="patients to seed (x4 events)")
    parser.add_argument("--seed-threads", type=int, default=8, help="threads used for seeding")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--profile", action="store_true", help="profile one extra rebuild")
    parser.add_argument(
        "--seconds", type=float, default=None, help="ignored (the work is sized by --patients)"
    )
    return parser.parse_args()


def seed(services: Services, patients: int, threads: int) -> tuple[float, int]:
    """Register ``patients`` patients and give each a contact change and two consents."""
    organisation_id, doctor_id = uuid4(), uuid4()
    errors: list[BaseException] = []

    def work(first: int) -> None:
        try:
            for n in range(first, patients, threads):
                actor = Actor(doctor_id, Role.DOCTOR, organisation_id)
                saved = services.bus.handle(
                    RegisterPatient(
                        actor,
                        given_name=GIVEN[n % len(GIVEN)],
                        family_name=f"{FAMILY[n // len(GIVEN) % len(FAMILY)]}-{n}",
                        birth_date=date(1940 + n % 70, 1 + n % 12, 1 + n % 28),
                        email=f"patient.{n}@example.org",
                        phone=f"+44 20 7946 {n % 10_000:04d}",
                    )
                )
                pid = saved.aggregate_id
                services.bus.handle(
                    ChangeContactDetails(
                        actor,
                        pid,
                        f"p{n}.new@example.org",
                        f"+44 161 496 {n % 10_000:04d}",
                        f"{n} High Street, Manchester",
                    )
                )
                services.bus.handle(RecordConsent(actor, pid, ConsentPurpose.TREATMENT))
                services.bus.handle(RecordConsent(actor, pid, ConsentPurpose.DATA_SHARING))
        except BaseException as exc:
            errors.append(exc)
            raise

    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"seeding failed: {errors[0]!r}") from errors[0]
    services.recorder.sequence_pending()
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT count(*) FROM stored_events WHERE notification_id IS NOT NULL")
        events = int(cur.fetchone()[0])
    return elapsed, events


def rebuild(services: Services) -> tuple[float, float, int]:
    """Reset and rebuild the directory; returns (reset seconds, rebuild seconds, events)."""
    runner = services.runners[PatientDirectoryProjection.name]
    t0 = time.perf_counter()
    runner.reset()
    t1 = time.perf_counter()
    done = runner.run_until_caught_up()
    return t1 - t0, time.perf_counter() - t1, done


def scan(url: str, services: Services | None = None) -> tuple[float, int]:
    """Read the whole log in pages of 1000 (and decode each event when given services)."""
    mapper = services.app.mapper if services is not None else None
    with psycopg.connect(url) as conn:
        conn.execute("SELECT 1")
        start = time.perf_counter()
        last, count = 0, 0
        while True:
            rows = conn.execute(SCAN_SQL, (last, PAGE)).fetchall()
            if not rows:
                break
            if mapper is not None:
                for n, o, v, t, s in rows:
                    mapper.to_domain_event(
                        Notification(
                            id=n, originator_id=o, originator_version=v, topic=t, state=bytes(s)
                        )
                    )
            count += len(rows)
            last = int(rows[-1][0])
        elapsed = time.perf_counter() - start
        conn.rollback()
    return elapsed, count


def directory_counts(services: Services) -> tuple[int, int]:
    with services.db.transaction(write=False) as cur:
        both = consent_bit(ConsentPurpose.TREATMENT) | consent_bit(ConsentPurpose.DATA_SHARING)
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE consents = %s AND sealed_names IS NOT NULL "
            "AND sealed_contact IS NOT NULL AND email_index IS NOT NULL) FROM patient_directory",
            (both,),
        )
        rows, complete = (int(v) for v in cur.fetchone())
    return rows, complete


def profile_rebuild(services: Services, top: int = 30) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    rebuild(services)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main() -> int:
    args = parse_args()
    with _support.scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        settings = Settings(
            database_url=url,
            keyring_path=Path(keydir) / "keyring.json",
            projections="external",
            pool_size=args.seed_threads + 4,
        )
        services = build(settings)
        try:
            _support.say(
                f"database {url.rsplit('/', 1)[-1]}: seeding {args.patients} patients x "
                f"{EVENTS_PER_PATIENT} events with {args.seed_threads} threads"
            )
            seed_seconds, events = seed(services, args.patients, args.seed_threads)
            _support.say(
                f"seeded {events} events in {seed_seconds:.1f}s "
                f"({events / seed_seconds:.0f} events/s, "
                f"{args.patients * EVENTS_PER_PATIENT / seed_seconds:.0f} commands/s)"
            )
            scan(url)  # warm the cache of the table, as rebuilds will find it
            rebuild_eps: list[float] = []
            scan_eps: list[float] = []
            decode_eps: list[float] = []
            resets: list[float] = []
            for round_no in range(args.rounds):
                order = ("rebuild", "scan", "decode")
                shift = round_no % len(order)
                for what in order[shift:] + order[:shift]:
                    if what == "rebuild":
                        reset_s, seconds, done = rebuild(services)
                        resets.append(reset_s)
                        rebuild_eps.append(done / seconds)
                        rows, complete = directory_counts(services)
                        _support.say(
                            f"round {round_no + 1} rebuild: {done} events in {seconds:.2f}s = "
                            f"{done / seconds:8.0f} events/s (reset {reset_s * 1000:.0f} ms; "
                            f"{rows} rows, {complete} complete)"
                        )
                        if done != events or rows != args.patients or complete != rows:
                            raise RuntimeError(
                                f"rebuild incomplete: {done}/{events} events, {rows} rows, "
                                f"{complete} complete"
                            )
                    elif what == "scan":
                        seconds, count = scan(url)
                        scan_eps.append(count / seconds)
                        _support.say(
                            f"round {round_no + 1} scan:    {count} events in {seconds:.2f}s = "
                            f"{count / seconds:8.0f} events/s"
                        )
                    else:
                        seconds, count = scan(url, services)
                        decode_eps.append(count / seconds)
                        _support.say(
                            f"round {round_no + 1} decode:  {count} events in {seconds:.2f}s = "
                            f"{count / seconds:8.0f} events/s"
                        )
            if args.profile:
                _support.say("\nprofile of one more rebuild (not in the figures):")
                _support.say(profile_rebuild(services))
            rows, complete = directory_counts(services)
        finally:
            services.close()

    rebuild_median = _support.median(rebuild_eps)
    scan_median = _support.median(scan_eps)
    result: dict[str, Any] = {
        "rebuild_eps": round(rebuild_median, 1),
        "scan_eps": round(scan_median, 1),
        "ratio": _support.ratio(rebuild_median, scan_median),
        "events": events,
        "rounds": args.rounds,
        "decode_eps": round(_support.median(decode_eps), 1),
        "decode_ratio": _support.ratio(_support.median(decode_eps), scan_median),
        "reset_ms": round(1000 * _support.median(resets), 1),
        "seed_seconds": round(seed_seconds, 2),
        "seed_commands_per_s": round(args.patients * EVENTS_PER_PATIENT / seed_seconds, 1),
        "patients": args.patients,
        "directory_rows": rows,
        "samples": {
            "rebuild": [round(v, 1) for v in rebuild_eps],
            "scan": [round(v, 1) for v in scan_eps],
            "decode": [round(v, 1) for v in decode_eps],
        },
    }
    _support.say("")
    _support.say(
        f"rebuild {result['rebuild_eps']:.0f} events/s, scan {result['scan_eps']:.0f} events/s "
        f"(ratio {result['ratio']:.4f}); scan+decode {result['decode_eps']:.0f} events/s; "
        f"{events} events, medians of {args.rounds} rounds"
    )
    _support.emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
