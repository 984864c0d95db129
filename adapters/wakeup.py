"""Waiting for new events: woken in-process by the recorder, and across processes by
PostgreSQL's LISTEN/NOTIFY (the sequencer notifies ``telemed_events``)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from adapters.eventstore.recorder import EventRecorder


class NewEvents:
    def __init__(self, recorder: EventRecorder) -> None:
        self._recorder = recorder
        self._event = threading.Event()
        self._listener: psycopg.Connection[Any] | None = None
        recorder.add_listener(lambda _position: self._event.set())

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> None:
        """Return when new events were recorded, or after ``timeout`` seconds."""
        if self._event.is_set() or self._recorder.db.dialect != "postgres":
            self._event.wait(timeout)
            self._event.clear()
            return
        try:
            if self._listener is None:
                self._listener = psycopg.connect(self._recorder.db.url, autocommit=True)
                self._listener.execute("LISTEN telemed_events")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except psycopg.Error:
            self.close()
            self._event.wait(timeout)
        self._event.clear()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
