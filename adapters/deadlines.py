"""The on-call deadline worker: escalates consultations whose urgent offer lapsed or whose
answer is overdue, and expires requests nobody accepted in time. It runs on every tick of the
projection worker (after the read models caught up), in the API process in the embedded mode
and in each ``telemed project`` process otherwise. It finds what is due in the on-call read
model and dispatches the commands through the bus as the system actor; the aggregates decide
(a command for something not due, or done by another worker a moment before, changes
nothing), so several workers may run at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.on_call import EscalateConsultation, ExpireRequest
from domain.actor import system_actor
from domain.errors import DomainError
from projections.on_call import OnCall

log = logging.getLogger("telemed.on_call")

Handle = Callable[[Any], Any]


class DeadlineWorker:
    def __init__(
        self, due: OnCall, handle: Handle, clock: Callable[[], datetime], *, limit: int = 100
    ) -> None:
        self.due, self.handle, self.clock, self.limit = due, handle, clock, limit

    def run_due(self) -> int:
        """Dispatch what is due now; answers how many commands were dispatched."""
        now = self.clock()
        escalations = self.due.due_escalations(now, self.limit)
        expiries = self.due.due_expiries(now, self.limit)
        commands: list[Any] = [
            *(EscalateConsultation(system_actor(), c) for c in escalations),
            *(ExpireRequest(system_actor(), r) for r in expiries),
        ]
        for command in commands:
            try:
                self.handle(command)
            except DomainError as exc:  # the aggregate refused: the next tick sees the outcome
                log.warning("%s refused: %s", type(command).__name__, exc)
            except Exception:  # one failing item does not hold up the others
                log.exception("%s failed", type(command).__name__)
        return len(commands)
