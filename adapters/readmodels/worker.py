"""Keeps the read models current: in a thread of the API process (embedded mode) or as its own
process (``telemed project``), safe to run several of (the runners' batch locks decide)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from adapters.audit.access_log import AccessLog
from adapters.eventstore.recorder import EventRecorder
from adapters.readmodels.runner import ProjectionRunner
from adapters.wakeup import NewEvents

log = logging.getLogger("telemed.projections")


class ProjectionWorker:
    def __init__(
        self,
        runners: Sequence[ProjectionRunner],
        recorder: EventRecorder,
        access_log: AccessLog,
        *,
        idle_seconds: float = 0.5,
        chores: Sequence[Callable[[], object]] = (),
        every_tick: Sequence[Callable[[], object]] = (),
        chore_seconds: float = 60.0,
    ) -> None:
        self.runners, self.recorder, self.access_log = runners, recorder, access_log
        self.idle_seconds = idle_seconds
        self.chores, self.chore_seconds = list(chores), chore_seconds
        self.every_tick = list(every_tick)
        self._chores_due = 0.0
        self.stopping = threading.Event()
        self._new_events = NewEvents(recorder)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="projections", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._new_events.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_forever(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    self.tick()
                except Exception:  # keep serving; the next tick retries from the tracked position
                    log.exception("projection tick failed")
                    self.stopping.wait(1.0)
                self._new_events.wait(self.idle_seconds)
        finally:
            self._new_events.close()

    def tick(self) -> int:
        """Sequence what crashed writers left, then bring every read model up to date."""
        self.recorder.sequence_pending()
        self.access_log.sequence_pending()
        total = 0
        for runner in self.runners:
            total += runner.run_until_caught_up()
        for task in self.every_tick:
            task()
        if time.monotonic() >= self._chores_due:
            self._chores_due = time.monotonic() + self.chore_seconds
            for chore in self.chores:
                chore()
        return total
