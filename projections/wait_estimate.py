"""The estimated wait in a doctor's queue, from the queue's own history: a pure function.

The doctor works through the queue in order. The consultation in progress ends after a length
drawn given how long it has run; each next patient is admitted once the doctor is free (after
the doctor's usual ``turnaround`` between two patients) and the patient is ready (present; for a
booked one, the appointment has come, after the doctor's usual delay, ``lags``, or ``start_lags``
for a session's first patient). Lengths are lognormal, fitted per doctor and consultation type to
the lengths seen and shrunk towards the slot's length while there are few. Booked patients not in
the room yet whose appointment comes first may still check in and go ahead, with the chance learnt
from when this doctor's patients arrived and how many never came.

The queue's future is drawn many times; each patient's estimate is the value that minimises the
expected relative error over those draws (the median weighted by 1/wait, waits under
``SHORT_WAIT`` counting as that), never below the estimate of the patient ahead.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

#: with no history: lengths vary this much (sigma of the log), the doctor admits after this
#: many minutes, patients arrive at these offsets (minutes after the appointment) and this
#: share never comes; a history of n values weighs n against PRIOR_WEIGHT
PRIOR_SIGMA = 0.5
PRIOR_LAG = 1.0
PRIOR_ARRIVALS = (-10.0, -5.0, 0.0, 5.0, 10.0, 15.0)
PRIOR_NO_SHOW = 0.1
PRIOR_WEIGHT = 3.0
#: draws of the queue's future per estimate, from a fixed seed
RUNS = 200
#: minutes: a shorter wait weighs as this much (a few minutes' precision is enough)
SHORT_WAIT = 5.0
SEED = 20_24
_NORMAL = statistics.NormalDist()


@dataclass(frozen=True)
class Waiting:
    """A patient in the queue (or booked, not arrived yet), in queue order."""

    type_code: str
    slot_minutes: float
    scheduled_at: datetime | None  # the appointment; None: urgent or walk-in (by arrival)


@dataclass(frozen=True)
class InProgress:
    type_code: str
    slot_minutes: float
    admitted_at: datetime


@dataclass(frozen=True)
class Expected:
    """A booked patient not in the room yet, who would go ahead of those booked later."""

    type_code: str
    slot_minutes: float
    scheduled_at: datetime


@dataclass(frozen=True)
class History:
    """What the queue has seen of this doctor (minutes)."""

    durations: Mapping[str, Sequence[float]] = field(default_factory=dict)
    lags: Sequence[float] = ()  # patient ready (doctor free already) -> admitted
    start_lags: Sequence[float] = ()  # the same, a session's first patient
    turnarounds: Sequence[float] = ()  # doctor free (patient ready already) -> admitted
    arrivals: Sequence[float] = ()  # check-in minus appointment, booked patients
    shows: Sequence[float] = ()  # 1 checked in, 0 no-show


def estimate_waits(
    now: datetime,
    queue: Sequence[Waiting],
    history: History,
    current: InProgress | None = None,
    started: bool = True,
    expected: Sequence[Expected] = (),
    free_since: datetime | None = None,
) -> list[float]:
    """Minutes each patient of ``queue`` (in order) still waits until admitted. ``started``:
    the doctor admitted someone this session already (else the start lag applies);
    ``free_since``: when the doctor's last consultation ended. The draws are deterministic:
    the same question gets the same answer."""
    if not queue:
        return []
    rng = random.Random(SEED)
    lag = _robust(history.lags, PRIOR_LAG)
    first_lag = lag if started or current is not None else _robust(history.start_lags, lag)
    turnaround = _robust(history.turnarounds, PRIOR_LAG)
    if current is None and free_since is not None and started:
        idle = max(0.0, turnaround - _minutes(now, free_since))  # the doctor's turnaround left
    else:
        idle = 0.0
    fits = {
        code: _fit(history.durations.get(code, ()), minutes)
        for code, minutes in {
            **{w.type_code: w.slot_minutes for w in queue},
            **{e.type_code: e.slot_minutes for e in expected},
        }.items()
    }
    ahead = sorted(expected, key=lambda e: e.scheduled_at)
    chances = [arrival_chance(history, _minutes(now, e.scheduled_at)) for e in ahead]
    elapsed = 0.0
    busy: Lognormal | None = None
    if current is not None:
        elapsed = max(0.0, _minutes(now, current.admitted_at))
        busy = _fit(history.durations.get(current.type_code, ()), current.slot_minutes)
    draws: list[list[float]] = [[] for _ in queue]
    for _ in range(RUNS):
        free = idle if busy is None else _draw_rest(busy, elapsed, rng) + turnaround
        next_lag = first_lag
        pending = 0
        for i, patient in enumerate(queue):
            while (
                pending < len(ahead)
                and patient.scheduled_at is not None
                and ahead[pending].scheduled_at < patient.scheduled_at
            ):
                e = ahead[pending]
                if rng.random() < chances[pending]:
                    at = max(free, _minutes(e.scheduled_at, now) + next_lag)
                    free = at + _draw(fits[e.type_code], rng) + turnaround
                    next_lag = lag
                pending += 1
            ready = 0.0 if patient.scheduled_at is None else _minutes(patient.scheduled_at, now)
            at = max(free, max(ready, 0.0) + next_lag)
            draws[i].append(at)
            free = at + _draw(fits[patient.type_code], rng) + turnaround
            next_lag = lag
    waits: list[float] = []
    for samples in draws:
        best = _relative_median(samples)
        waits.append(max(best, waits[-1]) if waits else best)
    return waits


def _relative_median(samples: list[float]) -> float:
    """The value minimising the mean of |value - s| / s over the samples (s at least
    ``SHORT_WAIT``): their median weighted by 1/s."""
    ordered = sorted(samples)
    weights = [1 / max(s, SHORT_WAIT) for s in ordered]
    half, total = sum(weights) / 2, 0.0
    for s, w in zip(ordered, weights, strict=True):
        total += w
        if total >= half:
            return s
    return ordered[-1]


def _draw(d: Lognormal, rng: random.Random) -> float:
    return rng.lognormvariate(d.mu, d.sigma)


def _draw_rest(d: Lognormal, elapsed: float, rng: random.Random) -> float:
    """Minutes left of a consultation that has lasted ``elapsed``: a length drawn given it is
    longer than that."""
    if elapsed <= 0:
        return _draw(d, rng)
    low = _phi((math.log(elapsed) - d.mu) / d.sigma)
    u = low + (1 - low) * rng.random()
    if u >= 1 - 1e-12:  # far in the tail: the lognormal's mean residual life, asymptotically
        return remaining(d, elapsed)
    return max(0.0, math.exp(d.mu + d.sigma * _NORMAL.inv_cdf(u)) - elapsed)


def arrival_chance(history: History, late_by: float) -> float:
    """The chance a booked patient not in the room ``late_by`` minutes after the appointment
    (negative: before it) still comes."""
    offsets = list(history.arrivals) or list(PRIOR_ARRIVALS)
    later = sum(1 for o in offsets if o > late_by) / len(offsets)
    shows = list(history.shows)
    no_show = (PRIOR_NO_SHOW * PRIOR_WEIGHT + shows.count(0)) / (PRIOR_WEIGHT + len(shows))
    comes = (1 - no_show) * later
    return comes / (comes + no_show) if comes > 0 else 0.0


@dataclass(frozen=True)
class Lognormal:
    mu: float
    sigma: float


def mean(d: Lognormal) -> float:
    return math.exp(d.mu + d.sigma**2 / 2)


def remaining(d: Lognormal, elapsed: float) -> float:
    """Expected minutes left of a consultation that has lasted ``elapsed`` minutes."""
    if elapsed <= 0:
        return mean(d)
    z = (math.log(elapsed) - d.mu) / d.sigma
    survival = 1 - _phi(z)
    if survival < 1e-9:  # far in the tail: the lognormal's mean residual life, asymptotically
        return elapsed * d.sigma**2 / max(math.log(elapsed) - d.mu, d.sigma)
    tail = mean(d) * (1 - _phi(z - d.sigma))
    return max(0.0, tail / survival - elapsed)


def _fit(samples: Sequence[float], slot_minutes: float) -> Lognormal:
    """Lengths seen for the doctor and type, shrunk towards the slot's length."""
    prior_sigma = PRIOR_SIGMA
    prior_mu = math.log(max(slot_minutes, 1.0)) - prior_sigma**2 / 2
    logs = [math.log(s) for s in samples if s > 0]
    n = len(logs)
    if n == 0:
        return Lognormal(prior_mu, prior_sigma)
    mu = (sum(logs) + PRIOR_WEIGHT * prior_mu) / (n + PRIOR_WEIGHT)
    spread = statistics.pvariance(logs) if n > 1 else prior_sigma**2
    variance = (spread * n + PRIOR_WEIGHT * prior_sigma**2) / (n + PRIOR_WEIGHT)
    return Lognormal(mu, max(math.sqrt(variance), 0.05))


def _robust(samples: Sequence[float], prior: float) -> float:
    """The median, shrunk towards the prior while there are few."""
    if not samples:
        return prior
    n = len(samples)
    return (statistics.median(samples) * n + prior * PRIOR_WEIGHT) / (n + PRIOR_WEIGHT)


def _minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))
