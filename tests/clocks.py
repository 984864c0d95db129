"""The time the commands act at, in scenarios that move it: two clocks, and the fixtures that
build the services on one.

A module whose scenarios move time imports the fixtures it wants (pytest finds them under
their ``name``):

    from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401

and its tests then take ``clock`` and ``services`` as usual."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta

import pytest

from adapters.composition import Services, build
from adapters.settings import Settings


class Clock:
    """Stopped at a moment (now, unless given) until the test moves it: ``clock.now = ...``,
    or ``clock.at(9, 30)`` (that time of its day, UTC)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now if now is not None else datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def at(self, hour: int, minute: int = 0) -> None:
        self.now = datetime.combine(self.now.date(), time(hour, minute), UTC)


class RunningClock:
    """The real time, moved on by the test: ``clock.ahead += timedelta(...)``."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture(name="clock")
def stopped_clock() -> Clock:
    return Clock()


@pytest.fixture(name="clock")
def running_clock() -> RunningClock:
    return RunningClock()


@pytest.fixture(name="services")
def services_on_the_clock(settings: Settings, clock: Callable[[], datetime]) -> Iterator[Services]:
    """The services, their commands acting at the module's ``clock``."""
    built = build(settings, clock=clock)
    yield built
    built.close()
