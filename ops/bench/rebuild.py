"""Read-model rebuild speed: each read model from zero, against a raw scan of the same log.

Seeds a fresh database through the command bus (``harness.people``): ``--patients`` patients
(registration, contact change, two consents), ``--doctors`` doctors with a weekly schedule
(15 commands each) and ``--bookings`` video consultations per doctor. Then, in alternating
rounds of one run (the machine is shared and noisy: medians and ratios count):

* ``<model>``: for each read model (directory, card, availability, consultations, analytics;
  ``consultations`` is the consultation view, which also answers the agenda), what
  ``telemed rebuild NAME`` does: the runner's ``reset()`` (timed apart) then
  ``run_until_caught_up()``; events per second over the whole log;
* ``scan``: the same events read raw (``SELECT ... FROM stored_events`` in keyset pages of
  1000 rows through psycopg, no decoding): the floor of any reader.

    .venv/bin/python ops/bench/rebuild.py [--patients 2000] [--doctors 40] [--rounds 3]

Keys: ``rebuild_eps`` and ``ratio`` are the slowest read model's, ``scan_eps`` the scan's,
``<model>_ratio`` each read model's rebuild over the scan. Goal: ``ratio >= 0.25``.
The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import time
from typing import Any

import psycopg
from harness import measure, people
from harness.database import fresh_services
from harness.report import emit, goals, say

from adapters.composition import Services

MODELS = {
    "directory": "patient_directory",
    "card": "patient_card",
    "availability": "availability",
    "consultations": "consultation_view",
    "analytics": "analytics",
}
SCAN_SQL = (
    "SELECT notification_id, originator_id, originator_version, topic, state "
    "FROM stored_events WHERE notification_id > %s ORDER BY notification_id LIMIT 1000"
)
GOALS = {"ratio": (">=", 0.25)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=2000, help="patients (4 events each)")
    parser.add_argument("--doctors", type=int, default=40, help="doctors with a schedule")
    parser.add_argument("--bookings", type=int, default=20, help="consultations per doctor")
    parser.add_argument("--threads", type=int, default=8, help="threads used for seeding")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--profile", help="profile one more rebuild of this read model")
    return parser.parse_args()


def seed(services: Services, args: argparse.Namespace) -> int:
    """Patients, doctors and bookings through the command bus; returns the head position."""
    t0 = time.perf_counter()
    _, patients = people.seed_patients(services, args.patients, args.threads)
    doctors = people.seed_doctors(services, args.doctors, args.threads)

    def book(i: int) -> None:
        rng = random.Random(i)
        for doctor in doctors[i :: args.threads]:
            for start in list(doctor.video_starts(60))[: args.bookings]:
                doctor.book_video(services, rng.choice(patients), start)

    people.on_threads(book, args.threads)
    services.recorder.sequence_pending()
    head = services.recorder.max_notification_id() or 0
    say(f"seeded {head} events in {time.perf_counter() - t0:.1f}s")
    return head


def rebuild(services: Services, name: str) -> tuple[float, float, int]:
    """As ``telemed rebuild NAME``: (reset seconds, rebuild seconds, events processed)."""
    runner = services.runners[name]
    t0 = time.perf_counter()
    runner.reset()
    t1 = time.perf_counter()
    runner.run_until_caught_up()
    return t1 - t0, time.perf_counter() - t1, runner.position()


def scan(url: str) -> tuple[float, int]:
    """Read the whole log raw, in keyset pages: (seconds, rows)."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT 1")
        start, last, count = time.perf_counter(), 0, 0
        while rows := conn.execute(SCAN_SQL, (last,)).fetchall():
            count, last = count + len(rows), int(rows[-1][0])
        return time.perf_counter() - start, count


def main() -> int:
    args = parse_args()
    with fresh_services(pool_size=args.threads + 4) as services:
        url = services.settings.database_url
        head = seed(services, args)
        scan(url)  # warm the table's pages, as the rebuilds will find them
        eps: dict[str, list[float]] = {side: [] for side in (*MODELS, "scan")}
        resets: dict[str, list[float]] = {model: [] for model in MODELS}
        for round_no in range(args.rounds):
            for side in measure.rotate([*MODELS, "scan"], round_no):
                if side == "scan":
                    seconds, count = scan(url)
                else:
                    reset_s, seconds, count = rebuild(services, MODELS[side])
                    resets[side].append(1000 * reset_s)
                    if count != head:
                        raise RuntimeError(f"{side} rebuilt to {count}, the head is {head}")
                eps[side].append(count / seconds)
                say(f"round {round_no + 1} {side:>12}: {count / seconds:9.0f} events/s")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(rebuild, services, MODELS.get(args.profile, args.profile))
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)

    medians = {side: measure.median(values) for side, values in eps.items()}
    slowest = min(MODELS, key=lambda model: medians[model])
    result: dict[str, Any] = {
        "rebuild_eps": round(medians[slowest], 1),
        "scan_eps": round(medians["scan"], 1),
        "ratio": measure.ratio(medians[slowest], medians["scan"]),
        **{f"{m}_ratio": measure.ratio(medians[m], medians["scan"]) for m in MODELS},
        **{f"{m}_eps": round(medians[m], 1) for m in MODELS},
        "slowest": slowest,
        "reset_ms": {m: round(measure.median(v), 1) for m, v in resets.items()},
        "events": head,
        "rounds": args.rounds,
        "samples": {side: [round(v, 1) for v in values] for side, values in eps.items()},
    }
    say()
    for m in MODELS:
        say(f"{m:>12}: {result[f'{m}_eps']:9.0f} events/s, {result[f'{m}_ratio']:.3f} of the scan")
    say(f"{'scan':>12}: {result['scan_eps']:9.0f} events/s; {head} events, {args.rounds} rounds")
    result["goals"] = goals(result, GOALS)
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
