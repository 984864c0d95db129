"""The estimated wait in a doctor's queue, from the queue's own history: a pure function.

The doctor works through the queue in order. The one in progress ends after the expected rest of
its length given how long it has run; each next patient is admitted when the doctor is free and,
for a booked one, not before the appointment, after the doctor's usual delay (``lags``: how long
the doctor takes to admit once both are ready; ``start_lags``: how late the doctor starts the
day). Lengths are lognormal, fitted per doctor and consultation type to the lengths seen and
shrunk towards the slot's length when there are few. Booked patients not in the room yet whose
appointment comes first may still check in and go ahead: they count with the chance they still
come, learnt from when this doctor's patients arrived and how many never did.
"""

from __future__ import annotations

import math
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
    lags: Sequence[float] = ()
    start_lags: Sequence[float] = ()
    arrivals: Sequence[float] = ()  # check-in minus appointment, booked patients
    shows: Sequence[float] = ()  # 1 checked in, 0 no-show


def estimate_waits(
    now: datetime,
    queue: Sequence[Waiting],
    history: History,
    current: InProgress | None = None,
    started: bool = True,
    expected: Sequence[Expected] = (),
) -> list[float]:
    """Minutes each patient of ``queue`` (in order) still waits until admitted. ``started``:
    the doctor admitted someone this session already (else the start lag applies)."""
    lag = _robust(history.lags, PRIOR_LAG)
    free = 0.0  # minutes from now until the doctor is free
    if current is not None:
        elapsed = max(0.0, (now - current.admitted_at).total_seconds() / 60)
        free = remaining(_fit(history.durations.get(current.type_code, ()), current), elapsed)
    elif not started:
        lag = _robust(history.start_lags, lag)
    pending = sorted(expected, key=lambda e: e.scheduled_at)
    waits: list[float] = []
    for patient in queue:
        while pending and (
            patient.scheduled_at is not None and pending[0].scheduled_at < patient.scheduled_at
        ):
            e = pending.pop(0)
            chance = arrival_chance(history, _minutes(now, e.scheduled_at))
            at = max(free + lag, _minutes(e.scheduled_at, now))
            free += chance * (at - free + mean(_fit(history.durations.get(e.type_code, ()), e)))
        at = free + lag
        if patient.scheduled_at is not None:
            at = max(at, _minutes(patient.scheduled_at, now))
        waits.append(max(0.0, at))
        free = at + mean(_fit(history.durations.get(patient.type_code, ()), patient))
        lag = _robust(history.lags, PRIOR_LAG)
    return waits


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


def _fit(samples: Sequence[float], slot: Waiting | InProgress | Expected) -> Lognormal:
    """Lengths seen for the doctor and type, shrunk towards the slot's length."""
    prior_sigma = PRIOR_SIGMA
    prior_mu = math.log(max(slot.slot_minutes, 1.0)) - prior_sigma**2 / 2
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
