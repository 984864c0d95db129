"""The command bus: one handler per command, idempotency keys, retry on a lost race."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import orjson

from commands import booking, organisations, patients, scheduling
from commands.ports import UnitOfWork
from commands.results import ConcurrencyConflict, IdempotencyConflict, IdempotentReplay, Saved

Handler = Callable[[Any, UnitOfWork], Saved]

HANDLERS: dict[type[Any], Handler] = {
    patients.RegisterPatient: patients.register_patient,
    patients.ChangeContactDetails: patients.change_contact_details,
    patients.RecordConsent: patients.record_consent,
    patients.WithdrawConsent: patients.withdraw_consent,
    scheduling.OpenSchedule: scheduling.open_schedule,
    scheduling.ChangeProfile: scheduling.change_profile,
    scheduling.SetProfile: scheduling.set_profile,
    scheduling.AddPractice: scheduling.add_practice,
    scheduling.SetConsultationType: scheduling.set_consultation_type,
    scheduling.SetWeeklyHours: scheduling.set_weekly_hours,
    scheduling.SetDateOverride: scheduling.set_date_override,
    scheduling.AddTimeOff: scheduling.add_time_off,
    scheduling.RemoveTimeOff: scheduling.remove_time_off,
    scheduling.LinkCalendar: scheduling.link_calendar,
    scheduling.UnlinkCalendar: scheduling.unlink_calendar,
    scheduling.RecordBusyPeriods: scheduling.record_busy_periods,
    booking.ConfirmConsultation: booking.confirm_consultation,
    booking.CancelConsultation: booking.cancel_consultation,
    booking.RescheduleConsultation: booking.reschedule_consultation,
    booking.RecordNoShow: booking.record_no_show,
    organisations.FoundOrganisation: organisations.found_organisation,
    organisations.ChangeSettings: organisations.change_settings,
    organisations.SetBookingTemplate: organisations.set_booking_template,
    organisations.RemoveBookingTemplate: organisations.remove_booking_template,
}


@dataclass(frozen=True)
class IdempotencyClaim:
    scope: str
    key: str
    request_hash: bytes


@dataclass
class RequestClaim:
    """The Idempotency-Key of the request being served, reserved by the HTTP edge. The
    request's first commit (a command of the bus or not) records itself under it, in the same
    transaction; later commits of the same request do not."""

    claim: IdempotencyClaim
    bound: bool = False


#: set by the HTTP edge around a request that carries an Idempotency-Key
REQUEST_CLAIM: ContextVar[RequestClaim | None] = ContextVar("request_claim", default=None)


class IdempotentUnitOfWork(UnitOfWork, Protocol):
    def claim(self, claim: IdempotencyClaim) -> None:
        """Raise ``IdempotentReplay`` or ``IdempotencyConflict`` if the key was used; otherwise
        make the save record the key atomically with the events."""
        ...


class CommandBus:
    def __init__(self, unit_of_work: Callable[[], IdempotentUnitOfWork], *, retries: int = 6):
        self._unit_of_work = unit_of_work
        self._retries = retries
        self.handlers: dict[type[Any], Handler] = dict(HANDLERS)

    def register(self, command_type: type[Any], handler: Handler) -> None:
        """A handler that needs an adapter besides the unit of work (bound in the root)."""
        self.handlers[command_type] = handler

    def handle(self, command: Any, idempotency_key: str | None = None) -> Saved:
        handler = self.handlers[type(command)]
        request = REQUEST_CLAIM.get()
        if request is not None:  # the request's key, unless an earlier command recorded it
            claim = None if request.bound else request.claim
        else:
            claim = _claim(command, idempotency_key) if idempotency_key else None
        for attempt in range(self._retries + 1):
            uow = self._unit_of_work()
            try:
                if claim is not None:
                    uow.claim(claim)
                return handler(command, uow)
            except IdempotentReplay as replay:
                return replay.saved
            except (ConcurrencyConflict, IdempotencyConflict) as exc:
                # A racing twin with the same key: the next round finds its record and replays.
                racing_twin = isinstance(exc, IdempotencyConflict) and "race" in str(exc)
                may_retry = racing_twin or getattr(command, "expected_version", None) is None
                if attempt == self._retries or not may_retry:
                    raise
                # racing writers of one stream: a jittered, growing pause lets them spread out
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")


def _claim(command: Any, key: str) -> IdempotencyClaim:
    fields = asdict(command)
    actor = fields.pop("actor")
    body = orjson.dumps(
        {"command": type(command).__name__, "fields": fields},
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return IdempotencyClaim(
        scope=str(actor["actor_id"]), key=key, request_hash=hashlib.sha256(body).digest()
    )
