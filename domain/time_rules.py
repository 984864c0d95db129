"""Wall-clock rules in a doctor's own time zone, turned into instants (DST-correct).

Rules are kept as local times plus an IANA zone name, never as UTC offsets: 09:00 stays 09:00
local across DST changes and across changes of a zone's rules.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidValue


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span of instants [start, end), timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidValue("times need a UTC offset")
        if self.end <= self.start:
            raise InvalidValue("an interval ends after it starts")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, order=True)
class LocalSpan:
    """A span of wall-clock time within one day, e.g. 09:00-12:30."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidValue("a working interval ends after it starts (same day)")

    @classmethod
    def parse(cls, text: str) -> LocalSpan:
        try:
            start, end = text.split("-")
            return cls(time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
        except ValueError:
            raise InvalidValue(f"not a span of local times: {text!r}") from None

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(f"unknown time zone {name!r}") from None


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """The instant of a wall-clock time on a day, or None when that time does not exist there
    (the hour skipped by a spring-forward). Ambiguous times (autumn) take the first one."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != naive:
        return None
    return aware


def local_day_bounds(day: date, tz: ZoneInfo) -> Interval:
    """The instants of one local calendar day (23, 24 or 25 hours long)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return Interval(start.astimezone(UTC), end.astimezone(UTC))


def no_overlaps(spans: list[LocalSpan]) -> bool:
    ordered = sorted(spans)
    return all(a.end <= b.start for a, b in itertools.pairwise(ordered))
