"""Timing: threads hammering one operation for a while, percentiles, medians and ratios."""

from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Slot:
    """What one timed run of N threads (in one process, or in several together) achieved."""

    ops: int
    seconds: float
    cpu_seconds: float
    errors: list[str] = field(default_factory=list)
    #: ``time.monotonic()`` stamps (system-wide, so comparable between processes)
    started: float = 0.0
    ended: float = 0.0
    #: share of the whole machine's CPU busy during the slot (/proc/stat), None where unknown
    host_busy: float | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_op(self) -> float:
        return 1000 * self.cpu_seconds / self.ops if self.ops else 0.0

    def other_cpu_ms_per_op(self) -> float | None:
        """Busy CPU of the machine per operation beyond the client's own (the database, mostly)."""
        if self.host_busy is None or not self.ops:
            return None
        other = self.host_busy * (os.cpu_count() or 1) * self.seconds - self.cpu_seconds
        return 1000 * max(0.0, other) / self.ops

    @classmethod
    def combine(cls, slots: Sequence[Slot]) -> Slot:
        """Slots run together in several processes: all operations over the common window."""
        if not slots:
            return cls(0, 0.0, 0.0)
        started, ended = min(s.started for s in slots), max(s.ended for s in slots)
        busy = [s.host_busy for s in slots if s.host_busy is not None]
        return cls(
            ops=sum(s.ops for s in slots),
            seconds=ended - started,
            cpu_seconds=sum(s.cpu_seconds for s in slots),
            errors=[e for s in slots for e in s.errors],
            started=started,
            ended=ended,
            host_busy=sum(busy) / len(busy) if busy else None,
        )


def host_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if len(fields) < 8 or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]] + [0] * (9 - len(fields))
    return values[0] + values[1] + values[2] + values[5] + values[6], sum(values)


def busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def run_threads(
    op: Callable[[int], None],
    threads: int,
    seconds: float,
    gate: Callable[[], object] | None = None,
) -> Slot:
    """Call ``op(thread_index)`` in a loop on ``threads`` threads for about ``seconds``.

    Operations in flight at the deadline are finished and counted. Errors are counted and kept.
    ``gate``, if given, is called once the threads are ready and before the clock starts (a
    barrier shared with other processes, so that they all measure the same window).
    """
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    errors: list[str] = []
    deadline = [0.0]

    def worker(index: int) -> None:
        barrier.wait()
        while time.perf_counter() < deadline[0]:
            try:
                op(index)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.01)
                continue
            counts[index] += 1

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    if gate is not None:
        try:
            gate()
        except BaseException:
            barrier.wait()  # the deadline is still 0: the threads stop at once
            for thread in pool:
                thread.join()
            raise
    cpu0, host0, started = time.process_time(), host_cpu_ticks(), time.monotonic()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    busy = busy_share(host0, host_cpu_ticks())
    cpu = time.process_time() - cpu0
    return Slot(sum(counts), elapsed, cpu, errors, started, started + elapsed, busy)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Milliseconds of each of ``n`` calls, one after the other."""
    out: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (q in 0..1)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def rotate(items: Sequence[str], by: int) -> list[str]:
    """The order of the sides in round ``by`` (alternating, so that no side is always first)."""
    shift = by % len(items) if items else 0
    return list(items[shift:]) + list(items[:shift])


class Samples:
    """The slots of each side, over the rounds: their rates and CPU per operation."""

    def __init__(self) -> None:
        self.rates: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}
        self.other: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def add(self, key: str, slot: Slot) -> str:
        """Record one slot; returns its progress line."""
        other = slot.other_cpu_ms_per_op() or 0.0
        self.rates.setdefault(key, []).append(slot.rate)
        self.cpu.setdefault(key, []).append(slot.cpu_ms_per_op)
        self.other.setdefault(key, []).append(other)
        self.errors.extend(slot.errors[: max(0, 5 - len(self.errors))])
        errors = f", {len(slot.errors)} errors" if slot.errors else ""
        return (
            f"{key:>16}: {slot.rate:8.1f}/s (client CPU {slot.cpu_ms_per_op:.2f} ms/op, "
            f"rest of the machine {other:.2f} ms/op{errors})"
        )

    def medians(self) -> dict[str, float]:
        return {k: round(median(v), 1) for k, v in self.rates.items()}

    def details(self) -> dict[str, object]:
        return {
            "client_cpu_ms_per_op": {k: round(median(v), 3) for k, v in self.cpu.items()},
            "other_cpu_ms_per_op": {k: round(median(v), 3) for k, v in self.other.items()},
            "first_errors": self.errors,
            "samples": {k: [round(x, 1) for x in v] for k, v in self.rates.items()},
        }
