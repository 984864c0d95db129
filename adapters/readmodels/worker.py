"""Keeps the read models current: in a thread of the API process (embedded mode) or as its own
process (``telemed project``), safe to run several of (the runners' batch locks decide)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import psycopg

from adapters.audit.access_log import AccessLog
from adapters.eventstore.recorder import EventRecorder
from adapters.readmodels.runner import ProjectionRunner

log = logging.getLogger("telemed.projections")


class ProjectionWorker:
    def __init__(
        self,
        runners: Sequence[ProjectionRunner],
        recorder: EventRecorder,
        access_log: AccessLog,
        *,
        idle_seconds: float = 0.5,
    ) -> None:
        self.runners, self.recorder, self.access_log = runners, recorder, access_log
        self.idle_seconds = idle_seconds
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        recorder.add_listener(lambda _position: self._wake.set())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="projections", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_forever(self) -> None:
        listener = self._listen()
        try:
            while not self.stopping.is_set():
                try:
                    self.tick()
                except Exception:  # keep serving; the next tick retries from the tracked position
                    log.exception("projection tick failed")
                    self.stopping.wait(1.0)
                self._idle(listener)
        finally:
            if listener is not None:
                listener.close()

    def tick(self) -> int:
        """Sequence what crashed writers left, then bring every read model up to date."""
        self.recorder.sequence_pending()
        self.access_log.sequence_pending()
        total = 0
        for runner in self.runners:
            total += runner.run_until_caught_up()
        return total

    def _listen(self) -> psycopg.Connection[Any] | None:
        if self.recorder.db.dialect != "postgres":
            return None
        conn = psycopg.connect(self.recorder.db.url, autocommit=True)
        conn.execute("LISTEN telemed_events")
        return conn

    def _idle(self, listener: psycopg.Connection[Any] | None) -> None:
        if listener is None or self._wake.is_set():
            self._wake.wait(self.idle_seconds)
            self._wake.clear()
            return
        for _ in listener.notifies(timeout=self.idle_seconds, stop_after=1):
            pass
