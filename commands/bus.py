"""The command bus: one handler per command, idempotency keys, retry on a lost race."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

import orjson

from commands import (
    accounts,
    booking,
    consents,
    consultations,
    delegation,
    erasure,
    intake,
    labs,
    memberships,
    on_call,
    onboarding,
    organisations,
    passwords,
    patients,
    prescriptions,
    protocols,
    record_invitations,
    scheduling,
    second_factor,
    sign_in,
    staff_invitations,
    teleconferences,
)
from commands.ports import Ports, UnitOfWork
from commands.results import ConcurrencyConflict, IdempotencyConflict, IdempotentReplay, Saved

S = TypeVar("S", bound=Saved)

#: every handler takes the command, its unit of work and the ports (the same for all)
Handler = Callable[[Any, UnitOfWork, Ports], Saved]
PureHandler = Callable[[Any, UnitOfWork], Saved]


def _pure(handler: PureHandler) -> Handler:
    """A handler that needs nothing but its unit of work."""

    def handle(command: Any, uow: UnitOfWork, _ports: Ports) -> Saved:
        return handler(command, uow)

    handle.__name__ = handler.__name__
    return handle


HANDLERS: dict[type[Any], Handler] = {
    patients.RegisterPatient: lambda c, uow, p: patients.register_patient(
        c, uow, p.patient_registrations
    ),
    patients.ChangeContactDetails: _pure(patients.change_contact_details),
    patients.RecordConsent: _pure(patients.record_consent),
    patients.WithdrawConsent: _pure(patients.withdraw_consent),
    patients.ErasePatient: erasure.erase_patient,
    erasure.EraseAccount: erasure.erase_account,
    onboarding.AddBeneficiary: onboarding.add_beneficiary,
    scheduling.OpenSchedule: _pure(scheduling.open_schedule),
    scheduling.ChangeProfile: _pure(scheduling.change_profile),
    scheduling.SetProfile: _pure(scheduling.set_profile),
    scheduling.AddPractice: _pure(scheduling.add_practice),
    scheduling.SetConsultationType: _pure(scheduling.set_consultation_type),
    scheduling.SetWeeklyHours: _pure(scheduling.set_weekly_hours),
    scheduling.SetDateOverride: _pure(scheduling.set_date_override),
    scheduling.AddTimeOff: _pure(scheduling.add_time_off),
    scheduling.RemoveTimeOff: _pure(scheduling.remove_time_off),
    scheduling.LinkCalendar: _pure(scheduling.link_calendar),
    scheduling.UnlinkCalendar: _pure(scheduling.unlink_calendar),
    scheduling.RecordBusyPeriods: _pure(scheduling.record_busy_periods),
    booking.BookConsultation: lambda c, uow, p: booking.book_consultation(
        c, uow, p.ties, p.parties, p.clock()
    ),
    booking.BookUrgent: lambda c, uow, p: booking.book_urgent(c, uow, p.ties, p.parties, p.clock()),
    booking.ConfirmConsultation: _pure(booking.confirm_consultation),
    booking.CancelConsultation: _pure(booking.cancel_consultation),
    booking.RescheduleConsultation: lambda c, uow, p: booking.reschedule_consultation(
        c, uow, p.clock()
    ),
    booking.RecordNoShow: lambda c, uow, p: booking.record_no_show(c, uow, p.clock()),
    consultations.CheckIn: consultations.check_in,
    consultations.TakeConsultation: consultations.take_consultation,
    consultations.AdmitPatient: consultations.admit_patient,
    consultations.CompleteConsultation: consultations.complete_consultation,
    consultations.AskQuestion: consultations.ask_question,
    consultations.AnswerQuestion: consultations.answer_question,
    consultations.CloseConsultation: consultations.close_consultation,
    consultations.ReopenConsultation: consultations.reopen_consultation,
    consultations.RateConsultation: _pure(consultations.rate_consultation),
    teleconferences.ScheduleTeleconference: _pure(teleconferences.schedule_teleconference),
    teleconferences.InviteParticipant: _pure(teleconferences.invite_participant),
    teleconferences.RemoveParticipant: _pure(teleconferences.remove_participant),
    teleconferences.RespondToInvitation: _pure(teleconferences.respond_to_invitation),
    teleconferences.StartTeleconference: teleconferences.start_teleconference,
    teleconferences.EndTeleconference: teleconferences.end_teleconference,
    teleconferences.CancelTeleconference: teleconferences.cancel_teleconference,
    delegation.GiveGrant: lambda c, uow, p: delegation.give_grant(c, uow, p.grants),
    delegation.RevokeGrant: lambda c, uow, p: delegation.revoke_grant(c, uow, p.grants),
    organisations.FoundOrganisation: lambda c, uow, p: organisations.found_organisation(
        c, uow, p.organisation_parents
    ),
    organisations.ChangeSettings: _pure(organisations.change_settings),
    organisations.SetBookingTemplate: _pure(organisations.set_booking_template),
    organisations.RemoveBookingTemplate: _pure(organisations.remove_booking_template),
    accounts.OpenAccount: accounts.open_account,
    sign_in.SignIn: sign_in.sign_in,
    sign_in.StepUp: sign_in.step_up,
    second_factor.EnrolTotp: second_factor.enrol_totp,
    second_factor.ConfirmTotp: second_factor.confirm_totp,
    second_factor.DisableTotp: second_factor.disable_totp,
    passwords.ChangePassword: passwords.change_password,
    passwords.RequestReset: passwords.request_reset,
    passwords.ResetPassword: passwords.reset_password,
    staff_invitations.InviteStaff: staff_invitations.invite_staff,
    staff_invitations.AcceptStaffInvitation: staff_invitations.accept_staff_invitation,
    memberships.LeaveOrganisation: memberships.leave_organisation,
    memberships.DeactivateAccount: memberships.deactivate_account,
    memberships.AssignAssistant: memberships.assign_assistant,
    memberships.UnassignAssistant: memberships.unassign_assistant,
    record_invitations.OfferRecord: record_invitations.offer_record,
    record_invitations.AcceptRecordInvitation: record_invitations.accept_record_invitation,
    record_invitations.DeclineRecordInvitation: record_invitations.decline_record_invitation,
    record_invitations.WithdrawRecordInvitation: record_invitations.withdraw_record_invitation,
    on_call.GoOnDuty: on_call.go_on_duty,
    on_call.GoOffDuty: _pure(on_call.go_off_duty),
    on_call.RequestOnCall: on_call.request_on_call,
    on_call.AcceptRequest: on_call.accept_request,
    on_call.WithdrawRequest: on_call.withdraw_request,
    on_call.ExpireRequest: on_call.expire_request,
    on_call.EscalateConsultation: on_call.escalate_consultation,
    protocols.DraftProtocol: protocols.draft_protocol,
    protocols.ReviseProtocol: protocols.revise_protocol,
    protocols.SignProtocol: protocols.sign_protocol,
    protocols.AddAddendum: protocols.add_addendum,
    protocols.PublishRuleSet: protocols.publish_rule_set,
    labs.CreateMachineClient: labs.create_machine_client,
    labs.RevokeMachineClient: labs.revoke_machine_client,
    labs.IssueClientToken: labs.issue_client_token,
    labs.AddPartnerLab: _pure(labs.add_partner_lab),
    labs.RemovePartnerLab: _pure(labs.remove_partner_lab),
    labs.OrderLabTests: labs.order_lab_tests,
    labs.CancelLabOrder: labs.cancel_lab_order,
    labs.ReportLabResults: labs.report_lab_results,
    intake.SubmitComplaint: intake.submit_complaint,
    intake.AnswerIntakeForm: intake.answer_intake_form,
    intake.PublishIntakeForm: _pure(intake.publish_intake_form),
    consents.PublishConsentText: _pure(consents.publish_consent_text),
    consents.SignConsent: _pure(consents.sign_consent),
    consents.WithdrawSignedConsent: _pure(consents.withdraw_signed_consent),
    prescriptions.DispensePrescription: prescriptions.dispense_prescription,
    prescriptions.CancelPrescription: prescriptions.cancel_prescription,
    prescriptions.CompletePrescription: prescriptions.complete_prescription,
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
    def __init__(
        self,
        unit_of_work: Callable[[], IdempotentUnitOfWork],
        ports: Ports,
        *,
        retries: int = 6,
    ):
        self._unit_of_work, self._ports = unit_of_work, ports
        self._retries = retries

    def answer(self, command: Any, kind: type[S]) -> S:
        """``handle`` a command whose handler answers more than ``Saved`` (``SignedIn``...).
        Not for a replay by ``idempotency_key``: that answers the first ``Saved`` only."""
        saved = self.handle(command)
        if not isinstance(saved, kind):  # a replay after a crash: its answer (a token) is lost
            raise IdempotencyConflict(
                "the first request under this key was applied, but its answer was lost; "
                "repeat it with a new key"
            )
        return saved

    def handle(self, command: Any, idempotency_key: str | None = None) -> Saved:
        handler = HANDLERS[type(command)]
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
                return handler(command, uow, self._ports)
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
    actor = fields.pop("actor", None)  # None: someone not signed in (signing up, in, ...)
    body = orjson.dumps(
        {"command": type(command).__name__, "fields": fields},
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return IdempotencyClaim(
        scope=str(actor["actor_id"]) if actor else "anonymous",
        key=key,
        request_hash=hashlib.sha256(body).digest(),
    )
