"""Alarms: what an operator must look at now, as a log line at CRITICAL and a counter that
``GET /v1/health`` shows (monitoring polls it)."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("telemed.alarm")


class Alarms:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.integrity_failures = 0

    def integrity_failure(self, kind: str, correlation_id: str, where: str) -> None:
        """Stored data that does not authenticate or decode: tampering, or a lost key."""
        with self._lock:
            self.integrity_failures += 1
        log.critical("integrity check failed: %s correlation=%s on %s", kind, correlation_id, where)

    def counts(self) -> dict[str, int]:
        return {"integrity_failures": self.integrity_failures}
